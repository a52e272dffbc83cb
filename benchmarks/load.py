"""The load generator: one client, the same for every TCP server, in its own process.

It is written with plain blocking sockets (and ``select.epoll`` for many connections), pre-encodes
what it sends and only *counts* replies, so that it costs far less per message than any server it
measures: the comparison is of servers.  zmq cannot be driven over raw TCP, so its client jobs
live in :mod:`benchmarks.peers.zmq_peer`, with the same job names, arguments and results.

Run as ``python -m benchmarks.load``: a worker reading one JSON job per line on stdin and
answering one JSON line on stdout, so a whole benchmark run pays for one process start.
"""

from __future__ import annotations

import json
import select
import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from .model import QUIET, REPLY, Ping
from .stats import cpu_seconds, latency_summary, raise_open_files_limit
from .wire import WireCodec, client_wire

__all__ = ["JOBS", "main", "ping_frames"]

#: A plausible nanosecond timestamp, so textual messages have their real length.
SENT_NS = 1_732_481_234_567_890_123
#: Messages pre-encoded per buffer handed to ``sendall``.
CHUNK = 4096
#: Round trips on a fresh connection before anything is timed.
WARM_ROUND_TRIPS = 50
#: Connections opened between two handshake rounds when holding many idle ones.
CONNECT_BATCH = 256
RECEIVE_SIZE = 1 << 16

Address = dict[str, Any]


def ping_frames(wire: WireCodec, count: int, flags: int, first_seq: int = 0) -> bytes:
    """``count`` pings framed into one buffer."""
    return wire.encode_batch(
        [Ping(first_seq + i, SENT_NS, 1.5, flags) for i in range(count)]
    )


def _connect(address: Address) -> socket.socket:
    sock = socket.create_connection((address["host"], address["port"]))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _await_replies(sock: socket.socket, count: Callable[[bytes], int], wanted: int = 1) -> None:
    got = 0
    while got < wanted:
        data = sock.recv(RECEIVE_SIZE)
        if not data:
            raise ConnectionError("the server closed the connection")
        got += count(data)


def _warm(sock: socket.socket, wire: WireCodec) -> None:
    """A few round trips first, so that nothing timed pays for a cold connection."""
    round_trip = _round_trip(sock, wire)
    for _ in range(WARM_ROUND_TRIPS):
        round_trip()


def _send_stream(sock: socket.socket, wire: WireCodec, total: int, flags: int) -> None:
    """Send ``total`` pings with ``flags``; a quiet stream ends with one ping asking a reply."""
    marker = flags == QUIET
    body = ping_frames(wire, CHUNK, flags)
    full, rest = divmod(total - marker, CHUNK)
    for _ in range(full):
        sock.sendall(body)
    sock.sendall(ping_frames(wire, rest, flags) + (ping_frames(wire, 1, REPLY) if marker else b""))


def flood(address: Address, codec: str, count: int) -> dict[str, float]:
    """One-way: ``count`` messages, only the last answered; timed until that answer."""
    return _timed(address, codec, flood_on, count)


def echo(address: Address, codec: str, count: int) -> dict[str, float]:
    """Pipelined request/response: a thread writes, this one counts the replies."""
    return _timed(address, codec, echo_on, count)


def _timed(
    address: Address, codec: str, job: Callable[[socket.socket, WireCodec, int], None], count: int
) -> dict[str, float]:
    wire = client_wire(codec)
    with _connect(address) as sock:
        _warm(sock, wire)
        start = time.perf_counter()
        job(sock, wire, count)
        elapsed = time.perf_counter() - start
    return {"msgs_per_s": count / elapsed}


def flood_on(sock: socket.socket, wire: WireCodec, count: int) -> None:
    """The flood on an open connection: ``count`` one-way pings, the last one answered."""
    _send_stream(sock, wire, count, QUIET)
    _await_replies(sock, wire.counter())


def echo_on(sock: socket.socket, wire: WireCodec, count: int) -> None:
    """The echo on an open connection: a thread writes ``count`` pings, every one answered."""
    sender = threading.Thread(target=_send_stream, args=(sock, wire, count, REPLY))
    sender.start()
    _await_replies(sock, wire.counter(), count)
    sender.join()


class Window:
    """Latency bookkeeping for a fixed-duration run: a warm-up, then ``duration`` timed.

    Shared by every closed-loop client (one or many connections, TCP or zmq), so that they all
    count and time the same way.
    """

    def __init__(self, duration: float, warm: float = 0.0) -> None:
        self.clock = time.perf_counter_ns
        self.latencies: list[int] = []
        self._duration = int(duration * 1e9)
        self._warm_until = self.clock() + int(warm * 1e9)
        self._start = self._deadline = 0

    def running(self) -> bool:
        """False once the timed part is over; starts it (dropping warm-up samples) when due."""
        now = self.clock()
        if not self._start:
            if now >= self._warm_until:
                self.latencies.clear()
                self._start, self._deadline = now, now + self._duration
            return True
        return now < self._deadline

    def result(self, rate_name: str) -> dict[str, float]:
        elapsed = (self.clock() - self._start) / 1e9
        return {rate_name: len(self.latencies) / elapsed, **latency_summary(self.latencies)}


def closed_loop(round_trip: Callable[[], None], duration: float) -> dict[str, float]:
    """One request in flight, back to back, for ``duration``: rate and latency."""
    window = Window(duration)
    clock, record = window.clock, window.latencies.append
    while window.running():
        sent = clock()
        round_trip()
        record(clock() - sent)
    return window.result("rt_per_s")


