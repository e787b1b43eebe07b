"""The digest's chart: responses against target per agent, as a PNG (matplotlib, Agg)."""

from __future__ import annotations

import io
from typing import Any

from deskbridge.bot.digest import is_behind


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
            linewidths=2.5,
            color="#263238",
            zorder=3,
            label="target",
        )
    for bar, agent in zip(bars, agents, strict=True):
        value, target, due = agent["responses"], agent["target"], agent.get("expected_by_now")
        label = f"{value} / {target}" if target else f"{value} (no target today)"
        if due is not None and value < target:  # the shift still runs
            label += f" ({due} due by now)"
        axes.text(
            bar.get_width() + max([*targets, *responses, 1]) * 0.01,
            bar.get_y() + bar.get_height() / 2,
            label,
            va="center",
            fontsize=9,
        )
    axes.set_xlim(0, max([*targets, *responses, 1]) * 1.25)
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
    figure.tight_layout()
    # A long name narrows the plot, and a week's title then ran under the legend: the title
    # is raised above the legend's line instead.
    renderer = FigureCanvasAgg(figure).get_renderer()
    above = legend.get_window_extent(renderer)
    if heading.get_window_extent(renderer).overlaps(above):
        pad = above.height * 72 / figure.dpi + 6  # points, as the title's own pad (6)
        axes.set_title(title, loc="left", fontsize=11, pad=pad)
        figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
