"""Limits a server keeps under pressure: connections held, log lines written, keepalive timers."""

from __future__ import annotations

import errno
import logging
import math
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

import trio_reactive as tr
from tests.engine_support import (
    PROCESSORS,
    Ping,
    Pong,
    Recorder,
    protocol,
    raw_connect,
    read_until_eof,
    start_ping_listeners,
    start_ping_server,
    start_server,
)
from trio_reactive._logs import RateLimitedLog
from trio_reactive._sockets import KEEPALIVE_OPTIONS
from trio_reactive.client import open_stream

pytestmark = pytest.mark.timeout(30)


async def test_connections_beyond_max_connections_are_closed_at_once() -> None:
    events = Recorder()
    proto = protocol()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_server(
                nursery,
                proto,
                PROCESSORS["handler"],
                config=tr.Config(max_connections=3),
                on_event=events,
            )
            held = [await raw_connect(server.port) for _ in range(3)]
            await events.wait_for(tr.Connected, 3)
            newcomers = [await raw_connect(server.port) for _ in range(5)]
            for stream in newcomers:
                assert await read_until_eof(stream) == b""
                await stream.aclose()
            await events.wait_for(tr.Rejected, 5)
            rejected = events.of(tr.Rejected)
            assert {event.reason for event in rejected} == {
                tr.DisconnectReason.TOO_MANY_CONNECTIONS
            }
            assert all(event.address[0] == "127.0.0.1" for event in rejected)
            # The connections held are served all along.
            for n, stream in enumerate(held):
                await stream.send_all(b'{"Ping":{"n":%d}}\n' % n)
                assert await stream.receive_some() == b'{"Pong":{"n":%d,"at":%d}}\n' % (
                    n,
                    2 * n,
                )
            # One leaves: there is room for one more.
            await held.pop().aclose()
            await events.wait_for(tr.Disconnected)
            async with tr.connect(proto, "127.0.0.1", server.port) as conn:
                await conn.send(Ping(7))
                assert await conn.receive() == Pong(7, 14)
            for stream in held:
                await stream.aclose()
            await server.shutdown()
    assert events.count()["Connected"] == 4
    assert events.count()["Rejected"] == 5


async def test_streams_handed_to_the_server_count_against_the_limit() -> None:
    events = Recorder()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_ping_server(
                nursery, config=tr.Config(max_connections=1), on_event=events
            )
            first, _first_client = trio.testing.memory_stream_pair()
            second, second_client = trio.testing.memory_stream_pair()
            await server.serve_stream(first)
            await server.serve_stream(second)
            await events.wait_for(tr.Rejected)
            assert await second_client.receive_some() == b""
            assert events.count()["Connected"] == 1
            await server.shutdown()


class _FullListener(trio.abc.Listener[trio.abc.Stream]):
    """accept() out of file descriptors, for ever."""

    def __init__(self) -> None:
        self.calls = 0

    async def accept(self) -> trio.abc.Stream:
        self.calls += 1
        await trio.lowlevel.checkpoint()
        raise OSError(errno.EMFILE, "Too many open files")

    async def aclose(self) -> None:
        await trio.lowlevel.checkpoint()


async def test_repeated_accept_errors_are_rate_limited(
    autojump_clock: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="trio_reactive")
    listener = _FullListener()
    async with trio.open_nursery() as nursery:
        server = await start_ping_listeners(nursery, [listener])
        await trio.sleep(65)
        await server.shutdown()
    lines = [
        record.getMessage() for record in caplog.records if "accept() failed" in record.message
    ]
    # Ten failures a second for 65 s, one line per ten seconds, and every failure accounted for.
    assert listener.calls >= 650
    assert len(lines) == 7
    assert "suppressed" not in lines[0]
    counts = [int(re.search(r"\((\d+) similar lines suppressed\)$", line)[1]) for line in lines[1:]]
    assert all(count >= 99 for count in counts)
    assert len(lines) + sum(counts) + server._accept_log.suppressed(errno.EMFILE) == listener.calls


def test_a_rate_limited_log_counts_what_it_drops(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    log = RateLimitedLog(logging.getLogger("tests.limits"), interval=5, clock=lambda: now[0])
    caplog.set_level(logging.WARNING, logger="tests.limits")
    assert log.warning("first %s", 1, key="a")
    assert not log.warning("again", key="a")
    assert log.warning("other kind")  # a kind of its own: its format
    assert log.suppressed("a") == 1
    now[0] = 5.0
    assert log.error("later %d", 2, key="a")
    assert [r.getMessage() for r in caplog.records] == [
        "first 1",
        "other kind",
        "later 2 (1 similar lines suppressed)",
    ]
    assert [r.levelno for r in caplog.records] == [logging.WARNING, logging.WARNING, logging.ERROR]


def test_an_endless_interval_logs_each_kind_once(caplog: pytest.LogCaptureFixture) -> None:
    log = RateLimitedLog(logging.getLogger("tests.limits"), interval=math.inf, clock=lambda: 1e9)
    caplog.set_level(logging.WARNING, logger="tests.limits")
    assert [log.warning("bad frame %d", n) for n in range(1000)].count(True) == 1
    assert log.suppressed("bad frame %d") == 999


class _Recording(trio.abc.Listener[trio.abc.Stream]):
    """A listener wrapping another and keeping what it hands out, to look at the sockets."""

    def __init__(self, inner: trio.SocketListener) -> None:
        self.transport_listener = inner  # as trio.SSLListener has: server.port finds the socket
        self.streams: list[trio.SocketStream] = []

    async def accept(self) -> trio.abc.Stream:
        stream = await self.transport_listener.accept()
        self.streams.append(stream)
        return stream

    async def aclose(self) -> None:
        await self.transport_listener.aclose()


KEEPALIVE = tr.Config(keepalive=True, keepalive_idle=30, keepalive_interval=5, keepalive_count=4)


def _keepalive_of(stream: trio.SocketStream) -> dict[str, int]:
    found = {"on": stream.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)}
    for field, option in KEEPALIVE_OPTIONS.items():
        found[field] = stream.getsockopt(socket.IPPROTO_TCP, option)
    return found


