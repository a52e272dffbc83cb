"""A soak: ``python -m benchmarks.soak --minutes M --connections N [--smoke]``.

N clients (default 1,000) each keep a connection to :mod:`benchmarks.proof_server` (in its own
process; the clients share the codecs between them) and send it sequence-numbered requests, a
few in flight at a time, checking every reply: its sequence number is the oldest one
outstanding (else a request was lost or a reply overtook another) and its fields are the
request's.  Each client disconnects at random and connects again, carrying on with its sequence:
most of the time after its last reply (nothing may be missing then), sometimes with requests in
flight (those are abandoned by the client, counted apart, not lost).

Prints a line every ``--every`` seconds (the server's RSS and descriptors, connections, replies
so far) and, at the end, lost, reordered and corrupt replies (all 0) and the server's
descriptors once every client has gone, against what it had before they came.  Exits non-zero
on a lost, reordered or corrupt reply, or a leaked descriptor or peer.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from typing import Any

import trio

import trio_reactive as tr

from .model import CODEC_NAMES, Ping, Pong, protocol_for
from .proof_client import ProofServer
from .stats import raise_open_files_limit

__all__ = ["Soak", "main"]

#: Requests a client keeps in flight.
WINDOW = 4
#: How long a reply may take before its request counts as lost.
REPLY_TIMEOUT = 30.0
#: The chance that a client leaves with requests in flight instead of after its last reply.
ABRUPT = 0.2


class Soak:
    """The clients' shared tally."""

    def __init__(self, connections: int, rate: float, seed: int) -> None:
        self.connections = connections
        self.rate = rate
        self.seed = seed
        self.stopping = False
        self.live = 0
        self.connects = 0
        self.sent = 0
        self.replies = 0
        self.lost = 0
        self.reordered = 0
        self.corrupt = 0
        self.abandoned = 0
        self.connect_failures = 0
        self.errors: list[str] = []

    def check(self, outstanding: list[Ping], pong: Pong) -> None:
        """Match ``pong`` against the oldest outstanding request."""
        self.replies += 1
        if not outstanding or pong.seq < outstanding[0].seq:
            self.reordered += 1
            return
        while outstanding and outstanding[0].seq < pong.seq:
            outstanding.pop(0)
            self.lost += 1
        if not outstanding:
            self.reordered += 1
            return
        ping = outstanding.pop(0)
        if (pong.sent_ns, pong.value, pong.flags) != (ping.sent_ns, ping.value, ping.flags):
            self.corrupt += 1


async def _one_connection(
    soak: Soak, rng: random.Random, protocol: tr.Protocol, port: int, first_seq: int
) -> int:
    """One connection's turn: returns the next sequence number."""
    seq = first_seq
    messages = rng.randint(1, 400)
    abrupt = rng.random() < ABRUPT
    pause = 1 / soak.rate
    outstanding: list[Ping] = []
    try:
        async with tr.connect(protocol, "127.0.0.1", port) as connection:
            soak.connects += 1
            soak.live += 1
            try:
                while seq - first_seq < messages and not soak.stopping:
                    while len(outstanding) < WINDOW and seq - first_seq < messages:
                        ping = Ping(seq, seq * 3, seq / 7, 1)
                        await connection.send(ping)
                        soak.sent += 1
                        outstanding.append(ping)
                        seq += 1
                    if abrupt and rng.random() < 0.05:
                        break
                    with trio.fail_after(REPLY_TIMEOUT):
                        soak.check(outstanding, await connection.receive())
                    await trio.sleep(pause * rng.uniform(0.5, 1.5))
                if abrupt:
                    soak.abandoned += len(outstanding)
                    outstanding.clear()
                while outstanding:
                    with trio.fail_after(REPLY_TIMEOUT):
                        soak.check(outstanding, await connection.receive())
            finally:
                soak.live -= 1
    except (trio.TooSlowError, tr.ConnectionClosed) as exc:
        soak.errors.append(f"{type(exc).__name__} with {len(outstanding)} outstanding")
        soak.lost += len(outstanding)
    except tr.ConnectFailed as exc:
        soak.connect_failures += 1
        soak.errors.append(f"ConnectFailed: {exc}")
        await trio.sleep(1.0)
    return seq


