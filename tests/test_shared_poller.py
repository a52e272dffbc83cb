"""The shared poller: many plain-socket connections read by one task, with every guarantee kept.

The whole suite also runs without the poller (``TRIO_REACTIVE_SHARED_POLLER=0``); this file
checks what is the poller's own: which connections it serves, that it is fair, and that nothing
one connection does reaches another or stops the poller.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio

import trio_reactive as tr
from tests.engine_support import (
    CODECS,
    PROCESSORS,
    Ping,
    Pong,
    protocol,
    raw_connect,
    reset_on_close,
    start_server,
)
from trio_reactive.engine.poller import Poller, poller_available
from trio_reactive.engine.sources import PolledSource, StreamSource

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(not poller_available(), reason="no epoll or kqueue on this system"),
]

ON = tr.Config(shared_poller=True)
OFF = tr.Config(shared_poller=False)


def _source_of(peer: tr.Peer) -> Any:
    return type(peer._conn.source)  # type: ignore[union-attr]


def _recording_sources(seen: list[type]) -> Any:
    """A Ping/Pong handler that notes which source read each message's connection."""

    def handler(peer: tr.Peer, message: Any) -> Any:
        seen.append(_source_of(peer))
        return Pong(message.n, message.n * 2)

    return handler


async def _ping_pong(proto: tr.Protocol, port: int, rounds: int, config: tr.Config) -> None:
    async with tr.connect(proto, "127.0.0.1", port, config=config) as conn:
        for n in range(rounds):
            await conn.send(Ping(n))
            assert await conn.receive() == Pong(n, n * 2)


@pytest.mark.parametrize("codec", list(CODECS))
@pytest.mark.parametrize("shape", list(PROCESSORS))
async def test_many_connections_of_every_shape_are_served_by_the_poller(
    codec: str, shape: str
) -> None:
    proto = protocol(codec)
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, proto, PROCESSORS[shape], config=ON)
            async with trio.open_nursery() as clients:
                for _ in range(40):
                    clients.start_soon(_ping_pong, proto, server.port, 25, ON)
            await server.shutdown()
    assert server.stats.connections_accepted == 40


async def test_plain_sockets_use_the_poller_and_the_switch_turns_it_off() -> None:
    proto = protocol("fixed")
    seen: list[type] = []
    handler = _recording_sources(seen)

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            for config, expected in ((ON, PolledSource), (OFF, StreamSource)):
                server = await start_server(nursery, proto, handler, config=config)
                async with tr.connect(proto, "127.0.0.1", server.port, config=config) as conn:
                    await conn.send(Ping(1))
                    assert await conn.receive() == Pong(1, 2)
                    assert _source_of(conn.peer) is expected
                assert seen.pop() is expected
                await server.shutdown()


async def test_a_flooding_neighbour_does_not_starve_a_ping_pong() -> None:
    """One read per ready connection per round: a peer that never stops sending gets its turn
    like everyone else, and a neighbour's round trips go on."""
    proto = protocol("fixed")
    encoder = proto.side("client").codec.encoder()
    burst = encoder.encode_batch([Ping(n) for n in range(2000)])
    stop = trio.Event()

    async def flood(port: int) -> None:
        stream = await raw_connect(port)
        async with trio.open_nursery() as inner:

            async def drain() -> None:
                while await stream.receive_some(65536):
                    pass

            inner.start_soon(drain)
            while not stop.is_set():
                await stream.send_all(burst)
            inner.cancel_scope.cancel()
        await stream.aclose()

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, proto, PROCESSORS["handler"], config=ON)
            nursery.start_soon(flood, server.port)
            await _ping_pong(proto, server.port, 200, ON)
            stop.set()
            await server.shutdown()


