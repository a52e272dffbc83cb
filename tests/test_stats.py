"""``server.stats``: a typed snapshot of cumulative counts, from events and connection counters."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
import trio
import trio.testing

import trio_reactive as tr
from tests.engine_support import (
    PROCESSORS,
    Ping,
    Pong,
    Quit,
    Recorder,
    protocol,
    raw_connect,
    read_until_eof,
)

pytestmark = pytest.mark.timeout(30)


async def _settled(events: Recorder, disconnected: int) -> None:
    """Wait until ``disconnected`` connections have ended and their tasks are done."""
    await events.wait_for(tr.Disconnected, disconnected)
    await trio.testing.wait_all_tasks_blocked()


async def test_counts_accumulate_over_closed_and_live_connections() -> None:
    with trio.fail_after(10):
        events = Recorder()
        async with tr.open_server(
            protocol(), PROCESSORS["handler"], host="127.0.0.1", on_event=events
        ) as server:
            assert server.stats == tr.ServerStats()
            for n in range(3):
                async with tr.connect(protocol(), "127.0.0.1", server.port) as conn:
                    await conn.send(Ping(n))
                    assert await conn.receive() == Pong(n, 2 * n)
            await _settled(events, 3)
            live = await raw_connect(server.port)
            await live.send_all(b'{"Ping":{"n":7}}\n')
            assert await live.receive_some() == b'{"Pong":{"n":7,"at":14}}\n'
            stats = server.stats
            await live.aclose()
    assert stats.connections_accepted == 4
    assert stats.connections_live == 1
    assert stats.connections_closed == 3
    assert stats.messages_in == 4
    assert stats.messages_out == 4
    sent = [Ping(n) for n in (0, 1, 2, 7)]
    answered = [Pong(n, 2 * n) for n in (0, 1, 2, 7)]
    assert stats.bytes_in == len(protocol().side("client").codec.encoder().encode_batch(sent))
    assert stats.bytes_out == len(
        protocol().side("server").codec.encoder().encode_batch(answered)
    )
    assert stats.dropped_in == stats.dropped_out == 0
    assert stats.disconnects == {tr.DisconnectReason.PEER_CLOSED: 3}


async def test_errors_are_counted_by_kind() -> None:
    def picky(peer: tr.Peer, message: Any) -> Any:
        if isinstance(message, Quit):
            raise ValueError("no quitting")
        return Pong(message.n, 0)

    events = Recorder()
    config = tr.Config(close_on_input_error=True)
    with trio.fail_after(10):
        async with tr.open_server(
            protocol(), picky, host="127.0.0.1", config=config, on_event=events
        ) as server:
            stream = await raw_connect(server.port)
            await stream.send_all(b'{"Quit":{}}\n{"Ping":{"n":1}}\nnot json\n')
            while await stream.receive_some():
                pass
            await stream.aclose()
            await _settled(events, 1)
            stats = server.stats
    assert stats.processor_errors == 1
    assert stats.input_errors == 1
    assert stats.disconnects == {tr.DisconnectReason.INPUT_ERROR: 1}
    assert stats.messages_out == 1


def test_the_snapshot_is_frozen_and_documented() -> None:
    stats = tr.ServerStats()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        stats.messages_in = 1  # type: ignore[misc]
    assert tr.ServerStats.__doc__


@pytest.mark.parametrize("shape", sorted(PROCESSORS))
@pytest.mark.parametrize("reads", ["one read", "a read each"])
async def test_a_bad_frame_is_reported_and_not_counted_as_a_message(shape: str, reads: str) -> None:
    """Every processor shape counts the same: two good lines in, one bad line reported.

    A sync handler meets a lone bad frame on its one-frame shortcut and a bad frame inside a
    batch on the batch way; a stream processor never sees one.  None of them is a message in.
    """
    events = Recorder()
    lines = [b'{"Ping":{"n":1}}\n', b"not json\n", b'{"Ping":{"n":2}}\n']
    with trio.fail_after(10):
        async with tr.open_server(
            protocol(), PROCESSORS[shape], host="127.0.0.1", on_event=events
        ) as server:
            stream = await raw_connect(server.port)
            replies = b""
            if reads == "one read":
                await stream.send_all(b"".join(lines))
            else:
                for line in lines:
                    await stream.send_all(line)
                    if line.startswith(b"not"):  # read alone: reported before the next one
                        await events.wait_for(tr.InputError)
                    else:
                        replies += await stream.receive_some()  # its reply, one whole line
            await stream.send_eof()
            replies += await read_until_eof(stream)
            await stream.aclose()
            await _settled(events, 1)
            stats = server.stats
    assert replies == b'{"Pong":{"n":1,"at":2}}\n{"Pong":{"n":2,"at":4}}\n'
    assert stats.input_errors == 1
    assert stats.messages_in == 2
    assert stats.messages_out == 2
    assert [event.stats.messages_in for event in events.of(tr.PeerLeft)] == [2]
