"""pyzmq, server and client: zmq cannot be spoken over raw TCP, so it brings its own client.

zmq frames every message itself, so payloads travel unframed (one zmq message per application
message; zmq batches them on the wire).  The server is the usual pyzmq loop: a ``Poller`` over a
PULL socket (one-way) and a ROUTER (request/response), draining each ready socket with
non-blocking receives.  One-way traffic cannot answer on PULL, so the flood's final
acknowledgement goes back over a PUSH socket the client pulls from.

High-water marks are raised from zmq's default of 1,000 messages: a ROUTER silently drops what
exceeds it, which a pipelined echo would otherwise hit.  The client jobs mirror
:mod:`benchmarks.load` (same names, arguments and results) and keep their sockets to a server
between jobs, so that no acknowledgement is ever routed to a client that has gone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import zmq

from ..load import SENT_NS, WARM_ROUND_TRIPS, Window, closed_loop, open_loop
from ..model import QUIET, REPLY, Ping, respond
from ..wire import WireCodec, client_wire, server_wire

__all__ = ["JOBS", "hold", "serve"]

HWM = 100_000
BACKLOG = 4096
#: Requests in flight in the pipelined echo: well under HWM, deep enough to stream.
WINDOW = 10_000
#: Sockets one client context may open (zmq's default is 1,023).
MAX_SOCKETS = 16_384

Address = dict[str, Any]


def _configure(sock: zmq.Socket[bytes]) -> None:
    sock.setsockopt(zmq.SNDHWM, HWM)
    sock.setsockopt(zmq.RCVHWM, HWM)
    sock.setsockopt(zmq.LINGER, 0)


def serve(codec: str, announce: Callable[[dict[str, Any]], None]) -> None:
    wire = server_wire(codec)
    decode, encode = wire.decode_payload, wire.encode_payload
    context = zmq.Context()
    pull, ack, router = (context.socket(kind) for kind in (zmq.PULL, zmq.PUSH, zmq.ROUTER))
    endpoints = {}
    for name, sock in (("pull", pull), ("ack", ack), ("router", router)):
        _configure(sock)
        sock.setsockopt(zmq.BACKLOG, BACKLOG)
        endpoints[name] = f"tcp://127.0.0.1:{sock.bind_to_random_port('tcp://127.0.0.1')}"
    announce(endpoints)
    poller = zmq.Poller()
    poller.register(pull, zmq.POLLIN)
    poller.register(router, zmq.POLLIN)
    NOBLOCK, Again = zmq.NOBLOCK, zmq.Again
    while True:
        for sock, _ in poller.poll():
            if sock is pull:
                while True:
                    try:
                        payload = pull.recv(NOBLOCK)
                    except Again:
                        break
                    reply = respond(None, decode(payload))
                    if reply is not None:
                        ack.send(encode(reply))
            else:
                while True:
                    try:
                        identity, payload = router.recv_multipart(NOBLOCK)
                    except Again:
                        break
                    reply = respond(None, decode(payload))
                    if reply is not None:
                        router.send_multipart((identity, encode(reply)))


# ---------------------------------------------------------------------------------- client

_context: zmq.Context[zmq.Socket[bytes]] | None = None
_kept: dict[tuple[str, int], zmq.Socket[bytes]] = {}


def _client_context() -> zmq.Context[zmq.Socket[bytes]]:
    global _context  # noqa: PLW0603 - one per client process
    if _context is None:
        _context = zmq.Context()
        _context.setsockopt(zmq.LINGER, 0)
        _context.set(zmq.MAX_SOCKETS, MAX_SOCKETS)
    return _context


def _socket(kind: int, endpoint: str, keep: bool = True) -> zmq.Socket[bytes]:
    """A connected client socket; kept ones are reused by later jobs on the same server."""
    if keep and (endpoint, kind) in _kept:
        return _kept[(endpoint, kind)]
    sock = _client_context().socket(kind)
    _configure(sock)
    sock.connect(endpoint)
    if keep:
        _kept[(endpoint, kind)] = sock
    return sock


def _payload(wire: WireCodec, flags: int, seq: int = 0) -> bytes:
    return wire.encode_payload(Ping(seq, SENT_NS, 1.5, flags))


def _dealer_round_trips(dealer: zmq.Socket[bytes], wire: WireCodec, times: int) -> None:
    round_trip = _dealer_round_trip(dealer, wire)
    for _ in range(times):
        round_trip()


def flood(address: Address, codec: str, count: int) -> dict[str, float]:
    wire = client_wire(codec)
    push = _socket(zmq.PUSH, address["pull"])
    acks = _socket(zmq.PULL, address["ack"])
    # Both connections are up (and warm) once an acknowledged message has come back.
    for _ in range(WARM_ROUND_TRIPS):
        push.send(_payload(wire, REPLY))
        acks.recv()
    quiet = _payload(wire, QUIET)
    send = push.send
    start = time.perf_counter()
    for _ in range(count - 1):
        send(quiet)
    send(_payload(wire, REPLY))
    acks.recv()
    return {"msgs_per_s": count / (time.perf_counter() - start)}


def echo(address: Address, codec: str, count: int) -> dict[str, float]:
    wire = client_wire(codec)
    dealer = _socket(zmq.DEALER, address["router"])
    _dealer_round_trips(dealer, wire, WARM_ROUND_TRIPS)
    request = _payload(wire, REPLY)
    send, recv = dealer.send, dealer.recv
    NOBLOCK, Again = zmq.NOBLOCK, zmq.Again
    sent = received = 0
    start = time.perf_counter()
    while received < count:
        while sent < count and sent - received < WINDOW:
            send(request)
            sent += 1
        recv()
        received += 1
        while True:
            try:
                recv(NOBLOCK)
            except Again:
                break
            received += 1
    return {"msgs_per_s": count / (time.perf_counter() - start)}


def _dealer_round_trip(dealer: zmq.Socket[bytes], wire: WireCodec) -> Callable[[], None]:
    request = _payload(wire, REPLY)
    send, recv = dealer.send, dealer.recv

    def round_trip() -> None:
        send(request)
        recv()

    return round_trip


def pingpong(address: Address, codec: str, duration: float) -> dict[str, float]:
    wire = client_wire(codec)
    dealer = _socket(zmq.DEALER, address["router"])
    _dealer_round_trips(dealer, wire, WARM_ROUND_TRIPS)
    return closed_loop(_dealer_round_trip(dealer, wire), duration)


def _open_dealers(address: Address, wire: WireCodec, connections: int) -> list[zmq.Socket[bytes]]:
    dealers = []
    try:
        for _ in range(connections):
            dealers.append(_socket(zmq.DEALER, address["router"], keep=False))
        request = _payload(wire, REPLY)
        for dealer in dealers:
            dealer.send(request)
        for dealer in dealers:
            dealer.recv()
    except BaseException:
        for dealer in dealers:
            dealer.close()
        raise
    return dealers


def many(address: Address, codec: str, connections: int, duration: float) -> dict[str, float]:
    wire = client_wire(codec)
    dealers = _open_dealers(address, wire, connections)
    try:
        request = _payload(wire, REPLY)
        poller = zmq.Poller()
        for dealer in dealers:
            poller.register(dealer, zmq.POLLIN)
        window = Window(duration, warm=min(0.2, duration * 0.2))
        clock, record = window.clock, window.latencies.append
        sent_at: dict[zmq.Socket[bytes], int] = {}
        for dealer in dealers:
            sent_at[dealer] = clock()
            dealer.send(request)
        NOBLOCK, Again = zmq.NOBLOCK, zmq.Again
        while window.running():
            for dealer, _ in poller.poll(50):
                try:
                    dealer.recv(NOBLOCK)
                except Again:
                    continue
                now = clock()
                record(now - sent_at[dealer])
                sent_at[dealer] = now
                dealer.send(request)
        return window.result("msgs_per_s")
    finally:
        for dealer in dealers:
            dealer.close()


def paced(
    address: Address, codec: str, rate: float, duration: float, server_pid: int
) -> dict[str, float]:
    wire = client_wire(codec)
    dealer = _socket(zmq.DEALER, address["router"])
    _dealer_round_trips(dealer, wire, WARM_ROUND_TRIPS)
    return open_loop(_dealer_round_trip(dealer, wire), rate, duration, server_pid)


def hold(address: Address, codec: str, connections: int) -> tuple[Callable[[], None], int]:
    """Open idle DEALERs (each served once); return how to close them and how many."""
    dealers = _open_dealers(address, client_wire(codec), connections)

    def close_all() -> None:
        for dealer in dealers:
            dealer.close()

    return close_all, len(dealers)


JOBS: dict[str, Callable[..., dict[str, float]]] = {
    "flood": flood,
    "echo": echo,
    "pingpong": pingpong,
    "many": many,
    "paced": paced,
}
