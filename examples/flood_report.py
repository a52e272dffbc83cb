"""The flood tool's results: medians over the runs, the CPU floor, a table, JSON and a plot.

Every step is kept in the JSON; the table and the plot show, per codec, server and rate, the
median of the ``--repeat`` runs.  With both servers, the floor is trio_reactive's median server
CPU over the blocking server's, per codec and rate: how many times the bare minimum it costs.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Sequence
from pathlib import Path

import attrs

from benchmarks.stats import median, ratio

from .flood_client import Step

__all__ = ["Floor", "Summary", "floors", "plot", "save_json", "show", "summarize"]

MAX = "max"


@attrs.frozen
class Summary:
    """One codec, server and rate over every run: medians, the largest memory, all losses."""

    codec: str
    server: str
    target: float | None
    runs: int
    wire_bytes: int
    rate: float
    server_cpu: float
    client_cpu: float
    server_rss: int
    client_rss: int
    p50_us: float
    p99_us: float
    lost: int  #: summed over the runs
    reordered: int


@attrs.frozen
class Floor:
    """trio_reactive's server CPU against the blocking server's, one codec at one rate."""

    codec: str
    target: float | None
    reactive_cpu: float  #: median % of one core
    blocking_cpu: float
    ratio: float  #: reactive / blocking


def summarize(steps: Sequence[Step]) -> list[Summary]:
    """Medians per (codec, server, rate), in the order each first ran."""
    groups: dict[tuple[str, str, float | None], list[Step]] = {}
    for step in steps:
        groups.setdefault((step.codec, step.server, step.target), []).append(step)
    return [
        Summary(
            codec=codec, server=server, target=target, runs=len(runs),
            wire_bytes=runs[0].wire_bytes,
            rate=median([s.rate for s in runs]),
            server_cpu=median([s.server_cpu for s in runs]),
            client_cpu=median([s.client_cpu for s in runs]),
            server_rss=max(s.server_rss for s in runs),
            client_rss=max(s.client_rss for s in runs),
            p50_us=median([s.p50_us for s in runs]),
            p99_us=median([s.p99_us for s in runs]),
            lost=sum(s.lost for s in runs),
            reordered=sum(s.reordered for s in runs),
        )
        for (codec, server, target), runs in groups.items()
    ]


def floors(summaries: Sequence[Summary]) -> list[Floor]:
    """Per codec and rate run against both servers, the ratio of their median server CPU."""
    blocking = {(s.codec, s.target): s.server_cpu for s in summaries if s.server == "blocking"}
    return [
        Floor(s.codec, s.target, s.server_cpu, blocking[s.codec, s.target],
              ratio(s.server_cpu, blocking[s.codec, s.target]))
        for s in summaries
        if s.server == "reactive" and (s.codec, s.target) in blocking
    ]


def _label(target: float | None) -> str:
    return MAX if target is None else f"{target:g}"


def show(summaries: Sequence[Summary], size: int, seconds: float) -> None:
    """The figures as a table that fits 80 columns, then the floor if both servers ran."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    def table(headers: list[str]) -> Table:
        grid = Table(box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 0, 0, 0),
                     pad_edge=False)
        for header in headers:
            left = header in ("codec", "server")
            grid.add_column(header, justify="left" if left else "right", no_wrap=True)
        return grid

    figures = table(["codec", "server", "target\nmsg/s", "achieved\nmsg/s", "server\nCPU %",
                     "client\nCPU %", "RSS MiB\nsrv/cli", "p50\nms", "p99\nms",
                     "lost/\nreord."])
    for s in summaries:
        figures.add_row(
            s.codec, s.server, _label(s.target), f"{s.rate:,.0f}", f"{s.server_cpu:.2f}",
            f"{s.client_cpu:.2f}", f"{s.server_rss / 2**20:.0f}/{s.client_rss / 2**20:.0f}",
            f"{s.p50_us / 1000:.2f}", f"{s.p99_us / 1000:.2f}", f"{s.lost}/{s.reordered}",
            style=None if s.lost == s.reordered == 0 else "bold red",
        )
    runs = max((s.runs for s in summaries), default=1)
    console = Console()
    console.print(f"[bold]flood[/]: {size}-byte payload, {seconds:g} s per rate"
                  + (f", median of {runs} runs" if runs > 1 else "")
                  + "; one process each")
    console.print(figures)
    wire = {s.codec: s.wire_bytes for s in summaries}
    console.print("CPU: % of one core.  Latency: from send to acknowledgement.", highlight=False)
    console.print("Bytes per message on the wire: "
                  + ", ".join(f"{codec} {size}" for codec, size in wire.items()), highlight=False)
    floor = floors(summaries)
    if floor:
        ratios = table(["codec", "target\nmsg/s", "reactive\nCPU %", "blocking\nCPU %",
                        "reactive/\nblocking"])
        for f in floor:
            ratios.add_row(f.codec, _label(f.target), f"{f.reactive_cpu:.2f}",
                           f"{f.blocking_cpu:.2f}", f"{f.ratio:.2f}x")
        console.print()
        console.print("[bold]CPU floor[/]: trio_reactive's server CPU over a blocking-socket "
                      "server's")
        console.print(ratios)


def save_json(steps: Sequence[Step], path: Path, argv: Sequence[str]) -> None:
    """Every step, the medians, and the floor, with what ran where."""
    summaries = summarize(steps)
    document = {
        "command": " ".join(["python -m examples.flood", *argv]),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "steps": [attrs.asdict(step) for step in steps],
        "summary": [attrs.asdict(summary) for summary in summaries],
        "floor": [attrs.asdict(floor) for floor in floors(summaries)],
    }
    path.write_text(json.dumps(document, indent=2) + "\n")


def plot(summaries: Sequence[Summary], path: Path) -> None:
    """CPU and latency against the achieved rate, one colour per codec and server."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (cpu, latency) = plt.subplots(1, 2, figsize=(12, 4.8), layout="constrained")
    for codec, server in dict.fromkeys((s.codec, s.server) for s in summaries):
        rows = [s for s in summaries if (s.codec, s.server) == (codec, server)]
        name = codec if server == "reactive" else f"{codec}, {server}"
        rates = [s.rate for s in rows]  # in sweep order: 'max' comes last
        (line,) = cpu.plot(rates, [s.server_cpu for s in rows], "o-", label=f"{name} server")
        colour = line.get_color()
        cpu.plot(rates, [s.client_cpu for s in rows], "s--", color=colour, label=f"{name} client")
        latency.plot(rates, [s.p50_us / 1000 for s in rows], "o-", color=colour,
                     label=f"{name} p50")
        latency.plot(rates, [s.p99_us / 1000 for s in rows], "^:", color=colour,
                     label=f"{name} p99")
        for s in rows:
            if s.target is None:
                cpu.annotate(MAX, (s.rate, s.server_cpu), textcoords="offset points",
                             xytext=(4, -10), fontsize="small", color=colour)
    cpu.set(xscale="log", xlabel="achieved messages/s", ylabel="CPU, % of one core",
            title="CPU per process")
    latency.set(xscale="log", yscale="log", xlabel="achieved messages/s",
                ylabel="round trip, ms", title="Latency (send to acknowledgement)")
    for axes in (cpu, latency):
        axes.grid(True, which="both", alpha=0.3)
        axes.legend(fontsize="small")
    figure.savefig(path, dpi=120)
    plt.close(figure)
