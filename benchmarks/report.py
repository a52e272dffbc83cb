"""Tables and targets from a results document (the JSON a run writes).

Every cell is a median over the repetitions; beside it, the ratio ``implementation /
trio_reactive``.  Whether a ratio above 1 is good depends on the metric (the column ``better``):
more messages per second is better, more microseconds or kilobytes is worse.  The targets section
states each goal as trio_reactive against one peer, in the direction the goal is written.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable
from typing import Any

import attrs

__all__ = ["TARGETS", "Target", "evaluate_targets", "format_value", "markdown", "print_report"]

NA = "n/a"


def format_value(value: float | None, metric: str) -> str:
    """Compact, unit-aware: 1.23M, 456k, 87.5, 2,679."""
    if value is None or math.isnan(value):
        return NA
    if metric in ("msgs_per_s", "rt_per_s"):
        if value >= 1e6:
            return f"{value / 1e6:.2f}M"
        if value >= 1e4:
            return f"{value / 1e3:.0f}k"
        return f"{value / 1e3:.1f}k"
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 100:
        return f"{value:.0f}"
    return f"{value:.1f}"


def _format_ratio(value: float | None, reference: float | None) -> str:
    if value is None or reference is None or reference == 0:
        return ""
    return f"{value / reference:.2f}x"


@attrs.frozen
class Row:
    scenario: str
    title: str
    codec: str
    metric: str
    label: str
    better: str
    medians: dict[str, float | None]


def rows(results: dict[str, Any]) -> list[Row]:
    """Table rows in run order: one per (scenario, codec, metric)."""
    grouped: dict[tuple[str, str, str], Row] = {}
    for m in results["measurements"]:
        key = (m["scenario"], m["codec"], m["metric"])
        if key not in grouped:
            grouped[key] = Row(m["scenario"], m["title"], m["codec"], m["metric"], m["label"],
                               m["better"], {})
        grouped[key].medians[m["implementation"]] = m["median"]
    # Group a scenario's codecs together, metrics in their declared order.
    order = {k: i for i, k in enumerate(grouped)}
    return sorted(grouped.values(), key=lambda r: (
        min(order[k] for k in grouped if k[0] == r.scenario),
        results["codecs"].index(r.codec) if r.codec in results["codecs"] else 0,
        order[(r.scenario, r.codec, r.metric)],
    ))


def _columns(results: dict[str, Any]) -> list[str]:
    return [i["name"] for i in results["implementations"]]


def _cells(results: dict[str, Any], row: Row) -> list[str]:
    reference = row.medians.get(results["reference"])
    unavailable = {i["name"] for i in results["implementations"] if i["unavailable"]}
    cells = []
    for name in _columns(results):
        if name in unavailable:
            cells.append(NA)
            continue
        value = row.medians.get(name)
        text = format_value(value, row.metric)
        if name != results["reference"] and text != NA:
            ratio = _format_ratio(value, reference)
            text = f"{text} ({ratio})" if ratio else text
        cells.append(text)
    return cells


def _arrow(better: str) -> str:
    return "↑" if better == "higher" else "↓"


def markdown(results: dict[str, Any]) -> str:
    """The results table (and targets) as GitHub markdown, for the README."""
    header = ["scenario", "codec", "metric", *_columns(results)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows(results):
        lines.append("| " + " | ".join(
            [row.title, row.codec, f"{row.label} {_arrow(row.better)}", *_cells(results, row)]
        ) + " |")
    lines += ["", "| target | codec | trio_reactive | against | value | goal | met |",
              "|---|---|---|---|---|---|---|"]
    for t in evaluate_targets(results):
        lines.append(
            f"| {t['target']} | {t['codec']} | {t['value_text']} | {t['against']} | "
            f"{t['measured']} | {t['goal']} | {t['met']} |"
        )
    return "\n".join(lines)


def print_report(results: dict[str, Any], file: Any = None) -> None:
    """The table on the terminal: rich if installed, plain text otherwise."""
    file = file or sys.stdout
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print(markdown(results), file=file)
        return
    console = Console(file=file, width=max(160, Console(file=file).width))
    table = Table(title=f"medians of {results['repetitions']} runs; (x) = ratio to "
                        f"{results['reference']}; ↑ higher is better, ↓ lower is better")
    for name in ["scenario", "codec", "metric", *_columns(results)]:
        table.add_column(name, justify="left" if name in ("scenario", "codec", "metric")
                         else "right")
    previous = None
    for row in rows(results):
        title = row.title if row.scenario != previous else ""
        previous = row.scenario
        table.add_row(title, row.codec, f"{row.label} {_arrow(row.better)}",
                      *_cells(results, row))
    console.print(table)
    targets = Table(title="targets")
    for name in ("target", "codec", "trio_reactive", "against", "value", "goal", "met"):
        targets.add_column(name)
    for t in evaluate_targets(results):
        targets.add_row(t["target"], t["codec"], t["value_text"], t["against"], t["measured"],
                        t["goal"], t["met"])
    console.print(targets)
    if results["errors"]:
        console.print(f"[red]{len(results['errors'])} measurement(s) failed:[/red]")
        for error in results["errors"][:20]:
            console.print(f"  {error['scenario']} {error['codec']} {error['implementation']}: "
                          f"{error['error'][:300]}")


@attrs.frozen
class Target:
    """A goal for trio_reactive: a ratio against a peer (or an absolute bound) on one metric.

    ``against=None`` makes ``bound`` absolute.  ``at_least`` says which side of the bound is good.
    """

    name: str
    scenario: str
    metric: str
    against: str | None
    bound: float
    at_least: bool
    codecs: tuple[str, ...] | None = None
    strict: bool = False


TARGETS: tuple[Target, ...] = (
    Target("flood ≥ 0.8x bare trio", "flood", "msgs_per_s", "trio", 0.8, True),
    Target("flood ahead of asyncio streams", "flood", "msgs_per_s", "asyncio", 1.0, True,
           strict=True),
    Target("echo ≥ 0.8x bare trio", "echo", "msgs_per_s", "trio", 0.8, True),
    Target("echo ahead of asyncio streams", "echo", "msgs_per_s", "asyncio", 1.0, True,
           strict=True),
    Target("ping-pong ≥ 0.9x bare trio", "pingpong", "rt_per_s", "trio", 0.9, True),
    Target("ping-pong p99 ≤ 1.2x bare trio", "pingpong", "p99_us", "trio", 1.2, False),
    Target("1,000 connections ≥ 0.8x bare trio", "many-1000", "msgs_per_s", "trio", 0.8, True),
    Target("idle memory ≤ 1.2x bare trio, same layout", "idle", "rss_per_connection_kb",
           "trio-3task", 1.2, False),
    Target("fixed flood ≥ 1M msgs/s", "flood", "msgs_per_s", None, 1e6, True, ("fixed",)),
    Target("fixed echo ≥ 500k msgs/s", "echo", "msgs_per_s", None, 5e5, True, ("fixed",)),
    Target("RSS per idle connection ≤ 24 KB", "idle", "rss_per_connection_kb", None, 24, False),
    # The shared poller's goals: many connections as fast as uvloop, as little CPU as asyncio.
    Target("100 connections ≥ 1.0x uvloop", "many-100", "msgs_per_s", "uvloop", 1.0, True),
    Target("1,000 connections ≥ 1.0x uvloop", "many-1000", "msgs_per_s", "uvloop", 1.0, True),
    Target("many connections ahead of asyncio streams", "many", "msgs_per_s", "asyncio", 1.0,
           True, strict=True),
    Target("many connections ahead of pyzmq", "many", "msgs_per_s", "zmq", 1.0, True,
           strict=True),
    Target("server CPU per message ≤ asyncio streams", "cpu", "cpu_us_per_msg", "asyncio", 1.0,
           False),
    Target("ping-pong ≥ asyncio streams", "pingpong", "rt_per_s", "asyncio", 1.0, True),
    Target("flood ≥ bare trio", "flood", "msgs_per_s", "trio", 1.0, True),
    Target("echo ≥ bare trio", "echo", "msgs_per_s", "trio", 1.0, True),
    Target("RSS per idle connection ≤ 12 KB", "idle", "rss_per_connection_kb", None, 12, False),
)


def _matching(results: dict[str, Any], target: Target) -> Iterable[tuple[str, str]]:
    """(scenario, codec) pairs a target applies to; ``idle`` matches every idle size."""
    seen = []
    for m in results["measurements"]:
        scenario = m["scenario"]
        if not (scenario == target.scenario or scenario.startswith(target.scenario + "-")):
            continue
        if target.codecs is not None and m["codec"] not in target.codecs:
            continue
        if m["metric"] == target.metric and (scenario, m["codec"]) not in seen:
            seen.append((scenario, m["codec"]))
    return seen


def evaluate_targets(results: dict[str, Any]) -> list[dict[str, str]]:
    """Each target on each (scenario, codec) it applies to, with the measured value."""
    medians = {(m["scenario"], m["codec"], m["implementation"], m["metric"]): m["median"]
               for m in results["measurements"]}
    reference = results["reference"]
    out = []
    for target in TARGETS:
        for scenario, codec in _matching(results, target):
            ours = medians.get((scenario, codec, reference, target.metric))
            if target.against is None:
                theirs, measured = None, ours
            else:
                theirs = medians.get((scenario, codec, target.against, target.metric))
                measured = None if ours is None or not theirs else ours / theirs
            if measured is None:
                met = NA
            elif target.at_least:
                met = "yes" if (measured > target.bound if target.strict
                                else measured >= target.bound) else "NO"
            else:
                met = "yes" if measured <= target.bound else "NO"
            name = target.name if scenario == target.scenario else f"{target.name} ({scenario})"
            against = target.against or "absolute"
            if target.against is not None:
                value = "n/a" if measured is None else f"{measured:.2f}x"
                goal = f"{'>' if target.strict else '≥' if target.at_least else '≤'} " \
                       f"{target.bound:g}x"
            else:
                value = format_value(measured, target.metric)
                bound = format_value(target.bound, target.metric)
                goal = f"{'≥' if target.at_least else '≤'} {bound}"
            out.append({
                "target": name, "codec": codec,
                "value_text": format_value(ours, target.metric),
                "against": against if theirs is None else
                f"{against} {format_value(theirs, target.metric)}",
                "measured": value, "goal": goal, "met": met,
            })
    return out
