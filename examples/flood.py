"""Flood: a client sends paced messages to a server in another process, and measures the cost.

    python -m examples.flood --rate 380 --seconds 5
    python -m examples.flood --rate 100,1000,10000,100000,max --codec all --plot flood.png
    python -m examples.flood --rate max --codec fixed --size 1000 --json flood.json

Three processes, so that each figure belongs to one of them: this one spawns a server and a
client, draws the progress bar and the table, and takes no part in the traffic.  Per rate the
client opens a fresh connection and:

* sends ``Flood(seq, sent_ns, payload)`` messages one by one at their paced times: at each tick
  it sends the messages due by then, never ahead of time.  At ``max`` it sends as fast as flow
  control lets it (a send waits only while the outgoing queue is full);
* the server checks that sequence numbers arrive in order with none missing, and acknowledges
  every message with ``Ack(seq, sent_ns)``: it echoes the client's own timestamp, so latency is
  the round trip (client -> server -> client) measured on one clock;
* after ``--seconds`` the client sends ``Finish(sent)``; the server answers ``Tally(received,
  reordered, missing)``, which arrives after every ``Ack`` since one TCP connection keeps order.

Reported per rate: achieved messages/s (acknowledged messages over the time from the first send
to the last acknowledgement), each process's CPU as a percentage of one core (its user + system
time as the OS accounts it, through psutil, over that same window; Linux counts it in 10 ms
ticks), each one's resident memory at the end, latency p50/p99, and lost or reordered messages
seen by either side (anything but 0 is a bug: the exit status is then 1).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import queue
import subprocess
import sys
import threading
import time
from array import array
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any

import attrs
import construct
import psutil
import trio

import trio_reactive as tr

from .hello_world import CODECS

__all__ = [
    "Ack",
    "Finish",
    "Step",
    "Tally",
    "Wire",
    "acknowledge",
    "flood_class",
    "main",
    "parse_rates",
    "run_sweep",
]

HOST = "127.0.0.1"
MAX = "max"
#: How long, after sending, the client waits for the last acknowledgements and the tally.
DRAIN_TIMEOUT = 30.0
ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------------------- the protocol


def flood_class(size: int) -> type:
    """``Flood(seq, sent_ns, payload)`` whose payload is exactly ``size`` ASCII characters.

    The payload's length is part of its type, since the fixed-binary codec lays records out from
    types; so the class is built for the size asked for, the same way in both processes.
    """
    payload = Annotated[str, construct.PaddedString(size, "ascii")]
    fields = {"seq": attrs.field(type=int), "sent_ns": attrs.field(type=int),
              "payload": attrs.field(type=payload)}
    return attrs.make_class("Flood", fields, frozen=True)


@attrs.frozen
class Finish:
    """The client is done with this connection, having sent ``sent`` messages."""

    sent: int


@attrs.frozen
class Ack:
    """The server's answer to one message: its sequence number and the client's timestamp."""

    seq: int
    sent_ns: int


@attrs.frozen
class Tally:
    """The server's count for the connection, its answer to ``Finish``."""

    received: int
    reordered: int
    missing: int


@attrs.frozen
class Wire:
    """What both processes derive from ``--codec`` and ``--size``, the same way."""

    codec: str
    size: int
    flood: type
    protocol: tr.Protocol
    config: tr.Config

    @classmethod
    def build(cls, codec: str, size: int) -> Wire:
        flood = flood_class(size)
        protocol = tr.Protocol(client=(flood, Finish), server=(Ack, Tally), codec=CODECS[codec])
        # Default settings, with frames large enough for the payload over any codec.
        config = tr.Config(max_message_size=max(1 << 20, 2 * size + 1024))
        return cls(codec, size, flood, protocol, config)

    def message_bytes(self) -> int:
        """The size of a typical ``Flood`` on the wire, framing included."""
        sample = self.flood(123456, time.perf_counter_ns(), "x" * self.size)
        return len(self.protocol.side("client").codec.encoder().encode(sample))


# ---------------------------------------------------------------------------- the server