def open_loop(
    round_trip: Callable[[], None], rate: float, duration: float, server_pid: int
) -> dict[str, float]:
    """Round trips started at a fixed rate; the server's CPU time over the interval."""
    total = max(1, round(rate * duration))
    time.sleep(0.05)  # let the warm-up's after-effects settle before reading the CPU clock
    cpu_before = cpu_seconds(server_pid)
    start = time.perf_counter()
    for index in range(total):
        delay = start + index / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        round_trip()
    elapsed = time.perf_counter() - start
    cpu = cpu_seconds(server_pid) - cpu_before
    return {
        "cpu_percent": 100 * cpu / elapsed,
        "cpu_us_per_msg": 1e6 * cpu / total,
        "achieved_rate": total / elapsed,
    }


def _round_trip(sock: socket.socket, wire: WireCodec) -> Callable[[], None]:
    frame = ping_frames(wire, 1, REPLY)
    count = wire.counter()

    def round_trip() -> None:
        sock.sendall(frame)
        _await_replies(sock, count)

    return round_trip


def pingpong(address: Address, codec: str, duration: float) -> dict[str, float]:
    """One message in flight: round trips per second and their latency."""
    wire = client_wire(codec)
    with _connect(address) as sock:
        _warm(sock, wire)
        return closed_loop(_round_trip(sock, wire), duration)


def _open_many(address: Address, wire: WireCodec, connections: int) -> list[socket.socket]:
    """Open ``connections`` sockets, each proven served by one round trip.

    They are opened in batches so that the listen backlog never overflows (a dropped SYN costs
    a one-second retransmission, which would be timed as the server's fault).
    """
    frame = ping_frames(wire, 1, REPLY)
    socks: list[socket.socket] = []
    try:
        while len(socks) < connections:
            batch = [_connect(address) for _ in range(min(CONNECT_BATCH, connections - len(socks)))]
            socks.extend(batch)
            for sock in batch:
                sock.sendall(frame)
            for sock in batch:
                _await_replies(sock, wire.counter())
    except BaseException:
        for sock in socks:
            sock.close()
        raise
    return socks


def many(address: Address, codec: str, connections: int, duration: float) -> dict[str, float]:
    """``connections`` clients each doing ping-pong, driven by one epoll loop."""
    wire = client_wire(codec)
    frame = ping_frames(wire, 1, REPLY)
    socks = _open_many(address, wire, connections)
    poller = select.epoll()
    try:
        by_fd: dict[int, tuple[socket.socket, Callable[[bytes], int]]] = {}
        for sock in socks:
            sock.setblocking(False)
            by_fd[sock.fileno()] = (sock, wire.counter())
            poller.register(sock.fileno(), select.EPOLLIN)
        window = Window(duration, warm=min(0.2, duration * 0.2))
        clock, record = window.clock, window.latencies.append
        sent_at: dict[int, int] = {}
        for fd, (sock, _) in by_fd.items():
            sent_at[fd] = clock()
            sock.send(frame)
        while window.running():
            for fd, _ in poller.poll(0.05):
                sock, count = by_fd[fd]
                data = sock.recv(RECEIVE_SIZE)
                if not data:
                    raise ConnectionError("the server closed a connection")
                if count(data):
                    now = clock()
                    record(now - sent_at[fd])
                    sent_at[fd] = now
                    sock.send(frame)
        return window.result("msgs_per_s")
    finally:
        poller.close()
        for sock in socks:
            sock.close()


def paced(
    address: Address, codec: str, rate: float, duration: float, server_pid: int
) -> dict[str, float]:
    """Request/response at a fixed rate; what the server process spends in CPU meanwhile."""
    wire = client_wire(codec)
    with _connect(address) as sock:
        _warm(sock, wire)
        return open_loop(_round_trip(sock, wire), rate, duration, server_pid)


class Holder:
    """Idle connections kept open between a ``hold`` job and the ``release`` after it."""

    def __init__(self) -> None:
        self._release: Callable[[], None] | None = None

    def hold(self, address: Address, codec: str, connections: int) -> dict[str, float]:
        self.release()
        socks = _open_many(address, client_wire(codec), connections)

        def close_all() -> None:
            for sock in socks:
                sock.close()

        self._release = close_all
        return {"held": len(socks)}

    def keep(self, release: Callable[[], None], held: int) -> dict[str, float]:
        """Adopt connections opened elsewhere (the zmq client)."""
        self.release()
        self._release = release
        return {"held": held}

    def release(self) -> dict[str, float]:
        if self._release is not None:
            self._release()
            self._release = None
        return {}


JOBS: dict[str, Callable[..., dict[str, float]]] = {
    "flood": flood,
    "echo": echo,
    "pingpong": pingpong,
    "many": many,
    "paced": paced,
}


def run_job(job: dict[str, Any], holder: Holder) -> dict[str, Any]:
    """Run one job, on raw TCP or through the zmq client, by the shape of the address."""
    kind = job.pop("job")
    if kind == "release":
        return holder.release()
    is_zmq = "router" in job.get("address", {})
    if is_zmq:
        from .peers import zmq_peer

        if kind == "hold":
            release, held = zmq_peer.hold(**job)
            return holder.keep(release, held)
        return zmq_peer.JOBS[kind](**job)
    if kind == "hold":
        return holder.hold(**job)
    return JOBS[kind](**job)


def main() -> None:
    """Serve jobs from stdin until it closes; every answer is one JSON line."""
    raise_open_files_limit()
    holder = Holder()
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            answer: dict[str, Any] = {"ok": True, **run_job(json.loads(line), holder)}
        except Exception as exc:
            answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
    holder.release()


if __name__ == "__main__":
    main()
