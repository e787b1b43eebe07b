"""The review's chart: its legend covers none of the bars' labels, whoever has the most."""

from __future__ import annotations

from typing import Any

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

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
