"""Runs a whole benchmark: every scenario, codec and implementation, interleaved.

For one codec, every server is started at once and stays up while each scenario runs in rounds:
round ``r`` measures every implementation in turn, so slow drifts of the machine (other work,
thermal state) spread over all of them instead of landing on one.  Each round starts one place
further along (A B C, B C A, C A B, ...), so that no implementation always follows the same one,
and each measurement waits until every server has gone quiet, so that none pays for the one
before it tearing down its connections.  The first ``warmup`` rounds are thrown away.  Idle
memory needs a fresh process per measurement, so it runs afterwards, interleaved the same way.
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from importlib import metadata
from typing import Any

from .harness import ROOT, LoadWorker, ServerProcess, WorkerError, start_servers
from .peers import IMPLEMENTATIONS, by_name, missing_dependency
from .scenarios import Mode, Scenario, idle_scenarios, load_scenarios
from .stats import cpu_seconds, median, rss_bytes

__all__ = ["REFERENCE", "machine_info", "run"]

#: Every ratio in the report is relative to this implementation.
REFERENCE = "trio_reactive"
#: Idle connections one load-generator process holds (zmq spends 2 descriptors per DEALER).
HOLD_PER_WORKER = 2500
#: Time for a server to finish setting up connections, or tearing them down, before RSS is read.
SETTLE_SECONDS = 0.3
#: A server is quiet when it uses less than this share of a core over ``QUIET_WINDOW`` seconds.
QUIET_SHARE = 0.02
QUIET_WINDOW = 0.05
#: Longest wait for quiet; a server still busy after that is measured anyway.
QUIET_TIMEOUT = 3.0

Progress = Callable[[str], None]


class Recorder:
    """Samples by (scenario, codec, implementation, metric), and what went wrong."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, str, str], list[float]] = {}
        self.scenarios: dict[str, Scenario] = {}
        self.errors: list[dict[str, str]] = []

    def add(self, scenario: Scenario, codec: str, implementation: str,
            result: dict[str, Any]) -> None:
        self.scenarios[scenario.key] = scenario
        for metric in scenario.metrics:
            key = (scenario.key, codec, implementation, metric.key)
            self.rows.setdefault(key, []).append(float(result[metric.key]))

    def fail(self, scenario: Scenario, codec: str, implementation: str, message: str) -> None:
        self.scenarios[scenario.key] = scenario
        for metric in scenario.metrics:
            self.rows.setdefault((scenario.key, codec, implementation, metric.key), [])
        self.errors.append({"scenario": scenario.key, "codec": codec,
                            "implementation": implementation, "error": message})

    def measurements(self) -> list[dict[str, Any]]:
        out = []
        for (scenario_key, codec, implementation, metric_key), samples in self.rows.items():
            scenario = self.scenarios[scenario_key]
            metric = next(m for m in scenario.metrics if m.key == metric_key)
            value = median(samples)
            out.append({
                "scenario": scenario_key,
                "title": scenario.title,
                "codec": codec,
                "implementation": implementation,
                "metric": metric.key,
                "label": metric.label,
                "better": metric.better,
                "samples": samples,
                "median": None if math.isnan(value) else value,
            })
        return out


def _load_phase(mode: Mode, *, implementations: list[str], codecs: list[str],
                wanted: Callable[[str], bool], recorder: Recorder, progress: Progress) -> None:
    scenarios = [s for s in load_scenarios(mode) if wanted(s.key)]
    if not scenarios:
        return
    worker = LoadWorker()
    try:
        for codec in codecs:
            servers = start_servers(implementations, codec)
            try:
                for scenario in scenarios:
                    worker = _interleave(mode, scenario, codec, servers=servers,
                                         worker=worker, recorder=recorder, progress=progress)
            finally:
                for server in servers.values():
                    if isinstance(server, ServerProcess):
                        server.stop()
    finally:
        worker.close()


