"""The PNG of `scripts/bench`: one panel per benchmark, from the results it writes as JSON.

1. GraphQL workloads: requests/s of bare, tutorial and graphql_api (log scale: the bare
   route answers some 100 times as fast), each graphql_api bar marked with its ratio to
   the tutorial server;
2. redirects: requests/s of bare, the hot link and 10,000 links, with the two ratios;
3. chat fan-out: messages delivered/s of bare and graphql_api per number of subscribers,
   marked with graphql_api / bare.
"""

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.axes import Axes

COLORS = {
    "bare": "#9e9e9e",
    "tutorial": "#f28e2b",
    "graphql_api": "#4e79a7",
    "hot": "#4e79a7",
    "spread": "#76b7b2",
}
BAR = 0.8


def bars(
    ax: Axes,
    groups: list[str],
    series: list[str],
    values: dict[str, list[float]],
    notes: dict[str, list[str]],
    labels: dict[str, str],
) -> None:
    """Horizontal bars: one group per entry of `groups` (top to bottom), one bar per series
    within it, each labelled with its value and, where `notes` has one, a note."""
    height = BAR / len(series)
    for s, name in enumerate(series):
        ys = [g + (s - (len(series) - 1) / 2) * height for g in range(len(groups))]
        ax.barh(ys, values[name], height * 0.9, color=COLORS[name], label=labels[name])
        for y, value, note in zip(ys, values[name], notes.get(name, [""] * len(ys)), strict=True):
            text = f" {value:,.0f}/s" + (f"  {note}" if note else "")
            weight = "bold" if note else "normal"
            ax.text(value, y, text, va="center", fontsize=8, fontweight=weight)
    ax.set_yticks(range(len(groups)), groups)
    ax.invert_yaxis()
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    ax.legend(loc="lower right", fontsize=8)


def headroom(ax: Axes, log: bool) -> None:
    """Room right of the longest bar for its label."""
    low, high = ax.get_xlim()
    ax.set_xlim(low if log else 0, high * (8 if log else 1.35))


def draw(results: dict[str, Any], path: Path) -> None:
    graphql, redirect, fanout = results["graphql"], results["redirect"], results["fanout"]
    sizes = list(fanout["summary"]["bare"])
    figure, (top, middle, bottom) = plt.subplots(
        3,
        1,
        figsize=(11, 13),
        gridspec_kw={"height_ratios": [len(graphql) * 3, 3.5, len(sizes) * 2 + 0.5]},
        layout="constrained",
    )
    machine = results["machine"]
    figure.suptitle(
        f"graphql_api benchmark, {machine['date'][:10]}: {machine['cpus']} CPUs, "
        f"Python {machine['python']}, {machine['database']}; one worker per server",
        fontsize=11,
    )

    servers = ["bare", "tutorial", "graphql_api"]
    workloads = list(graphql)
    bars(
        top,
        [graphql[w]["label"] for w in workloads],
        servers,
        {s: [graphql[w][s]["rps"] for w in workloads] for s in servers},
        {
            "graphql_api": [
                f"{graphql[w]['graphql_api']['rps'] / graphql[w]['tutorial']['rps']:.2f}x tutorial"
                for w in workloads
            ]
        },
        {"bare": "bare Starlette, fixed bytes", "tutorial": "tutorial Strawberry"}
        | {"graphql_api": "graphql_api"},
    )
    top.set_xscale("log")
    headroom(top, log=True)
    top.set_title("GraphQL over HTTP: requests/s (log scale)", loc="left", fontsize=10)

    cases = ["bare", "hot", "spread"]
    bars(
        middle,
        [f"wrk, {redirect['connections']} connections"],
        cases,
        {c: [redirect[c]["rps"]] for c in cases},
        {},
        {"bare": "bare Starlette", "hot": "one hot link", "spread": "10,000 links"},
    )
    headroom(middle, log=False)
    middle.set_title(
        f"Redirects: requests/s; hot / bare {redirect['hot_vs_bare']:.3f} (target 0.50), "
        f"hot / spread {redirect['hot_vs_spread']:.3f} (target 0.90)",
        loc="left",
        fontsize=10,
    )

    summary = fanout["summary"]
    bars(
        bottom,
        [f"{int(n):,} subscribers" for n in sizes],
        ["bare", "graphql_api"],
        {s: [summary[s][n]["per_s"] for n in sizes] for s in ("bare", "graphql_api")},
        {"graphql_api": [f"{fanout['ratios'][n]:.2f}x bare" for n in sizes]},
        {"bare": "bare WebSockets", "graphql_api": "graphql_api"},
    )
    bottom.set_xscale("log")
    headroom(bottom, log=True)
    bottom.set_title("Chat fan-out: messages delivered/s (log scale)", loc="left", fontsize=10)

    figure.savefig(path, dpi=110)
    plt.close(figure)
