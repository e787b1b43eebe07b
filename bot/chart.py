"""The digest's chart: responses against target per agent, as a PNG (matplotlib, Agg)."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from deskbridge.bot.digest import is_behind

if TYPE_CHECKING:  # matplotlib is imported when a chart is drawn, not with the bot
    from matplotlib.axes import Axes
    from matplotlib.backend_bases import RendererBase
    from matplotlib.figure import Figure
    from matplotlib.text import Annotation


def build_chart(digest: dict[str, Any], title: str) -> bytes:
    """A horizontal bar per agent (responses), with a tick for their target; agents at or
    above target in green, below in amber. Returns PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")  # no display: servers and tests render to memory
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    agents = list(reversed(digest["agents"]))  # first agent at the top
    names = [a["name"] for a in agents]
    responses = [a["responses"] for a in agents]
    targets = [a["target"] for a in agents]
    height = max(2.5, 0.42 * len(agents) + 1.4)
    figure = Figure(figsize=(8, height), dpi=110)
    axes = figure.subplots()
    # Met, or on pace while the shift runs: green; behind: amber; no target (not a working
    # day for them): grey.
    colours = [
        "#90a4ae" if a["target"] == 0 else ("#f0a202" if is_behind(a) else "#2e7d32")
        for a in agents
    ]
    bars = axes.barh(names, responses, color=colours, height=0.6, label="responses")
    with_target = [(t, n) for t, n in zip(targets, names, strict=True) if t > 0]
    if with_target:  # else no "target" in the legend: there is none to see
        axes.scatter(
            [t for t, _ in with_target],
            [n for _, n in with_target],
            marker="|",
            s=400,
            linewidths=TICK_WIDTH_PT,
            color="#263238",
            zorder=3,
            label="target",
        )
    labels = []
    for bar, agent in zip(bars, agents, strict=True):
        value, target, due = agent["responses"], agent["target"], agent.get("expected_by_now")
        label = f"{value} / {target}" if target else f"{value} (no target today)"
        if due is not None and value < target:  # the shift still runs
            label += f" ({due} due by now)"
        labels.append(
            axes.annotate(
                label,
                (value, bar.get_y() + bar.get_height() / 2),
                xytext=(LABEL_GAP_PT, 0),
                textcoords="offset points",
                va="center",
                fontsize=9,
            )
        )
    axes.set_xlabel("written responses")
    heading = axes.set_title(title, loc="left", fontsize=11)
    axes.spines[["top", "right"]].set_visible(False)
    # Above the plot, right of the title: inside it, the legend covered the label of a bottom
    # bar that ran to the right (the agent with the most replies listed last).
    legend = axes.legend(
        loc="lower right",
        bbox_to_anchor=(1, 1),
        ncols=2,
        frameon=False,
        fontsize=8,
        borderaxespad=0,
    )
    renderer = FigureCanvasAgg(figure).get_renderer()
    _fit_labels(figure, axes, labels, targets, max([*targets, *responses, 1]) * 1.25, renderer)
    # A long name narrows the plot, and a week's title then ran under the legend: the title
    # is raised above the legend's line instead.
    above = legend.get_window_extent(renderer)
    if heading.get_window_extent(renderer).overlaps(above):
        pad = above.height * 72 / figure.dpi + 6  # points, as the title's own pad (6)
        axes.set_title(title, loc="left", fontsize=11, pad=pad)
        figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


# The target tick's line width, and the room between a bar's end (or a tick) and its label.
TICK_WIDTH_PT = 2.5
LABEL_GAP_PT = 4


def _fit_labels(
    figure: Figure,
    axes: Axes,
    labels: list[Annotation],
    targets: list[int],
    least: float,
    renderer: RendererBase,
) -> None:
    """Lays the figure out with each label clear of its row's target tick and ending inside
    the plot, the x axis at least `least` long. A label goes at its bar's end, or past the
    tick when it would reach it there: a long one from a bar short of its target ("12 / 32
    (20 due by now)") ran over the tick. A label moved past it needs a longer axis, which
    brings the ticks nearer the bars: looked at again until nothing moves."""
    axes.set_xlim(0, least)
    px = figure.dpi / 72
    for _ in range(len(labels) + 3):  # labels only move right and the axis only grows
        figure.tight_layout()
        moved = False
        for label, target in zip(labels, targets, strict=True):
            value, row = label.xy
            tick = axes.transData.transform((target, row))[0] - TICK_WIDTH_PT / 2 * px
            if value < target and label.get_window_extent(renderer).x1 + LABEL_GAP_PT * px > tick:
                label.xy = (target, row)
                moved = True
        plot = axes.get_window_extent(renderer)
        needed = axes.get_xlim()[1]
        for label in labels:
            room = plot.width - LABEL_GAP_PT * px - label.get_window_extent(renderer).width
            if label.xy[0] > 0 and room > 0:
                needed = max(needed, label.xy[0] * plot.width / room)
        if not moved and needed <= axes.get_xlim()[1]:
            return
        axes.set_xlim(0, needed)
