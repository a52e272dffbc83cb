"""What the idle timeout and the heartbeat measure from: the last write counts as traffic.

A reply written at once, leaving the outbox idle, stamps the outbox only when something looks
at an idle outbox's stamp (an idle timeout, a heartbeat); the write timeout looks only at a
busy one.  These tests pin both sides of that: writes alone keep a connection from its idle
timeout, and replies flowing hold back the heartbeat.  Real sockets under the autojump clock,
in both reader modes (the suite runs twice).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import trio

import trio_reactive as tr
from tests.engine_support import (
    PROCESSORS,
    Pong,
    Recorder,
    protocol,
    raw_connect,
    read_until_eof,
    start_server,
)

pytestmark = pytest.mark.timeout(30)

PING = b'{"Ping":{"n":1}}\n'


async def _pusher(peer: tr.Peer, messages: AsyncIterator[Any]) -> None:
    """After the first message, one Pong every 20 s, four in all; the peer only reads."""
    async for _ in messages:
        for n in range(4):
            await peer.send(Pong(n, 0))
            await trio.sleep(20)


async def test_writes_alone_keep_a_connection_from_its_idle_timeout(autojump_clock: Any) -> None:
    events = Recorder()
    async with trio.open_nursery() as nursery:
        server = await start_server(
            nursery, protocol(), _pusher, config=tr.Config(idle_timeout=30), on_event=events
        )
        stream = await raw_connect(server.port)
        await stream.send_all(PING)
        received = b""
        while received.count(b"\n") < 4:  # 80 s of writes one way only, 20 s apart
            with trio.fail_after(21):
                data = await stream.receive_some()
            assert data, received  # not closed: the pushes so far were traffic
            received += data
        assert not events.of(tr.Disconnected)
        assert received == b"".join(b'{"Pong":{"n":%d,"at":0}}\n' % n for n in range(4))
        start = trio.current_time()
        with trio.fail_after(60):
            assert await read_until_eof(stream) == b""  # idle at last: closed gracefully
        assert trio.current_time() - start == pytest.approx(30, abs=0.01)
        await stream.aclose()
        await events.wait_for(tr.Disconnected)
        (event,) = events.of(tr.Disconnected)
        assert event.reason is tr.DisconnectReason.IDLE_TIMEOUT
        await server.shutdown()


async def test_replies_flowing_hold_back_the_heartbeat(autojump_clock: Any) -> None:
    config = tr.Config(heartbeat_interval=10)
    async with trio.open_nursery() as nursery:
        server = await start_server(nursery, protocol(), PROCESSORS["handler"], config=config)
        stream = await raw_connect(server.port)
        received = b""
        for n in range(6):  # a reply every 6 s: the server never goes 10 s without writing
            await stream.send_all(b'{"Ping":{"n":%d}}\n' % n)
            with trio.fail_after(1):
                received += await stream.receive_some()
            await trio.sleep(6)
        with trio.fail_after(11):
            heartbeat = await stream.receive_some()  # now 10 s pass with nothing to say
        assert received == b"".join(b'{"Pong":{"n":%d,"at":%d}}\n' % (n, 2 * n) for n in range(6))
        assert heartbeat == protocol().side("server").codec.heartbeat
        await stream.aclose()
        await server.shutdown()