def test_this_system_has_the_keepalive_timers() -> None:
    assert set(KEEPALIVE_OPTIONS) == {"keepalive_idle", "keepalive_interval", "keepalive_count"}


async def test_keepalive_timers_are_set_on_both_ends() -> None:
    expected = {"on": 1, "keepalive_idle": 30, "keepalive_interval": 5, "keepalive_count": 4}
    events = Recorder()
    with trio.fail_after(10):
        (inner,) = await trio.open_tcp_listeners(0, host="127.0.0.1")
        listener = _Recording(inner)
        async with trio.open_nursery() as nursery:
            server = await start_ping_listeners(
                nursery, [listener], config=KEEPALIVE, on_event=events
            )
            client = await open_stream("127.0.0.1", server.port, KEEPALIVE)
            assert isinstance(client, trio.SocketStream)
            await events.wait_for(tr.Connected)
            assert _keepalive_of(client) == expected
            assert _keepalive_of(listener.streams[0]) == expected
            await client.aclose()
            await server.shutdown()


async def test_without_tuning_the_system_timers_stay() -> None:
    with trio.fail_after(10):
        (listener,) = await trio.open_tcp_listeners(0, host="127.0.0.1")
        port = listener.socket.getsockname()[1]
        async with trio.open_nursery() as nursery:
            nursery.start_soon(listener.accept)
            default = await trio.open_tcp_stream("127.0.0.1", port)
            client = await open_stream("127.0.0.1", port, tr.Config(keepalive=True))
            assert isinstance(client, trio.SocketStream)
            system = default.getsockopt(socket.IPPROTO_TCP, KEEPALIVE_OPTIONS["keepalive_idle"])
            assert client.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
            assert client.getsockopt(socket.IPPROTO_TCP, KEEPALIVE_OPTIONS["keepalive_idle"]) == (
                system
            )
            await client.aclose()
            await default.aclose()
            nursery.cancel_scope.cancel()
        await listener.aclose()


_SMALL_SERVER = """
import resource
import sys
from functools import partial

import trio

import trio_reactive as tr
from tests.engine_support import PROCESSORS, protocol

resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))


async def main():
    config = tr.Config(max_connections=int(sys.argv[1]) if sys.argv[1] != "none" else None)
    async with trio.open_nursery() as nursery:
        server = await nursery.start(
            partial(tr.serve_tcp, protocol(), PROCESSORS["handler"], 0, "127.0.0.1", config=config)
        )
        print(server.port, flush=True)


trio.run(main)
"""


async def _hundred_clients_of_a_server_with_64_descriptors(max_connections: str) -> list[bytes]:
    """What each of 100 clients gets for one ping: a reply, or b"" for a connection closed."""
    root = Path(__file__).resolve().parent.parent
    process = subprocess.Popen(
        [sys.executable, "-c", _SMALL_SERVER, max_connections],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        outcomes = []
        with trio.fail_after(20):
            streams = [await raw_connect(port) for _ in range(100)]
            for n, stream in enumerate(streams):
                try:
                    await stream.send_all(b'{"Ping":{"n":%d}}\n' % n)
                    outcomes.append(await stream.receive_some())
                except trio.BrokenResourceError:  # our ping reached a closed socket: a reset
                    outcomes.append(b"")
            for stream in streams:
                await stream.aclose()
        return outcomes
    finally:
        process.kill()
        process.wait(timeout=10)


async def test_below_the_descriptor_limit_newcomers_are_turned_away_not_left_waiting() -> None:
    """64 descriptors, max_connections=40, 100 clients: 40 served, 60 closed at once."""
    outcomes = await _hundred_clients_of_a_server_with_64_descriptors("40")
    assert len([data for data in outcomes if data]) == 40
    assert outcomes.count(b"") == 60


async def test_out_of_descriptors_newcomers_are_turned_away_not_left_waiting() -> None:
    """No max_connections: past the descriptor limit the spare one turns newcomers away."""
    outcomes = await _hundred_clients_of_a_server_with_64_descriptors("none")
    served = len([data for data in outcomes if data])
    assert 40 <= served < 64
    assert outcomes.count(b"") == 100 - served
