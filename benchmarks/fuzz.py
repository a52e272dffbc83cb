"""Fuzz a live server: ``python -m benchmarks.fuzz [--seconds S] [--seed N] [--smoke]``.

Random and mutated frames (bit flips, truncation, duplication, huge length prefixes, random
bytes, bad UTF-8, oversize lines) go to every codec's port and to the composite service of
:mod:`benchmarks.proof_server`, running in its own process, from several connections at once,
each ended by a close, a half-close or a reset.  Meanwhile a neighbour connection does checked
request/replies the whole time: what one connection sends must never reach another.  At the
end every service must still answer a well-formed request.

Reports inputs sent, crashes (the server process died or stopped answering), neighbour errors,
the server's RSS before, at its peak and after; exits non-zero on a crash or a neighbour error.
"""

from __future__ import annotations

import argparse
import random
import socket
import struct
import sys
import time
from collections.abc import Callable
from typing import Any

import trio

import trio_reactive as tr

from .model import Ping, Pong, protocol_for
from .proof_client import ProofServer, valid_frames
from .proof_server import SERVICES

__all__ = ["MUTATIONS", "main", "mutate"]

#: The server's frame limit here: an oversize line is one byte past it.
MAX_MESSAGE_SIZE = 64 << 10
FUZZERS = 4
INPUTS_PER_CONNECTION = 8
#: How long a half-closed fuzz connection may take to be closed by the server.
DRAIN_TIMEOUT = 5.0
NEIGHBOUR_TIMEOUT = 5.0

Mutation = Callable[[random.Random, bytes], bytes]


def _bit_flips(rng: random.Random, frame: bytes) -> bytes:
    data = bytearray(frame)
    for _ in range(rng.randint(1, 8)):
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    return bytes(data)


def _truncation(rng: random.Random, frame: bytes) -> bytes:
    return frame[: rng.randrange(len(frame))]


def _duplication(rng: random.Random, frame: bytes) -> bytes:
    start = rng.randrange(len(frame))
    piece = frame[start : rng.randint(start + 1, len(frame))]
    return frame[:start] + piece * rng.randint(2, 50) + frame[start:]


def _huge_length_prefix(rng: random.Random, frame: bytes) -> bytes:
    length = rng.choice([0xFFFFFFFF, MAX_MESSAGE_SIZE + 1, rng.randrange(1 << 32)])
    return struct.pack("<I", length) + frame[4:]


def _random_bytes(rng: random.Random, _frame: bytes) -> bytes:
    return rng.randbytes(rng.randint(1, 512))


