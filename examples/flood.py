"""Flood: a client sends paced messages to a server in another process, and measures the cost.

    python -m examples.flood --rate 380 --seconds 5
    python -m examples.flood --rate 100,1000,10000,100000,max --codec all --plot flood.png
    python -m examples.flood --rate max --codec fixed --size 1000 --json flood.json
    python -m examples.flood --rate 380 --seconds 10 --codec all --server both --repeat 3

Three processes (four with ``--server both``), so that each figure belongs to one of them: this
one spawns the server(s) and a client, draws the progress bar and the table, and takes no part in
the traffic.  Per rate and server the client opens a fresh connection and:

* sends ``Flood(seq, sent_ns, payload)`` messages one by one at their paced times: at each tick
  it sends the messages due by then, never ahead of time.  At ``max`` it sends as fast as flow
  control lets it (a send waits only while the outgoing queue is full);
* the server checks that sequence numbers arrive in order with none missing, and acknowledges
  every message with ``Ack(seq, sent_ns)``: it echoes the client's own timestamp, so latency is
  the round trip (client -> server -> client) measured on one clock;
* after ``--seconds`` the client sends ``Finish(sent)``; the server answers ``Tally(received,
  reordered, missing)``, which arrives after every ``Ack`` since one TCP connection keeps order.

The server is trio_reactive's (``--server reactive``, the default), a plain blocking-socket
Python server doing the same work with the same codec objects (``blocking``: the floor, see
``examples/flood_blocking.py``), or both in the same run, each rate against one then the other,
the order alternating from one ``--repeat`` run to the next.

Reported per codec, server and rate (the median of the runs): achieved messages/s (acknowledged
messages over the time from the first send to the last acknowledgement), each process's CPU as a
percentage of one core over that same window (every thread's run time, from
``/proc/<pid>/task/*/schedstat`` in nanoseconds; psutil's coarser ticks off Linux), each one's
resident memory at the end, latency p50/p99, and lost or reordered messages seen by either side
(anything but 0 is a bug: the exit status is then 1).  With both servers, the ratio of their
server CPU, reactive / blocking, per codec and rate.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import trio

import trio_reactive as tr

from .flood_blocking import serve_blocking
from .flood_client import HOST, Server, Step, flood_all
from .flood_protocol import Ack, Finish, Tally, Wire, acknowledge
from .flood_report import plot, save_json, show, summarize
from .hello_world import CODECS

__all__ = [
    "SERVERS",
    "Ack",
    "Finish",
    "Starting",
    "Step",
    "Tally",
    "Wire",
    "acknowledge",
    "main",
    "measure",
    "parse_rates",
    "run_sweep",
]

MAX = "max"
#: The servers ``--server`` picks from: trio_reactive's, and the blocking-socket floor.
SERVERS = ("reactive", "blocking")
ROOT = Path(__file__).resolve().parent.parent


def _announce(port: int) -> None:
    print(json.dumps({"port": port}), flush=True)


async def serve(codec: str, size: int) -> None:
    """The trio_reactive server process: print the port, serve until stdin closes."""
    wire = Wire.build(codec, size)
    async with tr.open_server(wire.protocol, acknowledge, host=HOST, config=wire.config) as server:
        _announce(server.port)
        await trio.to_thread.run_sync(sys.stdin.buffer.read, abandon_on_cancel=True)


# ---------------------------------------------------------------------------- the orchestrator


@attrs.frozen
class Starting:
    """The client is about to flood ``server`` at ``target`` (``None``: max)."""

    codec: str
    server: str
    target: float | None


def _spawn(*arguments: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "examples.flood", *arguments],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )


def _lines(stream: Any, tick: float) -> Iterator[dict[str, Any] | None]:
    """The JSON lines a child prints, and ``None`` every ``tick`` seconds while it is silent."""
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line)
        lines.put("")

    threading.Thread(target=pump, daemon=True).start()
    while True:
        try:
            line = lines.get(timeout=tick)
        except queue.Empty:
            yield None
            continue
        if not line:
            return
        yield json.loads(line)


def run_sweep(
    codec: str, size: int, rates: str, seconds: float, *, servers: Sequence[str] = SERVERS[:1],
    repeats: int = 1, tick: float = 0.25,
) -> Iterator[Starting | Step | None]:
    """Spawn the ``servers`` and a client for one codec, and run every rate ``repeats`` times.

    Yields ``Starting`` before each step, its ``Step`` after it, and ``None`` every ``tick``
    seconds in between (for a progress bar).
    """
    common = ["--codec", codec, "--size", str(size)]
    # Leaving the stack closes each server's stdin, which ends it, and waits for it.
    with contextlib.ExitStack() as stack:
        running = []
        for kind in servers:
            child = stack.enter_context(_spawn("--role", "server", "--server", kind, *common))
            assert child.stdout is not None
            port = json.loads(child.stdout.readline())["port"]
            running.append(f"{kind}:{port}:{child.pid}")
        with _spawn("--role", "client", *common, "--rate", rates, "--seconds", str(seconds),
                    "--repeat", str(repeats), "--servers", ",".join(running)) as client:
            for line in _lines(client.stdout, tick):
                if line is None:
                    yield None
                elif "starting" in line:
                    yield Starting(codec, line["server"], line["starting"])
                else:
                    yield Step(**line)
        if client.returncode:
            raise RuntimeError(f"the {codec} flood client failed (exit {client.returncode})")


def measure(
    codecs: list[str], size: int, rates: str, seconds: float, *,
    servers: Sequence[str] = SERVERS[:1], repeats: int = 1,
) -> list[Step]:
    """Every codec at every rate against every server, with a progress bar over the time."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    per_codec = len(parse_rates(rates)) * len(servers) * repeats
    total = per_codec * len(codecs)
    steps: list[Step] = []
    columns = (TextColumn("{task.description:<38}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, transient=True, refresh_per_second=4) as progress:
        bar = progress.add_task("starting", total=total * seconds)
        started = time.perf_counter()
        for codec in codecs:
            for event in run_sweep(codec, size, rates, seconds, servers=servers,
                                   repeats=repeats):
                if isinstance(event, Starting):
                    started = time.perf_counter()
                    pace = "flat out" if event.target is None else f"{event.target:g} msg/s"
                    label = f"{codec}, {event.server}, {pace} ({len(steps) + 1}/{total})"
                    progress.update(bar, description=label)
                elif isinstance(event, Step):
                    steps.append(event)
                    progress.update(bar, completed=len(steps) * seconds)
                else:
                    running = min(seconds, time.perf_counter() - started)
                    progress.update(bar, completed=len(steps) * seconds + running)
    return steps


# ---------------------------------------------------------------------------- command line


def parse_rates(text: str) -> list[float | None]:
    """``"100,1000,max"`` -> ``[100.0, 1000.0, None]`` (``None``: as fast as possible)."""
    rates: list[float | None] = []
    for part in text.lower().replace(" ", "").split(","):
        if part == MAX:
            rates.append(None)
            continue
        rate = float(part)
        if not rate > 0:
            raise ValueError(f"a rate must be > 0 or {MAX!r}, got {part!r}")
        rates.append(rate)
    return rates


def parse_servers(text: str) -> list[Server]:
    """The client's ``--servers``: ``kind:port:pid`` for each server, comma-separated."""
    servers = []
    for part in text.split(","):
        kind, port, pid = part.split(":")
        servers.append(Server(kind, int(port), int(pid)))
    return servers


def _rates(text: str) -> str:
    try:
        parse_rates(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _codecs(text: str) -> list[str]:
    names = list(CODECS) if text == "all" else [name.strip() for name in text.split(",")]
    unknown = [name for name in names if name not in CODECS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown codec {unknown[0]!r}: pick from {list(CODECS)}")
    return names


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m examples.flood", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=_rates, default="380",
                        help="messages/s, a comma-separated sweep, and/or 'max' (default 380)")
    parser.add_argument("--seconds", type=float, default=5.0, help="per rate (default 5)")
    parser.add_argument("--codec", type=_codecs, default=["textual"],
                        help=f"one of {', '.join(CODECS)}, a comma-separated list, or 'all'")
    parser.add_argument("--size", type=int, default=32, help="payload bytes (default 32)")
    parser.add_argument("--server", choices=[*SERVERS, "both"], default="reactive",
                        help="trio_reactive's server, a plain blocking-socket one doing the "
                             "same work (the CPU floor), or both in the same run "
                             "(default reactive)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs of every step; the figures are their medians (default 1)")
    parser.add_argument("--json", type=Path, help="save the figures here")
    parser.add_argument("--plot", type=Path, help="draw CPU and latency against rate (PNG)")
    # How the child processes are started; not for people.
    parser.add_argument("--role", choices=["server", "client"], help=argparse.SUPPRESS)
    parser.add_argument("--servers", type=parse_servers, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.size < 1:
        parser.error("--size must be at least 1")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.role == "server":
        if args.server == "blocking":
            serve_blocking(Wire.build(args.codec[0], args.size), HOST, _announce)
        else:
            trio.run(serve, args.codec[0], args.size)
        return 0
    if args.role == "client":
        trio.run(functools.partial(
            flood_all, args.codec[0], args.size, targets=parse_rates(args.rate),
            seconds=args.seconds, servers=args.servers, repeats=args.repeat))
        return 0
    servers = list(SERVERS) if args.server == "both" else [args.server]
    steps = measure(args.codec, args.size, args.rate, args.seconds, servers=servers,
                    repeats=args.repeat)
    summaries = summarize(steps)
    show(summaries, args.size, args.seconds)
    if args.json:
        save_json(steps, args.json, argv)
    if args.plot:
        plot(summaries, args.plot)
    return 0 if all(step.lost == step.reordered == 0 for step in steps) else 1


if __name__ == "__main__":
    sys.exit(main())