async def test_a_neighbours_bad_input_raise_and_reset_leave_the_others_alone() -> None:
    proto = protocol("textual", input_error=lambda error: Pong(-1, 0))

    def touchy(peer: tr.Peer, message: Any) -> Any:
        if message.n < 0:
            raise ValueError("unlucky")
        return Pong(message.n, message.n * 2)

    events: list[Any] = []
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            server = await start_server(
                nursery, proto, touchy, config=ON, on_event=events.append
            )
            garbage = await raw_connect(server.port)
            await garbage.send_all(b"not json\n" * 100)
            raising = await raw_connect(server.port)
            await raising.send_all(b'{"Ping":{"n":-13}}\n' * 100)
            resetting = await raw_connect(server.port)
            await resetting.send_all(b'{"Ping":{"n":1}}\n{"Pi')
            reset_on_close(resetting)
            await resetting.aclose()
            await _ping_pong(proto, server.port, 100, ON)
            for stream in (garbage, raising):
                await stream.aclose()
            await server.shutdown()
    assert any(isinstance(event, tr.InputError) for event in events)
    assert any(isinstance(event, tr.ProcessorError) for event in events)


async def test_a_connection_whose_serving_fails_is_aborted_and_the_poller_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An unexpected failure inside the poller's inline work (here: the decoder) aborts that
    connection alone; the poller keeps serving the others."""
    proto = protocol("fixed")
    real = PolledSource.on_readable
    broken: list[tr.Peer] = []

    def on_readable(self: PolledSource) -> None:
        if self._conn.peer in broken:
            raise RuntimeError("a fault inside the fast path")
        real(self)

    monkeypatch.setattr(PolledSource, "on_readable", on_readable)
    gone: list[tr.Disconnected] = []
    connected, disconnected = trio.Event(), trio.Event()

    def on_event(event: Any) -> None:
        if isinstance(event, tr.Connected) and not broken:
            broken.append(event.peer)
            connected.set()
        if isinstance(event, tr.Disconnected):
            gone.append(event)
            disconnected.set()

    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            server = await start_server(
                nursery, proto, PROCESSORS["handler"], config=ON, on_event=on_event
            )
            victim = await raw_connect(server.port)
            await connected.wait()
            await victim.send_all(proto.side("client").codec.encoder().encode(Ping(1)))
            await disconnected.wait()
            await _ping_pong(proto, server.port, 50, ON)
            await victim.aclose()
            await server.shutdown()
    assert gone[0].peer is broken[0]
    assert gone[0].reason is tr.DisconnectReason.ABORTED
    assert isinstance(gone[0].error, RuntimeError)


async def test_client_connections_of_one_run_share_one_poller() -> None:
    proto = protocol("variable")
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, proto, PROCESSORS["handler"], config=ON)
            async with (
                tr.connect(proto, "127.0.0.1", server.port, config=ON) as first,
                tr.connect(proto, "127.0.0.1", server.port, config=ON) as second,
            ):
                pollers = {first.peer._conn.source._poller, second.peer._conn.source._poller}  # type: ignore[union-attr]
                assert len(pollers) == 1
                assert isinstance(pollers.pop(), Poller)
                for conn in (first, second):
                    await conn.send(Ping(3))
                    assert await conn.receive() == Pong(3, 6)
            await server.shutdown()


async def test_unix_socket_connections_use_the_poller_on_both_ends(tmp_path: Any) -> None:
    proto = protocol("variable")
    path = tmp_path / "poller.sock"
    seen: list[type] = []
    handler = _recording_sources(seen)

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await nursery.start(
                lambda task_status: tr.serve_unix(
                    proto, handler, path, config=ON, task_status=task_status
                )
            )
            async with tr.connect_unix(proto, path, config=ON) as conn:
                for n in range(20):
                    await conn.send(Ping(n))
                assert [await conn.receive() for _ in range(20)] == [
                    Pong(n, 2 * n) for n in range(20)
                ]
                assert _source_of(conn.peer) is PolledSource
            await server.shutdown()
    assert seen == [PolledSource] * 20