def _interleave(mode: Mode, scenario: Scenario, codec: str, *,
                servers: dict[str, ServerProcess | str], worker: LoadWorker,
                recorder: Recorder, progress: Progress) -> LoadWorker:
    """Rounds of A, B, C, ...; returns the worker (a new one if the old one died)."""
    rounds = mode.warmup + mode.repetitions
    failed: set[str] = set()
    pids = [server.pid for server in servers.values() if isinstance(server, ServerProcess)]
    for round_index in range(rounds):
        for name in rotated(list(servers), round_index):
            server = servers[name]
            if name in failed:
                continue
            if isinstance(server, str):
                recorder.fail(scenario, codec, name, server)
                failed.add(name)
                continue
            if not server.alive:
                message = f"server died: {server.stderr_tail()}"
                recorder.fail(scenario, codec, name, message)
                failed.add(name)
                servers[name] = message
                continue
            job = {"job": scenario.job, "address": server.address, "codec": codec,
                   **scenario.parameters(mode, codec)}
            if scenario.job == "paced":
                job["server_pid"] = server.pid
            wait_until_quiet(pids)
            try:
                result = worker.run(job)
            except WorkerError as exc:
                recorder.fail(scenario, codec, name, str(exc))
                failed.add(name)
                progress(f"  {scenario.key:<10} {codec:<8} {name:<14} FAILED: {exc}")
                if not worker.alive:
                    worker = LoadWorker()
                continue
            warm = round_index < mode.warmup
            if not warm:
                recorder.add(scenario, codec, name, result)
            first = scenario.metrics[0]
            count = "warm-up" if warm else f"{round_index - mode.warmup + 1}/{mode.repetitions}"
            progress(f"  {scenario.key:<10} {codec:<8} {name:<14} {count}  "
                     f"{first.label} {result[first.key]:,.1f}")
    return worker


def rotated(names: list[str], round_index: int) -> list[str]:
    """``names`` starting ``round_index`` places along: each round, a different one goes first."""
    shift = round_index % len(names) if names else 0
    return names[shift:] + names[:shift]


def wait_until_quiet(pids: list[int]) -> float:
    """Wait (at most ``QUIET_TIMEOUT``) until the servers stop using CPU; return the seconds waited.

    A server that has just served a scenario may still be closing a thousand connections, or
    collecting garbage; whoever is measured next must not share the machine with that.
    """
    started = time.perf_counter()
    before = _total_cpu(pids)
    while time.perf_counter() - started < QUIET_TIMEOUT:
        time.sleep(QUIET_WINDOW)
        now = _total_cpu(pids)
        if now - before < QUIET_SHARE * QUIET_WINDOW:
            break
        before = now
    return time.perf_counter() - started


def _total_cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(Exception):  # a server that died is reported by its job
            total += cpu_seconds(pid)
    return total


def _idle_phase(mode: Mode, *, implementations: list[str], codec: str,
                wanted: Callable[[str], bool], recorder: Recorder, progress: Progress) -> None:
    scenarios = [s for s in idle_scenarios(mode) if wanted(s.key)]
    if not scenarios:
        return
    most = max(int(s.parameters(mode, codec)["connections"]) for s in scenarios)
    holders = [LoadWorker() for _ in range(math.ceil(most / HOLD_PER_WORKER))]
    try:
        for scenario in scenarios:
            count = int(scenario.parameters(mode, codec)["connections"])
            failed: set[str] = set()
            for round_index in range(mode.repetitions):
                for name in rotated(implementations, round_index):
                    if name in failed:
                        continue
                    try:
                        per_connection = _idle_once(name, codec, count, mode, holders)
                    except WorkerError as exc:
                        recorder.fail(scenario, codec, name, str(exc))
                        failed.add(name)
                        progress(f"  {scenario.key:<10} {codec:<8} {name:<14} FAILED: {exc}")
                        holders = [h if h.alive else LoadWorker() for h in holders]
                        continue
                    recorder.add(scenario, codec, name, {"rss_per_connection_kb": per_connection})
                    progress(f"  {scenario.key:<10} {codec:<8} {name:<14} "
                             f"{round_index + 1}/{mode.repetitions}  "
                             f"{per_connection:,.2f} KB per connection")
    finally:
        for holder in holders:
            holder.close()


