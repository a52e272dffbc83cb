"""Transports beside TCP: Unix domain sockets, any trio listener, any trio stream."""

from __future__ import annotations

import enum
import errno
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path
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
    Recorder,
    protocol,
    start_ping_listeners,
    start_ping_server,
)
from tests.models import CLIENT, SERVER

pytestmark = pytest.mark.timeout(30)


async def start_unix(
    nursery: trio.Nursery, target: Any, processor: Any, path: Path, **kw: Any
) -> Any:
    return await nursery.start(
        lambda task_status: tr.serve_unix(target, processor, path, task_status=task_status, **kw)
    )


@pytest.mark.parametrize("codec", ["textual", "fixed", "variable"])
@pytest.mark.parametrize("shape", ["handler", "responsive"])
async def test_messages_over_a_unix_socket(codec: str, shape: str, tmp_path: Path) -> None:
    path = tmp_path / "service.sock"
    proto = protocol(codec)
    events = Recorder()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_unix(nursery, proto, PROCESSORS[shape], path, on_event=events)
            assert server.address == str(path)
            async with tr.connect_unix(proto, path) as conn:
                for n in range(100):
                    await conn.send(Ping(n))
                assert [await conn.receive() for _ in range(100)] == [
                    Pong(n, 2 * n) for n in range(100)
                ]
            await events.wait_for(tr.Disconnected)
            await server.shutdown()
    assert events.count()["Connected"] == 1
    assert not path.exists(), "the socket file is removed when the server ends"


@attrs.frozen
class Hello:
    name: str


@attrs.frozen
class Welcome:
    name: str


class Phase(enum.Enum):
    LOGIN = 1
    PLAY = 2


LOGIN = tr.Protocol(client=Hello, server=Welcome, codec=tr.Textual())
PLAY = tr.Protocol(client=CLIENT, server=SERVER, codec=tr.FixedBinary())


def _server_service() -> tr.Service:
    def login(peer: tr.Peer, hello: Hello) -> Welcome:
        peer.session["name"] = hello.name
        peer.goto(Phase.PLAY)
        return Welcome(hello.name)

    def play(peer: tr.Peer, ping: Any) -> Any:
        return Pong(ping.n, len(peer.session["name"])) if isinstance(ping, Ping) else None

    return tr.Service(
        {Phase.LOGIN: tr.Stage(LOGIN, login), Phase.PLAY: tr.Stage(PLAY, play)}, Phase.LOGIN
    )


def _pinger(count: int, received: list[Any]) -> Any:
    """A client processor: sends ``Ping(0)`` to ``Ping(count - 1)``, then adds the replies to
    ``received`` and ends once ``count`` have come."""

    async def pinger(peer: tr.Peer, pongs: AsyncIterator[Any]) -> None:
        for n in range(count):
            await peer.send(Ping(n))
        goal = len(received) + count
        async for pong in pongs:
            received.append(pong)
            if len(received) == goal:
                return

    return pinger


async def test_a_composite_service_over_a_unix_socket(tmp_path: Path) -> None:
    """Text to log in, then fixed binary records, both ways, on one Unix connection."""
    path = tmp_path / "game.sock"
    received: list[Any] = []

    async def log_in(peer: tr.Peer, replies: AsyncIterator[Welcome]) -> AsyncIterator[Hello]:
        yield Hello("ann")
        async for welcome in replies:
            received.append(welcome)
            peer.goto(Phase.PLAY)
            return

    client = tr.Service(
        {Phase.LOGIN: tr.Stage(LOGIN, log_in), Phase.PLAY: tr.Stage(PLAY, _pinger(5, received))},
        Phase.LOGIN,
    )
    events = Recorder()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_unix(nursery, _server_service(), None, path, on_event=events)
            reason = await tr.run_client_unix(client, None, path)
            await events.wait_for(tr.Disconnected)
            await server.shutdown()
    assert reason is tr.DisconnectReason.PROCESSOR_ENDED
    assert received == [Welcome("ann"), *(Pong(n, 3) for n in range(5))]
    assert [event.stage for event in events.of(tr.PeerArrived)] == [Phase.LOGIN, Phase.PLAY]


async def test_run_client_unix_runs_a_processor(tmp_path: Path) -> None:
    path = tmp_path / "s.sock"
    proto = protocol("variable")
    received: list[Any] = []

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_unix(nursery, proto, PROCESSORS["handler"], path)
            reason = await tr.run_client_unix(proto, _pinger(10, received), path)
            await server.shutdown()
    assert reason is tr.DisconnectReason.PROCESSOR_ENDED
    assert received == [Pong(n, 2 * n) for n in range(10)]


async def test_a_stale_socket_file_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "stale.sock"
    crashed = socket.socket(socket.AF_UNIX)
    crashed.bind(str(path))
    crashed.close()  # what a server that died leaves behind
    assert path.exists()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_unix(nursery, protocol(), PROCESSORS["handler"], path)
            async with tr.connect_unix(protocol(), path) as conn:
                await conn.send(Ping(1))
                assert await conn.receive() == Pong(1, 2)
            await server.shutdown()
    assert not path.exists()


