"""The flood tool's client process: paced or flat-out traffic, timed and checked, per rate.

Each step opens a fresh connection to one server, floods it, and measures the window from the
first send to the server's tally: the achieved rate, both processes' CPU, their memory, the
round-trip latencies, and what was lost or reordered.
"""

from __future__ import annotations

import json
import os
import time
from array import array
from collections.abc import Sequence

import attrs
import trio

import trio_reactive as tr
from benchmarks.stats import cpu_seconds, rss_bytes

from .flood_protocol import Finish, Tally, Wire

__all__ = ["HOST", "Meter", "Server", "Step", "Traffic", "flood_all", "flood_step", "in_turn"]

HOST = "127.0.0.1"
#: How long, after sending, the client waits for the last acknowledgements and the tally.
DRAIN_TIMEOUT = 30.0


@attrs.frozen
class Server:
    """A server process to flood: which kind (``reactive`` or ``blocking``), where, its pid."""

    kind: str
    port: int
    pid: int


@attrs.frozen
class Step:
    """The figures for one rate against one server, as saved by ``--json``."""

    codec: str
    server: str  #: "reactive" (trio_reactive) or "blocking" (plain sockets, the floor)
    repeat: int  #: which of the ``--repeat`` runs, from 0
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
    """CPU time of some processes over one window, every thread of each counted.

    ``benchmarks.stats.cpu_seconds`` reads the kernel's nanosecond run times where it offers
    them (Linux), and psutil's 10 ms ticks elsewhere: a server busy 30 ms a second needs the
    former.
    """

    def __init__(self, pids: Sequence[int]) -> None:
        self.pids = pids
        self.started = time.perf_counter()
        self.busy = [cpu_seconds(pid) for pid in pids]

    def read(self) -> tuple[float, list[float]]:
        """Seconds since the start, and each process's CPU in % of one core over them."""
        elapsed = time.perf_counter() - self.started
        return elapsed, [100 * (cpu_seconds(pid) - before) / elapsed
                         for pid, before in zip(self.pids, self.busy, strict=True)]


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
    wire: Wire, target: float | None, seconds: float, server: Server, repeat: int = 0
) -> Step:
    """One rate over a fresh connection.

    The window measured runs from the first send to the server's tally, so connecting and
    closing stay out of it.
    """
    client = os.getpid()
    async with tr.connect(wire.protocol, HOST, server.port, config=wire.config) as connection:
        traffic = Traffic(connection, wire.flood, wire.size)
        meter = Meter([server.pid, client])
        with trio.move_on_after(seconds + DRAIN_TIMEOUT):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(traffic.collect)
                if target is None:
                    await traffic.send_flat_out(seconds)
                else:
                    await traffic.send_paced(target, seconds)
        elapsed, (server_cpu, client_cpu) = meter.read()
        server_rss, client_rss = rss_bytes(server.pid), rss_bytes(client)
    tally = traffic.tally or Tally(0, 0, 0)
    acked, sent = len(traffic.latencies), traffic.sent
    ordered = sorted(traffic.latencies)
    return Step(
        codec=wire.codec, server=server.kind, repeat=repeat, size=wire.size,
        wire_bytes=wire.message_bytes(), target=target, sent=sent, acked=acked, seconds=elapsed,
        rate=acked / elapsed, server_cpu=server_cpu, client_cpu=client_cpu,
        server_rss=server_rss, client_rss=client_rss,
        p50_us=_percentile_us(ordered, 0.50), p99_us=_percentile_us(ordered, 0.99),
        lost=max(sent - acked, sent - tally.received, tally.missing),
        reordered=traffic.reordered + tally.reordered,
    )


def in_turn(servers: Sequence[Server], repeat: int) -> list[Server]:
    """The order to flood the servers in on run ``repeat``: reversed every other run.

    So that neither server is always the one measured first (on a machine warming up, or
    while something else starts), the order alternates: A B, B A, A B, ...
    """
    return list(servers if repeat % 2 == 0 else reversed(servers))


async def flood_all(
    codec: str, size: int, *, targets: list[float | None], seconds: float,
    servers: Sequence[Server], repeats: int = 1,
) -> None:
    """The client process: each run, each rate, each server; a JSON line on stdout per step."""
    wire = Wire.build(codec, size)
    for repeat in range(repeats):
        for target in targets:
            for server in in_turn(servers, repeat):
                print(json.dumps({"starting": target, "server": server.kind}), flush=True)
                step = await flood_step(wire, target, seconds, server, repeat)
                print(json.dumps(attrs.asdict(step)), flush=True)
