"""How throughput scales with worker processes: ``python -m benchmarks.workers``.

The same service as every other benchmark (``benchmarks.model``: the sync ``respond`` handler),
run by ``python -m trio_reactive.workers`` with 1, then 2, ... workers sharing one port, each
time driven by the load generator's ``many`` job: N connections doing ping-pong, one message in
flight on each, from one epoll loop in this process.  Rounds alternate the worker counts so that
noise from the shared machine falls on all of them alike; the figures are medians over rounds.

Worker count 0 is the reference: the benchmarks' own one-process server (``serve_tcp``), in
the same rounds; "ratio" is each row over the first one.  Besides messages per second it
reports the CPU the server processes used (100% is one core busy): on a machine with as many
cores as workers plus one for the load generator, throughput follows the worker count until
the load generator saturates; with fewer cores, the processes share them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .load import many
from .model import protocol_for, respond
from .stats import cpu_seconds, median, raise_open_files_limit

__all__ = ["FIXED", "TEXTUAL", "VARIABLE", "main", "measure"]

#: The apps the launcher loads, one per codec: ``benchmarks.workers:FIXED`` and so on.
TEXTUAL = (protocol_for("textual"), respond)
FIXED = (protocol_for("fixed"), respond)
VARIABLE = (protocol_for("variable"), respond)

ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT = 60.0


#: The reference row: the benchmarks' own single-process server (``serve_tcp``).
SINGLE = 0


class Workers:
    """``python -m trio_reactive.workers`` in a process of its own, on a free port.

    With ``workers=SINGLE``, the benchmarks' usual server instead (``benchmarks.serve``: one
    process calling ``serve_tcp``), as the reference measured in the same conditions.
    """

    def __init__(self, codec: str, workers: int) -> None:
        path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        if workers == SINGLE:
            command = ["-m", "benchmarks.serve", "trio_reactive", codec]
        else:
            command = ["-m", "trio_reactive.workers", f"benchmarks.workers:{codec.upper()}"]
            command += ["--host", "127.0.0.1", "--workers", str(workers)]
        self.process = subprocess.Popen(
            [sys.executable, *command],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": path},
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        readable, _, _ = select.select([self.process.stdout], [], [], STARTUP_TIMEOUT)
        line = self.process.stdout.readline() if readable else ""
        if workers == SINGLE and line.startswith("{"):
            announced = json.loads(line)
            self.address, self.pids = announced["address"], [announced["pid"]]
            return
        found = re.fullmatch(r"listening on (\S+):(\d+) pids ([\d ]+)\n", line)
        if found is None:
            self.stop()
            raise RuntimeError(f"the server did not start (first line {line!r})")
        self.address = {"host": found[1], "port": int(found[2])}
        self.pids = [int(pid) for pid in found[3].split()]

    def cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def measure(codec: str, workers: int, connections: int, duration: float) -> dict[str, Any]:
    """One round: start ``workers`` workers, run the ``many`` job on them, stop them."""
    server = Workers(codec, workers)
    try:
        cpu_before, start = server.cpu(), time.perf_counter()
        result = many(server.address, codec, connections, duration)
        elapsed = time.perf_counter() - start
        result["server_cpu_percent"] = 100 * (server.cpu() - cpu_before) / elapsed
    finally:
        server.stop()
    return result


def _save(arguments: argparse.Namespace, samples: dict[int, Any], load_before: Any) -> None:
    """Every sample, with what is needed to judge them later: commit, cores, load average."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    record = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commit": commit,
        "cores": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "arguments": {k: v for k, v in vars(arguments).items() if k != "json"},
        "samples": {str(count): rounds for count, rounds in samples.items()},
    }
    arguments.json.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.workers", description=__doc__)
    parser.add_argument(
        "--workers", default="0,1,2", help="worker counts to compare; 0 is plain serve_tcp"
    )
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--codec", default="fixed", choices=["textual", "fixed", "variable"])
    parser.add_argument("--smoke", action="store_true", help="a few connections for a moment")
    parser.add_argument("--json", type=Path, default=None, help="also save every sample here")
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    if arguments.smoke:
        arguments.connections, arguments.duration, arguments.rounds = 20, 0.3, 1
    raise_open_files_limit()
    load_before = os.getloadavg()
    counts = [int(count) for count in arguments.workers.split(",")]
    samples: dict[int, list[dict[str, Any]]] = {count: [] for count in counts}
    for round_index in range(arguments.rounds):
        order = counts if round_index % 2 == 0 else counts[::-1]
        for count in order:
            samples[count].append(
                measure(arguments.codec, count, arguments.connections, arguments.duration)
            )
    if arguments.json is not None:
        _save(arguments, samples, load_before)
    print(
        f"{arguments.connections} connections, ping-pong, {arguments.codec} codec, "
        f"{arguments.rounds} x {arguments.duration:g} s rounds, {os.cpu_count()} cores"
    )
    print(
        f"{'workers':>9}  {'msgs/s':>9}  {'ratio':>5}  {'p50 µs':>7}  {'p99 µs':>7}  {'CPU %':>6}"
    )
    base = median([sample["msgs_per_s"] for sample in samples[counts[0]]])
    for count in counts:
        label = "serve_tcp" if count == SINGLE else str(count)
        rate = median([sample["msgs_per_s"] for sample in samples[count]])
        p50 = median([sample["p50_us"] for sample in samples[count]])
        p99 = median([sample["p99_us"] for sample in samples[count]])
        cpu = median([sample["server_cpu_percent"] for sample in samples[count]])
        print(
            f"{label:>9}  {rate:>9.0f}  {rate / base:>5.2f}  {p50:>7.0f}  {p99:>7.0f}  {cpu:>6.0f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
