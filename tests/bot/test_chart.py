"""The review's chart: its legend covers none of the bars' labels, whoever has the most."""

from __future__ import annotations

from typing import Any

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

from deskbridge.bot.chart import build_chart


def agent(name: str, responses: int, target: int, due: int | None = None) -> dict[str, Any]:
    return {"name": name, "responses": responses, "target": target, "expected_by_now": due}


def drawn(
    monkeypatch: pytest.MonkeyPatch,
    digest: dict[str, Any],
    title: str = "Responses against target, 2026-03-02",
) -> Figure:
    """The figure build_chart saves, kept as it was drawn."""
    figures: list[Figure] = []
    save = Figure.savefig

    def keep(self: Figure, *args: Any, **kwargs: Any) -> None:
        figures.append(self)
        save(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", keep)
    png = build_chart(digest, title)
    assert png.startswith(b"\x89PNG")
    (figure,) = figures
    return figure


@pytest.mark.parametrize(
    "agents",
    [
        # The last agent (the bottom bar) has the most: its label ends where the legend was.
        [agent("Lena Fischer", 0, 0), agent("Priya Raman", 4, 0), agent("Tom Okafor", 4, 0)],
        [agent("Lena Fischer", 12, 32, due=20), agent("Tom Okafor", 30, 28)],
        [agent("Priya Raman", 22, 32, due=25)],
    ],
)
def test_the_legend_covers_no_label(
    monkeypatch: pytest.MonkeyPatch, agents: list[dict[str, Any]]
) -> None:
    figure = drawn(monkeypatch, {"agents": agents})
    renderer = FigureCanvasAgg(figure).get_renderer()
    (axes,) = figure.axes
    legend = axes.get_legend().get_window_extent(renderer)
    labels = [text for text in axes.texts if text.get_text()]
    assert len(labels) == len(agents)
    for text in labels:
        box = text.get_window_extent(renderer)
        assert not box.overlaps(legend), text.get_text()


def test_no_target_marker_in_the_legend_when_nobody_has_a_target(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    figure = drawn(monkeypatch, {"agents": [agent("Tom Okafor", 3, 0)]})
    (axes,) = figure.axes
    names = [text.get_text() for text in axes.get_legend().get_texts()]
    assert names == ["responses"]


def test_the_legend_and_the_title_share_the_top_line_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    figure = drawn(monkeypatch, {"agents": [agent("Tom Okafor", 30, 28)]})
    renderer = FigureCanvasAgg(figure).get_renderer()
    (axes,) = figure.axes
    legend = axes.get_legend().get_window_extent(renderer)
    title = axes._left_title.get_window_extent(renderer)
    assert not title.overlaps(legend)


@pytest.mark.parametrize(
    "title",
    [
        "Responses against target, week of Mon 30 Nov 2026",
        "Responses against target, Wed 02 Dec 2026",
    ],
)
def test_a_long_name_does_not_put_the_legend_over_the_title(
    monkeypatch: pytest.MonkeyPatch, title: str
) -> None:
    """A long name narrows the plot: the review's title (a week's the longer) ran under the
    legend's target marker."""
    agents = [agent("María Fernanda González Rodríguez", 30, 28), agent("Tom Okafor", 3, 0)]
    figure = drawn(monkeypatch, {"agents": agents}, title)
    renderer = FigureCanvasAgg(figure).get_renderer()
    (axes,) = figure.axes
    legend = axes.get_legend().get_window_extent(renderer)
    assert axes._left_title.get_text() == title
    assert not axes._left_title.get_window_extent(renderer).overlaps(legend)


def tick_boxes(figure: Figure) -> list[Bbox]:
    """Each target tick as drawn: a vertical line `sqrt(s)` points tall and its line width
    wide, centred on its offset."""
    (axes,) = figure.axes
    (ticks,) = axes.collections
    (size,), (width,) = ticks.get_sizes(), ticks.get_linewidths()
    half_width, half_height = (width / 2 * figure.dpi / 72, size**0.5 / 2 * figure.dpi / 72)
    return [
        Bbox.from_extents(x - half_width, y - half_height, x + half_width, y + half_height)
        for x, y in axes.transData.transform(ticks.get_offsets())
    ]


@pytest.mark.parametrize(
    "agents",
    [
        [agent("Lena Fischer", 12, 32, due=20), agent("Tom Okafor", 30, 28)],
        # A week's targets, nobody started yet: the longest labels from the shortest bars.
        [agent("Priya Raman", 0, 160, due=158), agent("Tom Okafor", 3, 140, due=139)],
        [agent("María Fernanda González Rodríguez", 1, 1000, due=999), agent("Sam", 2000, 32)],
        [agent("Lena Fischer", 4, 0), agent("Tom Okafor", 31, 32, due=32)],
    ],
)
def test_a_label_is_drawn_clear_of_the_target_ticks_and_inside_the_image(
    monkeypatch: pytest.MonkeyPatch, agents: list[dict[str, Any]]
) -> None:
    """A label started at its bar's end, so a bar short of its target had its "(N due by
    now)" label run over the target's tick."""
    figure = drawn(monkeypatch, {"agents": agents})
    renderer = FigureCanvasAgg(figure).get_renderer()
    (axes,) = figure.axes
    labels = [text.get_window_extent(renderer) for text in axes.texts if text.get_text()]
    bars = [bar.get_window_extent(renderer) for bar in axes.patches]
    plot = axes.get_window_extent(renderer)
    assert len(labels) == len(bars) == len(agents)
    for label, bar in zip(labels, bars, strict=True):
        assert not any(label.overlaps(tick) for tick in tick_boxes(figure)), label
        assert bar.x1 < label.x0 and plot.x0 < label.x0 and label.x1 <= plot.x1, (label, plot)


def test_a_label_that_ends_before_the_tick_stays_at_its_bar(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Only a label that would reach the tick goes past it: a short one is read with its bar."""
    agents = [agent("Olu Adeyemi", 4, 32), agent("Lena Fischer", 25, 32, due=30)]
    figure = drawn(monkeypatch, {"agents": agents})
    renderer = FigureCanvasAgg(figure).get_renderer()
    (axes,) = figure.axes
    labels = [text.get_window_extent(renderer) for text in axes.texts]
    bars = [bar.get_window_extent(renderer) for bar in axes.patches]
    tick = tick_boxes(figure)[0]  # Lena's: the rows are drawn bottom up
    gap = 4 * figure.dpi / 72
    assert [label.x0 for label in labels] == [
        pytest.approx((tick.x0 + tick.x1) / 2 + gap, abs=0.5),  # past the tick
        pytest.approx(bars[1].x1 + gap, abs=0.5),  # at the bar
    ]