async def test_a_live_server_or_another_file_on_the_path_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "busy.sock"
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_unix(nursery, protocol(), PROCESSORS["handler"], path)
            with pytest.raises(OSError, match="already listening") as caught:
                await start_unix(nursery, protocol(), PROCESSORS["handler"], path)
            assert caught.value.errno == errno.EADDRINUSE
            async with tr.connect_unix(protocol(), path) as conn:  # the first one still serves
                await conn.send(Ping(2))
                assert await conn.receive() == Pong(2, 4)
            await server.shutdown()
        plain = tmp_path / "notes.txt"
        plain.write_text("keep me")
        with pytest.raises(FileExistsError):
            await tr.serve_unix(protocol(), PROCESSORS["handler"], plain)
        assert plain.read_text() == "keep me"


async def test_connecting_to_a_missing_unix_socket_says_so(tmp_path: Path) -> None:
    path = tmp_path / "nobody.sock"
    with trio.fail_after(5), pytest.raises(tr.ConnectFailed) as caught:
        async with tr.connect_unix(protocol(), path):
            pass
    assert str(caught.value) == (
        f"could not connect to {path}: [Errno {errno.ENOENT}] {os.strerror(errno.ENOENT)}"
    )
    assert caught.value.errno == errno.ENOENT


class _HandOut(trio.abc.Listener[trio.abc.Stream]):
    """A listener that is no socket: it hands out the streams a test sends it."""

    def __init__(self) -> None:
        self.send, self._receive = trio.open_memory_channel[trio.abc.Stream](0)

    async def accept(self) -> trio.abc.Stream:
        try:
            return await self._receive.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            raise trio.ClosedResourceError from None

    async def aclose(self) -> None:
        await self._receive.aclose()


async def _ping(stream: trio.abc.Stream, n: int) -> bytes:
    await stream.send_all(b'{"Ping":{"n":%d}}\n' % n)
    return bytes(await stream.receive_some())


async def test_serve_listeners_takes_any_trio_listener() -> None:
    listener = _HandOut()
    events = Recorder()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_ping_listeners(nursery, [listener], on_event=events)
            assert server.sockets == []
            clients = []
            for _ in range(3):
                ours, theirs = trio.testing.memory_stream_pair()
                await listener.send.send(ours)
                clients.append(theirs)
            for n, client in enumerate(clients):
                assert await _ping(client, n) == b'{"Pong":{"n":%d,"at":%d}}\n' % (n, 2 * n)
            await server.shutdown()
            for client in clients:
                assert await client.receive_some() == b""
    assert events.count()["Connected"] == events.count()["Disconnected"] == 3
    assert {event.reason for event in events.of(tr.Disconnected)} == {tr.DisconnectReason.SHUTDOWN}


async def test_an_open_stream_is_handed_to_a_running_server() -> None:
    events = Recorder()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_ping_server(nursery, on_event=events)
            ours, theirs = trio.testing.memory_stream_pair()
            await server.serve_stream(ours)
            await events.wait_for(tr.Connected)
            assert server.peers[0].address is None
            assert await _ping(theirs, 5) == b'{"Pong":{"n":5,"at":10}}\n'
            # A TCP client of the same server meanwhile.
            async with tr.connect(protocol(), "127.0.0.1", server.port) as conn:
                await conn.send(Ping(6))
                assert await conn.receive() == Pong(6, 12)
            await theirs.aclose()
            await events.wait_for(tr.Disconnected, 2)
            await server.shutdown()
            late, _ = trio.testing.memory_stream_pair()
            with pytest.raises(trio.ClosedResourceError):
                await server.serve_stream(late)
    reasons = [event.reason for event in events.of(tr.Disconnected)]
    assert sorted(reason.name for reason in reasons) == ["PEER_CLOSED", "PEER_CLOSED"]


async def test_the_socket_file_is_removed_when_the_server_is_cancelled(tmp_path: Path) -> None:
    path = tmp_path / "cancelled.sock"
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await start_unix(nursery, protocol(), PROCESSORS["handler"], path)
            assert path.exists()
            nursery.cancel_scope.cancel()
    assert not path.exists()


async def test_a_connection_accepted_as_shutdown_begins_is_turned_away() -> None:
    events = Recorder()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_ping_listeners(nursery, [_HandOut()], on_event=events)
            ours, theirs = trio.testing.memory_stream_pair()
            server._admit(ours)  # what the accept loop does; the connection's task has not run
            await server.shutdown()  # begins before that task runs
            assert await theirs.receive_some() == b""
    assert [event.reason for event in events.of(tr.Rejected)] == [tr.DisconnectReason.SHUTDOWN]
    assert events.count()["Connected"] == 0
