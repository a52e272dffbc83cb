"""Regressions: wrong replies, endings by cancellation, endless routing, impossible limits."""

from __future__ import annotations

import enum
from typing import Any

import pytest
import trio

import trio_reactive as tr
from tests.engine_support import (
    PROCESSORS,
    Ping,
    Pong,
    Recorder,
    first_ping_fails,
    protocol,
    raw_connect,
    read_until_eof,
    start_server,
)

pytestmark = pytest.mark.timeout(30)


@pytest.mark.parametrize("wrong", [Ping(1), "a string", 42], ids=["other-side", "str", "int"])
async def test_a_wrong_reply_is_a_processor_error_not_a_crash(wrong: Any) -> None:
    def confused(peer: tr.Peer, message: Ping) -> Any:
        return wrong if message.n == 1 else Pong(message.n, 0)

    events = Recorder()
    await first_ping_fails(protocol("textual"), confused, events)
    (error,) = events.of(tr.ProcessorError)
    assert isinstance(error.error, tr.EncodeError)
    assert "expected one of the messages this side sends (Pong, Quit)" in str(error.error)


async def test_cancelling_the_server_closes_its_connections() -> None:
    proto = protocol("textual")
    events = Recorder()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, proto, PROCESSORS["handler"], on_event=events)
            stream = await raw_connect(server.port)
            await stream.send_all(b'{"Ping":{"n":1}}\n')
            assert await stream.receive_some() == b'{"Pong":{"n":1,"at":2}}\n'
            nursery.cancel_scope.cancel()
        with trio.CancelScope(shield=True):
            assert await read_until_eof(stream) == b""  # the peer sees the socket close
    (gone,) = events.of(tr.Disconnected)
    assert gone.reason is tr.DisconnectReason.ABORTED


class Room(enum.Enum):
    HALL = 1
    KITCHEN = 2


async def test_a_router_that_never_stops_cannot_loop_after_the_input_ends() -> None:
    async def wander(peer: tr.Peer, messages: Any) -> Any:
        async for message in messages:
            yield Pong(message.n, peer.stage.value)
            return

    service = tr.Service(
        {Room.HALL: tr.Stage(protocol(), wander), Room.KITCHEN: tr.Stage(protocol(), wander)},
        initial=Room.HALL,
        router=lambda peer: Room.KITCHEN if peer.stage is Room.HALL else Room.HALL,
    )
    events = Recorder()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, service, on_event=events)
            stream = await raw_connect(server.port)
            await stream.send_all(b'{"Ping":{"n":1}}\n{"Ping":{"n":2}}\n')
            await stream.send_eof()
            replies = await read_until_eof(stream)
            await events.wait_for(tr.Disconnected)
            await server.shutdown()
    assert replies == b'{"Pong":{"n":1,"at":1}}\n{"Pong":{"n":2,"at":2}}\n'
    assert len(events.of(tr.PeerArrived)) == 3  # HALL, KITCHEN, then one idle HALL: no more


async def test_an_impossible_limit_is_refused_when_the_server_starts() -> None:
    proto = protocol("fixed")  # records of 25 bytes
    with pytest.raises(tr.ConfigError, match="exceeds max_message_size"):
        await tr.serve_tcp(
            proto, PROCESSORS["handler"], 0, "127.0.0.1", config=tr.Config(max_message_size=8)
        )
    with pytest.raises(tr.ConfigError, match="exceeds max_message_size"):
        await tr.run_client(
            proto, PROCESSORS["handler"], "127.0.0.1", 1, config=tr.Config(max_message_size=8)
        )


async def test_one_input_error_hook_serves_decode_errors_and_oversize_frames() -> None:
    replies: list[str] = []

    def on_bad_input(error: Exception) -> None:
        replies.append(error.reason)  # type: ignore[attr-defined]

    proto = protocol("textual", input_error=on_bad_input)
    config = tr.Config(max_message_size=32)
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, proto, PROCESSORS["handler"], config=config)
            stream = await raw_connect(server.port)
            await stream.send_all(b"bad\n" + b"x" * 40)
            await read_until_eof(stream)
            await server.shutdown()
    assert len(replies) == 2
    assert "exceeds max_message_size=32" in replies[1]