def _idle_once(name: str, codec: str, count: int, mode: Mode,
               holders: list[LoadWorker]) -> float:
    """KB of server RSS per idle connection: a fresh server, warmed, then ``count`` more."""
    server = ServerProcess(name, codec)
    used: list[LoadWorker] = []
    try:
        server.wait_ready()
        hold = {"job": "hold", "address": server.address, "codec": codec}
        holders[0].run({**hold, "connections": mode.idle_warm_connections})
        holders[0].run({"job": "release"})
        time.sleep(SETTLE_SECONDS)
        before = rss_bytes(server.pid)
        shares = math.ceil(count / HOLD_PER_WORKER)
        used = holders[:shares]
        for index, holder in enumerate(used):
            share = count // shares + (1 if index < count % shares else 0)
            holder.send({**hold, "connections": share})
        held = sum(int(holder.receive()["held"]) for holder in used)
        time.sleep(SETTLE_SECONDS)
        after = rss_bytes(server.pid)
        if not server.alive:
            raise WorkerError(f"server died: {server.stderr_tail()}")
    finally:
        server.stop()
        for holder in used:
            if holder.alive:
                holder.run({"job": "release"})
    return (after - before) / held / 1024


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as file:
            for line in file:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git(*arguments: str) -> str | None:
    try:
        out = subprocess.run(["git", *arguments], cwd=ROOT,
                             capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def machine_info() -> dict[str, Any]:
    """What the numbers depend on: hardware, versions, and how busy the machine already was."""
    import trio

    try:
        load = list(os.getloadavg())
    except OSError:
        load = []
    return {
        "cores": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "trio": trio.__version__,
        "versions": {name: _version(name) for name in (
            "trio_reactive", "attrs", "cattrs", "orjson", "construct", "uvloop", "pyzmq",
            "psutil")},
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        # Uncommitted library changes make the commit alone an incomplete description.
        "library_changes": _git("status", "--porcelain", "--", "trio_reactive"),
        "loadavg_before": load,
    }


def run(mode: Mode, *, implementations: list[str] | None = None, codecs: list[str],
        only: list[str] | None = None,
        progress: Progress = lambda line: print(line, file=sys.stderr, flush=True),
        ) -> dict[str, Any]:
    """Run everything asked for; return the results document (see README for its shape)."""
    started = time.time()
    names = implementations or [i.name for i in IMPLEMENTATIONS]
    unavailable = {n: f"needs {m}" for n in names if (m := missing_dependency(by_name(n)))}
    available = [n for n in names if n not in unavailable]

    def wanted(key: str) -> bool:
        return not only or any(key == o or key.startswith(o + "-") for o in only)

    recorder = Recorder()
    meta = machine_info()
    _load_phase(mode, implementations=available, codecs=codecs, wanted=wanted,
                recorder=recorder, progress=progress)
    # Idle connections exchange one message each: the codec hardly matters, so one is enough.
    idle_codec = "textual" if "textual" in codecs else codecs[0]
    _idle_phase(mode, implementations=available, codec=idle_codec, wanted=wanted,
                recorder=recorder, progress=progress)
    with contextlib.suppress(OSError):
        meta["loadavg_after"] = list(os.getloadavg())
    return {
        "mode": mode.name,
        "started": datetime.fromtimestamp(started).isoformat(timespec="seconds"),
        "seconds": round(time.time() - started, 1),
        "command": " ".join(["python -m benchmarks", *sys.argv[1:]]),
        "machine": meta,
        "reference": REFERENCE,
        "implementations": [
            {"name": i.name, "description": i.description, "unavailable": unavailable.get(i.name)}
            for i in IMPLEMENTATIONS if i.name in names
        ],
        "codecs": codecs,
        "repetitions": mode.repetitions,
        "warmup": mode.warmup,
        "measurements": recorder.measurements(),
        "errors": recorder.errors,
    }
