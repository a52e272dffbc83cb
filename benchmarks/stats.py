"""Numbers: percentiles, medians, ratios, and what the OS says a server process costs.

CPU time is read from ``/proc/<pid>/task/*/schedstat`` where the kernel offers it: nanosecond
precision, summed over every thread (zmq's I/O thread included).  psutil's ``cpu_times`` counts in
clock ticks (10 ms), too coarse for a server that spends 30 ms per second at 1k msgs/s, so it is
only the fallback.
"""

from __future__ import annotations

import math
import os
import statistics
from collections.abc import Sequence

__all__ = [
    "cpu_seconds",
    "latency_summary",
    "median",
    "percentile",
    "raise_open_files_limit",
    "ratio",
    "rss_bytes",
]


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile of an already sorted sequence (nearest rank)."""
    if not ordered:
        return math.nan
    index = min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))
    return float(ordered[index])


def latency_summary(latencies_ns: list[int]) -> dict[str, float]:
    """p50 and p99 in microseconds."""
    ordered = sorted(latencies_ns)
    return {
        "p50_us": percentile(ordered, 0.50) / 1000,
        "p99_us": percentile(ordered, 0.99) / 1000,
    }


def median(samples: Sequence[float]) -> float:
    finite = [s for s in samples if s is not None and not math.isnan(s)]
    return statistics.median(finite) if finite else math.nan


def ratio(value: float, reference: float) -> float:
    """``value / reference``, NaN when either is missing."""
    if math.isnan(value) or math.isnan(reference) or reference == 0:
        return math.nan
    return value / reference


def cpu_seconds(pid: int) -> float:
    """CPU time used so far by every thread of ``pid`` (user + system)."""
    total = 0
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{task}/schedstat") as file:
                    total += int(file.read().split()[0])
            except FileNotFoundError:  # a thread that just ended
                continue
        return total / 1e9
    except OSError:
        pass
    import psutil

    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def rss_bytes(pid: int) -> int:
    """Resident set size of ``pid``."""
    try:
        with open(f"/proc/{pid}/statm") as file:
            return int(file.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import psutil

        return int(psutil.Process(pid).memory_info().rss)


def raise_open_files_limit() -> int:
    """Raise RLIMIT_NOFILE to the hard limit (10,000 connections need that many descriptors)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Windows
        return 0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft
