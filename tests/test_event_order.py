"""The order of a connection's events: each stage's ``PeerArrived`` ... ``PeerLeft`` come
between ``Connected`` and ``Disconnected``, for servers and clients alike.

A ``tr.connect`` client is closed from the caller's task when the block is left, or by the
engine as soon as the server closes, while the caller may still be receiving; neither may
report ``Disconnected`` before the stage is left.  Each client below leaves its block in
another way; a server's connections, closed from either end, are held to the same order.
"""

from __future__ import annotations

import enum
from typing import Any

import pytest
import trio

import trio_reactive as tr
from tests.engine_support import PROCESSORS, Ping, Pong, Recorder, protocol, start_server

pytestmark = pytest.mark.timeout(60)


def story(events: Recorder, peer: tr.Peer | None = None) -> list[tuple[str, Any]]:
    """The connection events of ``peer`` (of the only peer, by default), in order: the kind,
    and the stage for a stage's events."""
    lifecycle = (tr.Connected, tr.PeerArrived, tr.PeerLeft, tr.Disconnected)
    told = [event for event in events.events if isinstance(event, lifecycle)]
    if peer is None:
        assert len({id(event.peer) for event in told}) == 1
    else:
        told = [event for event in told if event.peer is peer]
    return [(type(event).__name__, getattr(event, "stage", None)) for event in told]


def one_stage(stage: Any = None) -> list[tuple[str, Any]]:
    return [
        ("Connected", None),
        ("PeerArrived", stage),
        ("PeerLeft", stage),
        ("Disconnected", None),
    ]


# -- a connect client ------------------------------------------------------------------------


async def test_a_client_leaving_its_block_reports_the_stage_left_before_disconnected() -> None:
    proto = protocol()
    events = Recorder()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, proto, PROCESSORS["handler"])
            async with tr.connect(proto, "127.0.0.1", server.port, on_event=events) as conn:
                await conn.send(Ping(1))
                assert await conn.receive() == Pong(1, 2)
            assert story(events) == one_stage()
            (left,) = events.of(tr.PeerLeft)
            assert (left.stats.messages_in, left.stats.messages_out) == (1, 1)
            await server.shutdown()


class Boom(Exception):
    pass


async def test_a_client_leaving_its_block_by_an_exception_keeps_the_order() -> None:
    proto = protocol()
    events = Recorder()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, proto, PROCESSORS["handler"])
            with pytest.raises(Boom):
                async with tr.connect(proto, "127.0.0.1", server.port, on_event=events) as conn:
                    await conn.send(Ping(1))
                    assert await conn.receive() == Pong(1, 2)
                    raise Boom
            assert story(events) == one_stage()
            await server.shutdown()


async def test_a_client_the_server_closed_reports_the_stage_left_before_disconnected() -> None:
    """The server closes after its reply: ``PeerLeft`` then ``Disconnected`` reach the client
    while it is still in its block, the reply can still be received, and leaving the block
    reports nothing more."""
    proto = protocol()

    def answer_then_close(peer: tr.Peer, message: Any) -> Any:
        peer.close()
        return Pong(message.n, 0)

    events = Recorder()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, proto, answer_then_close)
            async with tr.connect(proto, "127.0.0.1", server.port, on_event=events) as conn:
                await conn.send(Ping(7))
                await events.wait_for(tr.Disconnected)
                assert story(events) == one_stage()
                assert not conn.peer.is_connected
                assert await conn.receive() == Pong(7, 0)
                with pytest.raises(tr.ConnectionClosed):
                    await conn.receive()
            assert story(events) == one_stage()
            await server.shutdown()


async def test_a_client_the_server_shut_down_keeps_the_order() -> None:
    proto = protocol()
    events = Recorder()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, proto, PROCESSORS["responsive"])
            async with tr.connect(proto, "127.0.0.1", server.port, on_event=events) as conn:
                await conn.send(Ping(1))
                assert await conn.receive() == Pong(1, 2)
                await server.shutdown()
                await events.wait_for(tr.Disconnected)
                assert story(events) == one_stage()
            assert story(events) == one_stage()


class Phase(enum.Enum):
    FIRST = 1
    SECOND = 2


def _first(peer: tr.Peer, message: Any) -> Any:
    peer.goto(Phase.SECOND)
    return Pong(message.n, 1)


def _second(peer: tr.Peer, message: Any) -> Any:
    return Pong(message.n, 2)


SERVICE = tr.Service(
    {Phase.FIRST: tr.Stage(protocol(), _first), Phase.SECOND: tr.Stage(protocol("fixed"), _second)},
    Phase.FIRST,
)

TWO_STAGES = [
    ("Connected", None),
    ("PeerArrived", Phase.FIRST),
    ("PeerLeft", Phase.FIRST),
    ("PeerArrived", Phase.SECOND),
    ("PeerLeft", Phase.SECOND),
    ("Disconnected", None),
]


async def test_a_client_leaving_after_a_stage_change_reports_both_stages_in_order() -> None:
    client_events, server_events = Recorder(), Recorder()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, SERVICE, on_event=server_events)
            async with tr.connect(
                SERVICE, "127.0.0.1", server.port, on_event=client_events
            ) as conn:
                await conn.send(Ping(1))
                assert await conn.receive() == Pong(1, 1)
                await conn.goto(Phase.SECOND)
                await conn.send(Ping(2))
                assert await conn.receive() == Pong(2, 2)
            assert story(client_events) == TWO_STAGES
            await server_events.wait_for(tr.Disconnected)
            assert story(server_events) == TWO_STAGES
            await server.shutdown()


async def test_a_client_the_server_closed_after_a_stage_change_keeps_the_order() -> None:
    def closing_second(peer: tr.Peer, message: Any) -> Any:
        peer.close()
        return Pong(message.n, 2)

    service = tr.Service(
        {
            Phase.FIRST: tr.Stage(protocol(), _first),
            Phase.SECOND: tr.Stage(protocol("fixed"), closing_second),
        },
        Phase.FIRST,
    )
    events = Recorder()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, service)
            async with tr.connect(service, "127.0.0.1", server.port, on_event=events) as conn:
                await conn.send(Ping(1))
                assert await conn.receive() == Pong(1, 1)
                await conn.goto(Phase.SECOND)
                await conn.send(Ping(2))
                await events.wait_for(tr.Disconnected)
                assert story(events) == TWO_STAGES
                assert await conn.receive() == Pong(2, 2)
            assert story(events) == TWO_STAGES
            await server.shutdown()


async def test_a_reconnecting_client_keeps_the_order_on_every_connection() -> None:
    proto = protocol()

    def answer_then_close(peer: tr.Peer, message: Any) -> Any:
        peer.close()
        return Pong(message.n, 0)

    events = Recorder()
    peers = []
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, proto, answer_then_close)
            retry = tr.RetryPolicy.backoff(3, initial_delay=0.001)
            connections = tr.connect(
                proto, "127.0.0.1", server.port, on_event=events, reconnect=retry
            )
            async for conn in connections:
                peers.append(conn.peer)
                await conn.send(Ping(len(peers)))
                async for _ in conn:
                    pass
                if len(peers) == 3:
                    break
            await server.shutdown()
    assert [story(events, peer) for peer in peers] == [one_stage()] * 3


# -- a server's connection, for comparison --------------------------------------------------


@pytest.mark.parametrize("shape", list(PROCESSORS))
@pytest.mark.parametrize("ended_by", ["the client", "shutdown"])
async def test_a_server_connection_keeps_the_order(shape: str, ended_by: str) -> None:
    proto = protocol()
    events = Recorder()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, proto, PROCESSORS[shape], on_event=events)
            async with tr.connect(proto, "127.0.0.1", server.port) as conn:
                await conn.send(Ping(1))
                assert await conn.receive() == Pong(1, 2)
                if ended_by == "shutdown":
                    await server.shutdown()
            if ended_by == "the client":
                await events.wait_for(tr.Disconnected)
            assert story(events) == one_stage()
            await server.shutdown()


async def test_a_server_stream_processor_closing_its_peer_keeps_the_order() -> None:
    proto = protocol()

    async def close_on_first(peer: tr.Peer, messages: Any) -> Any:
        async for message in messages:
            yield Pong(message.n, 0)
            peer.close()

    events = Recorder()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, proto, close_on_first, on_event=events)
            async with tr.connect(proto, "127.0.0.1", server.port) as conn:
                await conn.send(Ping(1))
                assert await conn.receive() == Pong(1, 0)
            await events.wait_for(tr.Disconnected)
            assert story(events) == one_stage()
            await server.shutdown()
