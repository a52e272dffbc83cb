"""Shared pieces for the engine tests: protocols, processors of every shape, event recording."""

from __future__ import annotations

import socket
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import attrs
import trio

import trio_reactive as tr
from tests.models import CLIENT, SERVER, Ping, Pong, Quit

CODECS = {
    "textual": tr.Textual(),
    "fixed": tr.FixedBinary(),
    "variable": tr.VariableBinary(),
}


def protocol(codec: str = "textual", **kwargs: Any) -> tr.Protocol:
    return tr.Protocol(client=CLIENT, server=SERVER, codec=CODECS[codec], **kwargs)


def reply_to(message: Any) -> Any:
    """The one reply logic every processor shape below shares."""
    if isinstance(message, Ping):
        return Pong(message.n, message.n * 2)
    return None


def shapes_of(logic: Callable[[Any], Any]) -> dict[str, Any]:
    """The four processor shapes, all running the same ``logic(message) -> reply | None``."""

    async def responsive(peer: tr.Peer, messages: AsyncIterator[Any]) -> AsyncIterator[Any]:
        async for message in messages:
            reply = logic(message)
            if reply is not None:
                yield reply

    async def unresponsive(peer: tr.Peer, messages: AsyncIterator[Any]) -> None:
        async for message in messages:
            reply = logic(message)
            if reply is not None:
                await peer.send(reply)

    def handler(peer: tr.Peer, message: Any) -> Any:
        return logic(message)

    @tr.per_message
    async def async_handler(peer: tr.Peer, message: Any) -> Any:
        await trio.lowlevel.checkpoint()
        return logic(message)

    return {
        "responsive": responsive,
        "unresponsive": unresponsive,
        "handler": handler,
        "async_handler": async_handler,
    }


PROCESSORS = shapes_of(reply_to)


@attrs.define
class Recorder:
    """Collects every event; counts them by type."""

    events: list[Any] = attrs.Factory(list)
    _changed: trio.Event = attrs.Factory(trio.Event)

    def __call__(self, event: Any) -> None:
        self.events.append(event)
        self._changed.set()
        self._changed = trio.Event()

    def count(self) -> Counter[str]:
        return Counter(type(event).__name__ for event in self.events)

    def of(self, kind: type) -> list[Any]:
        return [event for event in self.events if isinstance(event, kind)]

    async def wait_for(self, kind: type, count: int = 1) -> None:
        while len(self.of(kind)) < count:
            await self._changed.wait()


async def start_server(
    nursery: trio.Nursery, proto: Any, processor: Any = None, **kwargs: Any
) -> tr.Server:
    server: tr.Server = await nursery.start(
        lambda task_status: tr.serve_tcp(
            proto, processor, 0, "127.0.0.1", task_status=task_status, **kwargs
        )
    )
    return server


async def start_ping_server(nursery: trio.Nursery, **kwargs: Any) -> tr.Server:
    """The server most tests need: the textual Ping/Pong protocol on a fresh TCP port of
    127.0.0.1, every ``Ping`` answered by the plain handler; ``kwargs`` go to ``serve_tcp``."""
    return await start_server(nursery, protocol(), PROCESSORS["handler"], **kwargs)


async def start_ping_listeners(
    nursery: trio.Nursery, listeners: list[Any], **kwargs: Any
) -> tr.Server:
    """The same Ping/Pong server on listeners of the test's own (``serve_listeners``)."""
    server: tr.Server = await nursery.start(
        lambda task_status: tr.serve_listeners(
            protocol(), PROCESSORS["handler"], listeners, task_status=task_status, **kwargs
        )
    )
    return server


async def raw_connect(port: int) -> trio.SocketStream:
    return await trio.open_tcp_stream("127.0.0.1", port)


async def read_until_eof(stream: trio.abc.ReceiveStream) -> bytes:
    chunks = []
    while data := await stream.receive_some():
        chunks.append(data)
    return b"".join(chunks)


def reset_on_close(stream: trio.SocketStream) -> None:
    """Make closing ``stream`` send a TCP reset instead of a FIN."""
    stream.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


__all__ = [
    "CODECS",
    "PROCESSORS",
    "Ping",
    "Pong",
    "Quit",
    "Recorder",
    "free_port",
    "protocol",
    "raw_connect",
    "read_until_eof",
    "reset_on_close",
    "shapes_of",
    "start_ping_listeners",
    "start_ping_server",
    "start_server",
]


async def first_ping_fails(proto: Any, processor: Any, events: Recorder) -> None:
    """Send ``Ping(1)`` (whose reply the processor cannot make) and ``Ping(2)``: only the second
    is answered, with ``Pong(2, 0)``, and the connection goes on."""
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, proto, processor, on_event=events)
            async with tr.connect(proto, "127.0.0.1", server.port) as conn:
                await conn.send(Ping(1))
                await conn.send(Ping(2))
                assert await conn.receive() == Pong(2, 0)
            await server.shutdown()
