"""Smaller guarantees: the testing helper, accept errors, failing callbacks, socket options."""

from __future__ import annotations

import ast
import enum
import errno
import socket
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

import trio_reactive as tr
from tests.engine_support import PROCESSORS, Ping, Pong, Quit, Recorder, protocol, start_server
from trio_reactive.server import Server
from trio_reactive.testing import run_processor

pytestmark = pytest.mark.timeout(30)


@pytest.mark.parametrize("codec", ["textual", "fixed", "variable"])
@pytest.mark.parametrize("shape", list(PROCESSORS))
async def test_run_processor_needs_no_socket(shape: str, codec: str) -> None:
    replies = await run_processor(protocol(codec), PROCESSORS[shape], [Ping(1), Quit(), Ping(2)])
    assert replies == [Pong(1, 2), Pong(2, 4)]


class Phase(enum.Enum):
    ONE = 1
    TWO = 2


async def test_run_processor_runs_a_composite_service_from_the_client_side() -> None:
    async def one(peer: tr.Peer, pongs: Any) -> Any:
        yield Ping(1)
        async for _ in pongs:
            peer.goto(Phase.TWO)
            return

    def two(peer: tr.Peer, pong: Pong) -> Ping:
        return Ping(pong.n + 10)

    service = tr.Service(
        {Phase.ONE: tr.Stage(protocol(), one), Phase.TWO: tr.Stage(protocol("fixed"), two)},
        initial=Phase.ONE,
    )
    events = Recorder()
    replies = await run_processor(service, None, [Pong(0, 0)], role="client", on_event=events)
    assert replies == [Ping(1)]
    assert [event.stage for event in events.of(tr.PeerArrived)] == [Phase.ONE, Phase.TWO]


async def test_accept_errors_are_logged_and_retried(caplog: pytest.LogCaptureFixture) -> None:
    class FlakyListener(trio.abc.Listener[trio.abc.Stream]):
        def __init__(self) -> None:
            self.calls = 0

        async def accept(self) -> trio.abc.Stream:
            self.calls += 1
            if self.calls <= 2:
                raise OSError(errno.EMFILE, "Too many open files")
            if self.calls == 3:
                left, _right = trio.testing.memory_stream_pair()
                return left
            await trio.sleep_forever()
            raise AssertionError

        async def aclose(self) -> None:
            pass

    listener = FlakyListener()
    events = Recorder()
    service = tr.Service({Phase.ONE: tr.Stage(protocol(), PROCESSORS["handler"])}, Phase.ONE)
    server = Server([listener], service, tr.Config(), events)
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            await nursery.start(server._serve)
            await events.wait_for(tr.Connected)
            server._accepting.cancel()
            for peer in server.peers:
                peer.abort()
    assert listener.calls >= 3
    assert "accept() failed" in caplog.text


async def test_failing_event_callbacks_are_logged_and_harmless(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def explode(event: Any) -> None:
        raise RuntimeError(f"callback failed on {type(event).__name__}")

    proto = protocol()
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, proto, PROCESSORS["handler"], on_event=explode)
            for n in range(2):
                async with tr.connect(proto, "127.0.0.1", server.port) as conn:
                    await conn.send(Ping(n))
                    assert await conn.receive() == Pong(n, n * 2)
            await server.shutdown()
    assert "callback failed on Connected" in caplog.text


async def test_socket_options_are_applied() -> None:
    seen: dict[str, Any] = {}

    def inspect_socket(peer: tr.Peer, message: Any) -> Any:
        sock = peer._conn.stream.socket  # type: ignore[attr-defined]
        seen["nodelay"] = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        seen["keepalive"] = sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
        seen["ttl"] = sock.getsockopt(socket.IPPROTO_IP, socket.IP_TTL)
        return Pong(0, 0)

    config = tr.Config(keepalive=True, ttl=17, linger=1)
    proto = protocol()
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, proto, inspect_socket, config=config)
            async with tr.connect(proto, "127.0.0.1", server.port, config=config) as conn:
                await conn.send(Ping(0))
                await conn.receive()
            await server.shutdown()
    assert seen == {"nodelay": 1, "keepalive": 1, "ttl": 17}


def test_the_wire_layer_is_sans_io() -> None:
    """No module under trio_reactive/wire imports trio: it is testable with plain bytes."""
    wire = Path(tr.__file__).parent / "wire"
    for path in wire.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not any(name.split(".")[0] == "trio" for name in names), path