def _bad_utf8(rng: random.Random, frame: bytes) -> bytes:
    at = rng.randrange(len(frame))
    invalid = rng.choice([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88"])
    return frame[:at] + invalid + frame[at:]


def _oversize_line(rng: random.Random, _frame: bytes) -> bytes:
    return b"x" * (MAX_MESSAGE_SIZE + rng.randint(1, 4096)) + rng.choice([b"\n", b""])


def _valid(_rng: random.Random, frame: bytes) -> bytes:
    return frame


MUTATIONS: dict[str, Mutation] = {
    "bit_flips": _bit_flips,
    "truncation": _truncation,
    "duplication": _duplication,
    "huge_length_prefix": _huge_length_prefix,
    "random_bytes": _random_bytes,
    "bad_utf8": _bad_utf8,
    "oversize_line": _oversize_line,
    "valid": _valid,
}


def mutate(rng: random.Random, service: str) -> tuple[str, bytes]:
    """One input for ``service``: a mutation's name and its bytes."""
    name = rng.choice(list(MUTATIONS))
    frame = valid_frames(service, rng.randrange(1 << 31), rng.randint(1, 4))
    return name, MUTATIONS[name](rng, frame)


class Tally:
    def __init__(self) -> None:
        self.inputs = 0
        self.connections = 0
        self.by_mutation = dict.fromkeys(MUTATIONS, 0)
        self.neighbour_round_trips = 0
        self.neighbour_errors: list[str] = []
        self.rss_peak = 0
        #: Half-closed connections the server had not closed after DRAIN_TIMEOUT.
        self.stalled = 0


async def _fuzz_connection(rng: random.Random, port: int, service: str, tally: Tally) -> None:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    tally.connections += 1
    ending = rng.choice(["close", "half_close", "reset"])
    try:
        for _ in range(rng.randint(1, INPUTS_PER_CONNECTION)):
            name, data = mutate(rng, service)
            tally.inputs += 1
            tally.by_mutation[name] += 1
            await stream.send_all(data)
        if ending == "half_close":
            await stream.send_eof()
            with trio.move_on_after(DRAIN_TIMEOUT) as drain:
                while await stream.receive_some(65536):
                    pass
            tally.stalled += drain.cancelled_caught
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass  # the server closed a connection that sent garbage: what it should do
    finally:
        if ending == "reset":
            stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        await stream.aclose()


async def _fuzzer(seed: int, ports: dict[str, int], deadline: float, tally: Tally) -> None:
    rng = random.Random(seed)
    while trio.current_time() < deadline:
        service = rng.choice(SERVICES)
        await _fuzz_connection(rng, ports[service], service, tally)


async def _neighbour(port: int, stop: trio.Event, tally: Tally) -> None:
    """Checked request/replies on a connection of its own for as long as the fuzz lasts."""
    seq = 0
    async with tr.connect(protocol_for("variable"), "127.0.0.1", port) as connection:
        while not stop.is_set():
            ping = Ping(seq, seq * 7, seq / 3, 1)
            try:
                with trio.fail_after(NEIGHBOUR_TIMEOUT):
                    await connection.send(ping)
                    pong = await connection.receive()
            except (trio.TooSlowError, tr.ConnectionClosed) as exc:
                tally.neighbour_errors.append(f"round trip {seq}: {type(exc).__name__}")
                return
            if pong != Pong(ping.seq, ping.sent_ns, ping.value, ping.flags):
                tally.neighbour_errors.append(f"round trip {seq}: {pong!r}")
            tally.neighbour_round_trips += 1
            seq += 1
            await trio.sleep(0.001)


async def answers(ports: dict[str, int]) -> list[str]:
    """Every service answers a well-formed request; the services that did not."""
    silent = []
    for service, port in ports.items():
        try:
            with trio.fail_after(NEIGHBOUR_TIMEOUT):
                stream = await trio.open_tcp_stream("127.0.0.1", port)
                async with stream:
                    await stream.send_all(valid_frames(service, 1, 1))
                    if not await stream.receive_some(65536):
                        silent.append(service)
        except (OSError, trio.TooSlowError, trio.BrokenResourceError):
            silent.append(service)
    return silent


async def _sample_rss(server: ProofServer, tally: Tally) -> None:
    while True:
        if server.alive:
            tally.rss_peak = max(tally.rss_peak, server.rss())
        await trio.sleep(0.05)


async def run(seconds: float, seed: int) -> dict[str, Any]:
    server = ProofServer("--max-message-size", str(MAX_MESSAGE_SIZE))
    tally = Tally()
    try:
        silent_before = await answers(server.ports)
        rss_before = server.rss()
        tally.rss_peak = rss_before
        stop = trio.Event()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_sample_rss, server, tally)
            nursery.start_soon(_neighbour, server.ports["variable"], stop, tally)
            deadline = trio.current_time() + seconds
            async with trio.open_nursery() as fuzzers:
                for i in range(FUZZERS):
                    fuzzers.start_soon(_fuzzer, seed * 1000 + i, server.ports, deadline, tally)
            stop.set()
            await server.settled()
            nursery.cancel_scope.cancel()
        silent = await answers(server.ports) if server.alive else list(server.ports)
        alive = server.alive
        rss_after = server.rss() if alive else 0
        if alive:
            await server.settled()
        events = {kind: server.count(kind) for kind in ("Connected", "Disconnected", "Rejected")}
        if alive:
            events["InputError"] = (await server.stats())["input_errors"]
    finally:
        server.stop()
    return {
        "seconds": seconds,
        "seed": seed,
        "inputs": tally.inputs,
        "connections": tally.connections,
        "by_mutation": tally.by_mutation,
        "crashes": 0 if alive and not silent else 1,
        "silent_services": silent,
        "silent_before": silent_before,
        "neighbour_round_trips": tally.neighbour_round_trips,
        "neighbour_errors": tally.neighbour_errors,
        "rss_before": rss_before,
        "rss_peak": tally.rss_peak,
        "rss_after": rss_after,
        "server_events": events,
        "stalled_half_closes": tally.stalled,
        "server_tracebacks": server.tracebacks(),
    }


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB"


def print_report(r: dict[str, Any]) -> None:
    errors = r["neighbour_errors"]
    lines = [
        f"fuzz: {r['seconds']:g} s, seed {r['seed']}",
        f"  inputs sent         {r['inputs']} on {r['connections']} connections",
        f"  by mutation         {r['by_mutation']}",
        f"  server crashes      {r['crashes']} (silent services at the end: "
        f"{', '.join(r['silent_services']) or 'none'})",
        f"  neighbour errors    {len(errors)} in {r['neighbour_round_trips']} checked round trips"
        + (f": {errors}" if errors else ""),
        f"  server RSS          before {_mib(r['rss_before'])}, peak {_mib(r['rss_peak'])}, "
        f"after {_mib(r['rss_after'])}",
        f"  server events       {r['server_events']}, tracebacks logged {r['server_tracebacks']}",
        f"  stalled half-closes {r['stalled_half_closes']} (open {DRAIN_TIMEOUT:g} s after EOF)",
    ]
    print("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fuzz")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--smoke", action="store_true", help="a few seconds: it still runs")
    options = parser.parse_args(argv)
    seconds = 3.0 if options.smoke else options.seconds
    result = trio.run(run, seconds, options.seed)
    print_report(result)
    failed = result["crashes"] or result["neighbour_errors"] or result["silent_before"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
