"""What is measured, and how long for, in each mode.

A scenario is a load-generator job plus the metrics its result carries; a mode says how many
messages, seconds and connections each scenario gets and how many times it is repeated.  The
sizes are chosen so that a measurement lasts about 0.3 s (quick) or 1-2 s (full) at the rates
seen on a 2-core machine, and ``smoke`` is just long enough to prove that everything still runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import attrs

__all__ = ["MODES", "Metric", "Mode", "Scenario", "idle_scenarios", "load_scenarios"]

Better = Literal["higher", "lower"]


@attrs.frozen
class Metric:
    key: str
    label: str
    better: Better


@attrs.frozen
class Mode:
    name: str
    warmup: int
    repetitions: int
    #: Messages per flood / echo measurement, by codec.
    flood: dict[str, int]
    echo: dict[str, int]
    pingpong_seconds: float
    many_seconds: float
    many_connections: tuple[int, ...]
    paced_seconds: float
    paced_rate: float
    idle_connections: tuple[int, ...]
    #: Connections opened and closed on a fresh server before its baseline RSS is read.
    idle_warm_connections: int


MODES: dict[str, Mode] = {
    "smoke": Mode(
        "smoke", warmup=0, repetitions=1,
        flood={"textual": 3_000, "fixed": 6_000, "variable": 6_000},
        echo={"textual": 2_000, "fixed": 4_000, "variable": 4_000},
        pingpong_seconds=0.05, many_seconds=0.05, many_connections=(10,),
        paced_seconds=0.05, paced_rate=1000,
        idle_connections=(20,), idle_warm_connections=5,
    ),
    "quick": Mode(
        "quick", warmup=1, repetitions=3,
        flood={"textual": 60_000, "fixed": 250_000, "variable": 200_000},
        echo={"textual": 40_000, "fixed": 150_000, "variable": 100_000},
        pingpong_seconds=0.25, many_seconds=0.3, many_connections=(100, 1000),
        paced_seconds=0.5, paced_rate=1000,
        idle_connections=(1000, 10_000), idle_warm_connections=50,
    ),
    "full": Mode(
        "full", warmup=1, repetitions=5,
        flood={"textual": 200_000, "fixed": 800_000, "variable": 600_000},
        echo={"textual": 150_000, "fixed": 500_000, "variable": 400_000},
        pingpong_seconds=1.0, many_seconds=1.0, many_connections=(100, 1000),
        paced_seconds=2.0, paced_rate=1000,
        idle_connections=(1000, 10_000), idle_warm_connections=50,
    ),
}


@attrs.frozen
class Scenario:
    """One row group of the table: a job, its parameters for a mode and codec, its metrics."""

    key: str
    title: str
    job: str
    metrics: tuple[Metric, ...]
    parameters: Callable[[Mode, str], dict[str, Any]]


MSGS = Metric("msgs_per_s", "msgs/s", "higher")
P50 = Metric("p50_us", "p50 µs", "lower")
P99 = Metric("p99_us", "p99 µs", "lower")
RSS = Metric("rss_per_connection_kb", "KB RSS per connection", "lower")


def load_scenarios(mode: Mode) -> list[Scenario]:
    """The scenarios driven through the load generator, in the order they run."""
    scenarios = [
        Scenario(
            "flood", "one-way flood, 1 connection", "flood", (MSGS,),
            lambda m, codec: {"count": m.flood[codec]},
        ),
        Scenario(
            "echo", "pipelined echo, 1 connection", "echo", (MSGS,),
            lambda m, codec: {"count": m.echo[codec]},
        ),
        Scenario(
            "pingpong", "ping-pong, 1 message in flight", "pingpong",
            (Metric("rt_per_s", "round trips/s", "higher"), P50, P99),
            lambda m, codec: {"duration": m.pingpong_seconds},
        ),
    ]
    for connections in mode.many_connections:
        scenarios.append(
            Scenario(
                f"many-{connections}", f"{connections:,} clients doing ping-pong", "many",
                (MSGS, P50, P99),
                lambda m, codec, n=connections: {"connections": n, "duration": m.many_seconds},
            )
        )
    scenarios.append(
        Scenario(
            "cpu", f"server CPU at {mode.paced_rate:,.0f} msgs/s (request/response)", "paced",
            (Metric("cpu_percent", "CPU %", "lower"),
             Metric("cpu_us_per_msg", "CPU µs per message", "lower")),
            lambda m, codec: {"rate": m.paced_rate, "duration": m.paced_seconds},
        )
    )
    return scenarios


def idle_scenarios(mode: Mode) -> list[Scenario]:
    """Idle memory: measured by the harness around a ``hold`` job, one fresh server each."""
    return [
        Scenario(
            f"idle-{count}", f"{count:,} idle connections", "hold", (RSS,),
            lambda m, codec, n=count: {"connections": n},
        )
        for count in mode.idle_connections
    ]