class Arrivals:
    """What the server has seen on one connection."""

    __slots__ = ("expected", "missing", "received", "reordered")

    def __init__(self) -> None:
        self.expected = self.received = self.reordered = self.missing = 0

    def see(self, seq: int) -> None:
        self.received += 1
        if seq == self.expected:
            self.expected += 1
        elif seq > self.expected:
            self.missing += seq - self.expected
            self.expected = seq + 1
        else:
            self.reordered += 1


def acknowledge(peer: tr.Peer, message: Any) -> Ack | Tally:
    """The server's logic, a sync handler (the engine's fastest path): check, then answer."""
    try:
        arrivals: Arrivals = peer.session[Arrivals]
    except KeyError:
        arrivals = peer.session[Arrivals] = Arrivals()
    if type(message) is Finish:
        return Tally(arrivals.received, arrivals.reordered, arrivals.missing)
    arrivals.see(message.seq)
    return Ack(message.seq, message.sent_ns)


async def serve(codec: str, size: int) -> None:
    """The server process: print the port, serve until stdin closes (the parent is done or gone)."""
    wire = Wire.build(codec, size)
    async with tr.open_server(wire.protocol, acknowledge, host=HOST, config=wire.config) as server:
        print(json.dumps({"port": server.port}), flush=True)
        await trio.to_thread.run_sync(sys.stdin.buffer.read, abandon_on_cancel=True)


# ---------------------------------------------------------------------------- the client


@attrs.frozen
class Step:
    """The figures for one rate, as saved by ``--json``."""

    codec: str
    size: int  #: payload bytes
    wire_bytes: int  #: one Flood on the wire, framing included
    target: float | None  #: messages/s asked for; None: as fast as flow control allows
    sent: int
    acked: int
    seconds: float  #: the window: first send to the server's tally
    rate: float  #: acked / seconds
    server_cpu: float  #: % of one core over the window
    client_cpu: float
    server_rss: int  #: bytes, at the end of the window
    client_rss: int
    p50_us: float  #: round trip, send to acknowledgement
    p99_us: float
    lost: int  #: not received by the server, or not acknowledged back
    reordered: int  #: out of order, as seen by the server or by the client


class Meter:
    """CPU time (user + system, as the OS accounts it) of some processes over one window."""

    def __init__(self, processes: Sequence[psutil.Process]) -> None:
        self.processes = processes
        self.started = time.perf_counter()
        self.busy = [self._busy(process) for process in processes]

    @staticmethod
    def _busy(process: psutil.Process) -> float:
        times = process.cpu_times()
        return float(times.user + times.system)

    def read(self) -> tuple[float, list[float]]:
        """Seconds since the start, and each process's CPU in % of one core over them."""
        elapsed = time.perf_counter() - self.started
        return elapsed, [100 * (self._busy(process) - before) / elapsed
                         for process, before in zip(self.processes, self.busy, strict=True)]


class Traffic:
    """One connection's flood as the client sees it: what went out and what came back."""

    def __init__(self, connection: tr.ClientConnection, flood: type, size: int) -> None:
        self.connection = connection
        self.flood = flood
        self.payload = "x" * size
        self.sent = 0
        self.reordered = 0
        self.latencies = array("q")
        self.tally: Tally | None = None

    async def _send_next(self) -> None:
        await self.connection.send(self.flood(self.sent, time.perf_counter_ns(), self.payload))
        self.sent += 1

    async def send_paced(self, rate: float, seconds: float) -> None:
        """Each message at its own time: at every tick, send those due by now, then sleep."""
        total = max(1, round(rate * seconds))
        start = trio.current_time()
        while self.sent < total:
            due = min(total, int((trio.current_time() - start) * rate) + 1)
            while self.sent < due:
                await self._send_next()
            await trio.sleep_until(start + self.sent / rate)
        await self.connection.send(Finish(self.sent))

    async def send_flat_out(self, seconds: float) -> None:
        """As fast as the engine takes them: a send waits only while the queue is full."""
        deadline = trio.current_time() + seconds
        while trio.current_time() < deadline:
            await self._send_next()
        await self.connection.send(Finish(self.sent))

    async def collect(self) -> None:
        """Time every acknowledgement and check its order, until the server's tally."""
        clock = time.perf_counter_ns
        latencies = self.latencies
        expected = 0
        async for message in self.connection:
            now = clock()
            if type(message) is Tally:
                self.tally = message
                return
            if message.seq < expected:
                self.reordered += 1
            expected = max(expected, message.seq + 1)
            latencies.append(now - message.sent_ns)


