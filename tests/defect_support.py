"""Misbehaving and plain raw peers for the tests of what the engine promises to keep.

A raw peer is a bare trio socket with the protocol's client-side codec: it writes exactly the
bytes it is told to (many messages in one write, so they reach the server in one read), reads
at the pace it is told to, half-closes, or stops reading, which no ``tr.connect`` client can.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any

import attrs
import construct as c
import trio

import trio_reactive as tr
from tests.engine_support import raw_connect


@attrs.frozen
class Ask:
    n: Annotated[int, c.Int32ul]


@attrs.frozen
class Push:
    n: Annotated[int, c.Int32ul]


@attrs.frozen
class Switch:
    pass


@attrs.frozen
class Answer:
    n: Annotated[int, c.Int32ul]


@attrs.frozen
class Pushed:
    n: Annotated[int, c.Int32ul]


@attrs.frozen
class Big:
    """A reply of a chosen size (only the textual and variable codecs carry ``bytes``)."""

    n: int
    blob: bytes


#: What the clients of these tests send, and what the servers answer, on every codec.
REQUESTS = Ask | Push | Switch
REPLIES = Answer | Pushed


def big(n: int, size: int = 64 << 10) -> Big:
    return Big(n, bytes(size))


class RawPeer:
    """A raw TCP client speaking a protocol's client side, byte for byte under test control."""

    def __init__(self, stream: trio.SocketStream, proto: tr.Protocol) -> None:
        self.stream = stream
        side = proto.side("client").codec
        self.encoder = side.encoder()
        self.decoder = side.decoder()
        self.received: list[Any] = []
        self.bytes_received = 0
        self.eof = False

    @classmethod
    async def open(cls, port: int, proto: tr.Protocol) -> RawPeer:
        return cls(await raw_connect(port), proto)

    def encode(self, messages: Sequence[Any]) -> bytes:
        return self.encoder.encode_batch(list(messages))

    async def send(self, messages: Sequence[Any]) -> None:
        """Write ``messages`` in one ``send_all``: on loopback, one read of the server's."""
        await self.stream.send_all(self.encode(messages))

    async def receive_some(self, max_bytes: int | None = None) -> bool:
        """Read once and decode what came; False at EOF."""
        data = await self.stream.receive_some(max_bytes)
        if not data:
            self.eof = True
            return False
        self.bytes_received += len(data)
        self.received.extend(self.decoder.decode_batch(data))
        return True

    async def receive(self, count: int) -> list[Any]:
        """Read until ``count`` messages have come in all (or EOF); return them all."""
        while len(self.received) < count and await self.receive_some():
            pass
        return self.received

    async def receive_until_eof(self) -> list[Any]:
        while await self.receive_some():
            pass
        return self.received

    async def aclose(self) -> None:
        await self.stream.aclose()


async def settled(count: Callable[[], int], rounds: int = 200, windows: int = 100) -> bool:
    """Wait until ``count()`` stays the same while this task takes ``rounds`` scheduler steps.

    How a test knows, without a clock, that the engine can make no more progress (its queues
    and the kernel's buffers are full): a task that can run does so within a few steps.  A
    task that spins (retrying every step) keeps ``count()`` moving: after ``windows`` tries,
    False.
    """
    for _ in range(windows):
        before = count()
        for _ in range(rounds):
            await trio.lowlevel.checkpoint()
        if count() == before:
            return True
    return False


async def raw_listener() -> trio.SocketListener:
    """A listening socket on 127.0.0.1 that accepts only when told to: a server that does not
    read until the test says so."""
    (listener,) = await trio.open_tcp_listeners(0, host="127.0.0.1")
    return listener


def port_of(listener: trio.SocketListener) -> int:
    return int(listener.socket.getsockname()[1])


__all__ = [
    "REPLIES",
    "REQUESTS",
    "Answer",
    "Ask",
    "Big",
    "Push",
    "Pushed",
    "RawPeer",
    "Switch",
    "big",
    "port_of",
    "raw_listener",
    "settled",
]