async def _client(soak: Soak, index: int, ports: dict[str, int], ramp: float) -> None:
    rng = random.Random(soak.seed * 100_003 + index)
    codec = CODEC_NAMES[index % len(CODEC_NAMES)]
    protocol = protocol_for(codec)
    await trio.sleep(rng.uniform(0, ramp))
    seq = 0
    while not soak.stopping:
        seq = await _one_connection(soak, rng, protocol, ports[codec], seq)


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB"


async def _report(soak: Soak, server: ProofServer, every: float, started: float) -> None:
    while True:
        await trio.sleep(every)
        stats = await server.stats()
        print(
            f"  {trio.current_time() - started:6.0f} s  server RSS {_mib(server.rss()):>10}  "
            f"fds {stats['fds']:5}  live {soak.live:5}  connects {soak.connects:7}  "
            f"replies {soak.replies:9}  lost {soak.lost}  reordered {soak.reordered}",
            flush=True,
        )


async def run(minutes: float, connections: int, rate: float, every: float, seed: int) -> Any:
    raise_open_files_limit()
    server = ProofServer("--services", ",".join(CODEC_NAMES))
    soak = Soak(connections, rate, seed)
    try:
        before = await server.stats()
        rss_before = server.rss()
        print(
            f"soak: {connections} connections, {minutes:g} min, about {rate:g} requests/s each "
            f"({WINDOW} in flight), seed {seed}; server RSS {_mib(rss_before)}, "
            f"fds {before['fds']}",
            flush=True,
        )
        started = trio.current_time()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_report, soak, server, every, started)
            async with trio.open_nursery() as clients:
                ramp = min(10.0, minutes * 6)
                for index in range(connections):
                    clients.start_soon(_client, soak, index, server.ports, ramp)
                await trio.sleep(minutes * 60)
                soak.stopping = True  # every client finishes its connection and stops
            nursery.cancel_scope.cancel()
        after = await server.settled(30.0)
        result = {
            "sent": soak.sent,
            "replies": soak.replies,
            "connects": soak.connects,
            "lost": soak.lost,
            "reordered": soak.reordered,
            "corrupt": soak.corrupt,
            "abandoned": soak.abandoned,
            "connect_failures": soak.connect_failures,
            "errors": soak.errors[:10],
            "server_fds_before": before["fds"],
            "server_fds_after": after["fds"],
            "server_peers_after": after["peers"],
            "server_tasks": (before["tasks"], after["tasks"]),
            "rss_before": rss_before,
            "rss_after": server.rss(),
            "client_fds_after": len(os.listdir("/proc/self/fd")),
            "alive": server.alive,
        }
    finally:
        server.stop()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=5.0, help="requests/s per connection")
    parser.add_argument("--every", type=float, default=30.0, help="seconds between lines")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--smoke", action="store_true", help="a few seconds, 50 connections")
    options = parser.parse_args(argv)
    if options.smoke:
        options.minutes, options.connections, options.rate, options.every = 0.1, 50, 50.0, 2.0
    r = trio.run(
        run, options.minutes, options.connections, options.rate, options.every, options.seed
    )
    print(
        f"sent {r['sent']}, replies {r['replies']} on {r['connects']} connections; "
        f"lost {r['lost']}, reordered {r['reordered']}, corrupt {r['corrupt']}; "
        f"abandoned by the client {r['abandoned']}; connect failures {r['connect_failures']}"
    )
    print(
        f"server at the end: fds {r['server_fds_before']} -> {r['server_fds_after']}, "
        f"peers {r['server_peers_after']}, tasks {r['server_tasks'][0]} -> "
        f"{r['server_tasks'][1]}, RSS {_mib(r['rss_before'])} -> {_mib(r['rss_after'])}; "
        f"client fds {r['client_fds_after']}"
    )
    if r["errors"]:
        print(f"first errors: {r['errors']}")
    leaked = r["server_fds_after"] != r["server_fds_before"] or r["server_peers_after"]
    failed = r["lost"] or r["reordered"] or r["corrupt"] or leaked or not r["alive"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