def _percentile_us(ordered: Sequence[int], fraction: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] / 1000


async def flood_step(
    wire: Wire, target: float | None, seconds: float, port: int, server: psutil.Process
) -> Step:
    """One rate over a fresh connection.

    The window measured runs from the first send to the server's tally, so connecting and
    closing stay out of it.
    """
    client = psutil.Process()
    async with tr.connect(wire.protocol, HOST, port, config=wire.config) as connection:
        traffic = Traffic(connection, wire.flood, wire.size)
        meter = Meter([server, client])
        with trio.move_on_after(seconds + DRAIN_TIMEOUT):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(traffic.collect)
                if target is None:
                    await traffic.send_flat_out(seconds)
                else:
                    await traffic.send_paced(target, seconds)
        elapsed, (server_cpu, client_cpu) = meter.read()
        server_rss, client_rss = server.memory_info().rss, client.memory_info().rss
    tally = traffic.tally or Tally(0, 0, 0)
    acked, sent = len(traffic.latencies), traffic.sent
    ordered = sorted(traffic.latencies)
    return Step(
        codec=wire.codec, size=wire.size, wire_bytes=wire.message_bytes(), target=target,
        sent=sent, acked=acked, seconds=elapsed, rate=acked / elapsed,
        server_cpu=server_cpu, client_cpu=client_cpu, server_rss=server_rss, client_rss=client_rss,
        p50_us=_percentile_us(ordered, 0.50), p99_us=_percentile_us(ordered, 0.99),
        lost=max(sent - acked, sent - tally.received, tally.missing),
        reordered=traffic.reordered + tally.reordered,
    )


async def flood_all(
    codec: str, size: int, *, targets: list[float | None], seconds: float, port: int,
    server_pid: int,
) -> None:
    """The client process: every rate in turn, each step reported as a JSON line on stdout."""
    wire = Wire.build(codec, size)
    server = psutil.Process(server_pid)
    for target in targets:
        print(json.dumps({"starting": target}), flush=True)
        step = await flood_step(wire, target, seconds, port, server)
        print(json.dumps(attrs.asdict(step)), flush=True)


# ---------------------------------------------------------------------------- the orchestrator


@attrs.frozen
class Starting:
    """The client is about to flood at ``target`` (``None``: max)."""

    codec: str
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
    codec: str, size: int, rates: str, seconds: float, tick: float = 0.25
) -> Iterator[Starting | Step | None]:
    """Spawn a server and a client for one codec and run every rate of ``rates``.

    Yields ``Starting`` before each rate, its ``Step`` after it, and ``None`` every ``tick``
    seconds in between (for a progress bar).
    """
    common = ["--codec", codec, "--size", str(size)]
    with _spawn("--role", "server", *common) as server:
        assert server.stdin is not None and server.stdout is not None
        try:
            port = json.loads(server.stdout.readline())["port"]
            with _spawn("--role", "client", *common, "--rate", rates, "--seconds", str(seconds),
                        "--port", str(port), "--server-pid", str(server.pid)) as client:
                for line in _lines(client.stdout, tick):
                    if line is None:
                        yield None
                    elif "starting" in line:
                        yield Starting(codec, line["starting"])
                    else:
                        yield Step(**line)
            if client.returncode:
                raise RuntimeError(f"the {codec} flood client failed (exit {client.returncode})")
        finally:
            server.stdin.close()


def _label(target: float | None) -> str:
    return MAX if target is None else f"{target:g}"


