"""``python -m benchmarks.chart RESULTS.json out.png``: the ratios of a run, as a chart.

One panel per metric direction.  Each bar is a peer's median divided by trio_reactive's median for
one scenario and codec (the headline metric of each scenario), on a log scale centred on 1, so
"twice as fast" and "half as fast" are the same distance from the line.  Bars to the right of 1
in the left panel (higher is better) and to the left of 1 in the right panel (lower is better)
are where the peer beats trio_reactive.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

from .report import rows

__all__ = ["main", "render"]

#: The metric plotted for each scenario: its first, except for ping-pong latency.
HEADLINE = {"msgs_per_s", "rt_per_s", "p99_us", "cpu_us_per_msg", "rss_per_connection_kb"}


def render(results: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    reference = results["reference"]
    peers = [i["name"] for i in results["implementations"]
             if i["name"] != reference and not i["unavailable"]]
    panels = {"higher": [r for r in rows(results) if r.metric in HEADLINE and
                         r.better == "higher"],
              "lower": [r for r in rows(results) if r.metric in HEADLINE and
                        r.better == "lower"]}
    height = max(len(p) for p in panels.values()) * 0.22 * len(peers) + 2
    figure, axes = plt.subplots(1, 2, figsize=(16, height))
    colours = plt.get_cmap("tab10")
    for axis, (better, panel) in zip(axes, panels.items(), strict=True):
        labels = [f"{r.title} · {r.codec} · {r.label}" for r in panel]
        slot = 1.0 / (len(peers) + 1)
        for index, peer in enumerate(peers):
            ys, widths = [], []
            for position, row in enumerate(panel):
                ours, theirs = row.medians.get(reference), row.medians.get(peer)
                if not ours or not theirs or math.isnan(ours) or math.isnan(theirs):
                    continue
                ys.append(position + index * slot)
                widths.append(theirs / ours)
            axis.barh(ys, [w - 1 for w in widths], left=1, height=slot, label=peer,
                      color=colours(index))
        axis.set_xscale("log")
        axis.xaxis.set_major_locator(FixedLocator([0.05, 0.1, 0.25, 0.5, 1, 2, 4, 10, 20]))
        axis.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}x"))
        axis.xaxis.set_minor_formatter(NullFormatter())
        axis.axvline(1, color="black", linewidth=1)
        axis.set_yticks([p + slot * (len(peers) - 1) / 2 for p in range(len(panel))], labels,
                        fontsize=7)
        axis.invert_yaxis()
        axis.set_xlabel(f"peer / {reference}  ({better} is better for the peer)")
        axis.grid(axis="x", which="both", alpha=0.3)
    axes[0].legend(loc="lower right", fontsize=8)
    machine = results["machine"]
    figure.suptitle(
        f"{results['mode']} run {results['started']}: medians of {results['repetitions']}; "
        f"{machine['cores']} cores, {machine['cpu_model']}, Python {machine['python']}, "
        f"trio {machine['trio']}",
        fontsize=10,
    )
    figure.tight_layout()
    figure.savefig(out, dpi=120)
    plt.close(figure)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    results_path, out = map(Path, argv)
    render(json.loads(results_path.read_text()), out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