def measure(codecs: list[str], size: int, rates: str, seconds: float) -> list[Step]:
    """Every codec at every rate, with a progress bar (rich) over the expected time."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    per_codec = len(parse_rates(rates))
    steps: list[Step] = []
    columns = (TextColumn("{task.description:<28}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, transient=True, refresh_per_second=4) as progress:
        bar = progress.add_task("starting", total=len(codecs) * per_codec * seconds)
        started = time.perf_counter()
        for codec in codecs:
            for event in run_sweep(codec, size, rates, seconds):
                if isinstance(event, Starting):
                    started = time.perf_counter()
                    count = f"{len(steps) + 1}/{per_codec * len(codecs)}"
                    pace = "flat out" if event.target is None else f"{event.target:g} msg/s"
                    label = f"{codec}, {pace} ({count})"
                    progress.update(bar, description=label)
                elif isinstance(event, Step):
                    steps.append(event)
                    progress.update(bar, completed=len(steps) * seconds)
                else:
                    running = min(seconds, time.perf_counter() - started)
                    progress.update(bar, completed=len(steps) * seconds + running)
    return steps


# ---------------------------------------------------------------------------- reporting


def show(steps: list[Step], size: int, seconds: float) -> None:
    """The figures as a table that fits 80 columns."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 1), collapse_padding=True)
    headers = ["codec", "target\nmsg/s", "achieved\nmsg/s", "server\nCPU %", "client\nCPU %",
               "RSS MiB\nsrv/cli", "p50\nms", "p99\nms", "lost/\nreord."]
    for header in headers:
        table.add_column(header, justify="left" if header == "codec" else "right", no_wrap=True)
    for s in steps:
        table.add_row(
            s.codec, _label(s.target), f"{s.rate:,.0f}", f"{s.server_cpu:.2f}",
            f"{s.client_cpu:.2f}", f"{s.server_rss / 2**20:.0f}/{s.client_rss / 2**20:.0f}",
            f"{s.p50_us / 1000:.2f}", f"{s.p99_us / 1000:.2f}", f"{s.lost}/{s.reordered}",
            style=None if s.lost == s.reordered == 0 else "bold red",
        )
    wire = {step.codec: step.wire_bytes for step in steps}
    console = Console()
    console.print(f"[bold]flood[/]: {size}-byte payload, {seconds:g} s per rate; server and "
                  "client in their own processes")
    console.print(table)
    console.print("CPU: % of one core.  Latency: from send to acknowledgement.  Bytes per "
                  "message: " + ", ".join(f"{codec} {size}" for codec, size in wire.items()),
                  highlight=False)


def save_json(steps: list[Step], path: Path, argv: Sequence[str]) -> None:
    document = {
        "command": " ".join(["python -m examples.flood", *argv]),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "steps": [attrs.asdict(step) for step in steps],
    }
    path.write_text(json.dumps(document, indent=2) + "\n")


def plot(steps: list[Step], path: Path) -> None:
    """CPU and latency against the achieved rate, one colour per codec."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (cpu, latency) = plt.subplots(1, 2, figsize=(12, 4.8), layout="constrained")
    for codec in dict.fromkeys(step.codec for step in steps):
        rows = [s for s in steps if s.codec == codec]  # in sweep order: 'max' comes last
        rates = [s.rate for s in rows]
        (line,) = cpu.plot(rates, [s.server_cpu for s in rows], "o-", label=f"{codec} server")
        colour = line.get_color()
        cpu.plot(rates, [s.client_cpu for s in rows], "s--", color=colour, label=f"{codec} client")
        latency.plot(rates, [s.p50_us / 1000 for s in rows], "o-", color=colour,
                     label=f"{codec} p50")
        latency.plot(rates, [s.p99_us / 1000 for s in rows], "^:", color=colour,
                     label=f"{codec} p99")
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
    parser.add_argument("--json", type=Path, help="save the figures here")
    parser.add_argument("--plot", type=Path, help="draw CPU and latency against rate (PNG)")
    # How the two child processes are started; not for people.
    parser.add_argument("--role", choices=["server", "client"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--server-pid", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.size < 1:
        parser.error("--size must be at least 1")
    if args.role == "server":
        trio.run(serve, args.codec[0], args.size)
        return 0
    if args.role == "client":
        trio.run(functools.partial(
            flood_all, args.codec[0], args.size, targets=parse_rates(args.rate),
            seconds=args.seconds, port=args.port, server_pid=args.server_pid))
        return 0
    steps = measure(args.codec, args.size, args.rate, args.seconds)
    show(steps, args.size, args.seconds)
    if args.json:
        save_json(steps, args.json, argv)
    if args.plot:
        plot(steps, args.plot)
    return 0 if all(step.lost == step.reordered == 0 for step in steps) else 1


if __name__ == "__main__":
    sys.exit(main())
