"""Closing is graceful: what the server wrote before it closed reaches the client.

The client here keeps writing while the server closes. A socket closed with unread input makes
the kernel send a reset, which destroys replies already written; the engine must flush, shut
its write side, read and discard the peer's input until its EOF (for a bounded time), then
close.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio

import trio_reactive as tr
from tests.defect_support import REPLIES, REQUESTS, Answer, Ask, Pushed, RawPeer
from tests.engine_support import CODECS, start_server

pytestmark = pytest.mark.timeout(60)

GOODBYE = Pushed(0)


class Flood:
    """A raw client that writes requests until told to stop, while another task reads."""

    def __init__(self, peer: RawPeer, chunk: bytes, before_reading: int = 0) -> None:
        self.peer = peer
        self.chunk = chunk
        self.before_reading = before_reading
        self.written = trio.Event()
        self.stop = trio.Event()
        self.broken = False

    async def write(self) -> None:
        """Write ``chunk`` after ``chunk``; on ``stop``, half-close (the polite end)."""
        try:
            chunks = 0
            while not self.stop.is_set():
                await self.peer.stream.send_all(self.chunk)
                chunks += 1
                if chunks >= self.before_reading:
                    self.written.set()
            await self.peer.stream.send_eof()
        except trio.BrokenResourceError:
            self.broken = True
        finally:
            self.written.set()

    async def read_to_the_end(self, until: Any) -> None:
        """Read until EOF (or a reset); ``until(received)`` says when to stop writing.

        Reading starts once ``before_reading`` chunks are written (or the writer ended).
        """
        await self.written.wait()
        try:
            while await self.peer.receive_some(4096):
                if until(self.peer.received):
                    self.stop.set()
        except trio.BrokenResourceError:
            self.broken = True
        self.stop.set()


async def _shutdown_under_a_flood(proto: tr.Protocol) -> tuple[Flood, list[int]]:
    handled: list[int] = []

    def answer(peer: tr.Peer, message: Any) -> Answer:
        handled.append(message.n)
        return Answer(message.n)

    def say_goodbye(event: Any) -> None:
        if isinstance(event, tr.ServiceTerminating) and event.peer is not None:
            event.peer.send_nowait(GOODBYE)

    enough = trio.Event()

    def until(received: list[Any]) -> bool:
        if len(received) >= 5000:
            enough.set()
        return bool(received) and received[-1] == GOODBYE

    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, proto, answer, on_event=say_goodbye)
            peer = await RawPeer.open(server.port, proto)
            flood = Flood(peer, peer.encode([Ask(n) for n in range(1, 1001)]))
            async with trio.open_nursery() as client:
                client.start_soon(flood.write)
                client.start_soon(flood.read_to_the_end, until)
                await enough.wait()
                await server.shutdown()
            await peer.aclose()
    return flood, handled


@pytest.mark.parametrize("codec", list(CODECS))
async def test_shutdown_under_a_flood_delivers_every_reply_and_the_goodbye(codec: str) -> None:
    """``server.shutdown()`` while a client floods requests and reads the replies.

    Every reply the handler produced arrives, in order, then the goodbye sent from the
    ``ServiceTerminating`` event, last; then the server's EOF, not a reset.  (Repeated: the
    reset destroys data only when it overtakes it.)
    """
    proto = tr.Protocol(client=REQUESTS, server=REPLIES, codec=CODECS[codec])
    for _ in range(4):
        flood, handled = await _shutdown_under_a_flood(proto)
        received = flood.peer.received
        assert received[-1] == GOODBYE
        assert received[:-1] == [Answer(n) for n in handled]
        assert flood.peer.eof
        assert not flood.broken, "the connection was reset"


_OVERSIZE = {
    # a line that never ends within max_message_size; then more of it
    "textual": (b"x" * 200, b"x" * 4096),
    # a frame announcing 1 MiB; then what would be its body
    "variable": ((1 << 20).to_bytes(4, "little"), b"\0" * 4096),
}


@pytest.mark.parametrize("codec", list(_OVERSIZE))
async def test_the_input_error_reply_to_an_oversize_frame_arrives_under_a_flood(
    codec: str,
) -> None:
    """After an oversize frame the server answers with the ``input_error`` hook's reply and
    closes, while the client keeps writing: the replies and that last one arrive, then EOF.

    The client writes 100 more chunks before it starts reading: a server that closed with
    unread input has reset the connection by then, and the reset destroyed the replies.
    """
    proto = tr.Protocol(
        client=REQUESTS,
        server=REPLIES,
        codec=CODECS[codec],
        input_error=lambda exc: GOODBYE,
    )
    config = tr.Config(max_message_size=64)
    head, filler = _OVERSIZE[codec]
    for _ in range(6):
        with trio.fail_after(20):
            async with trio.open_nursery() as nursery:
                server = await start_server(nursery, proto, _echo, config=config)
                peer = await RawPeer.open(server.port, proto)
                await peer.stream.send_all(peer.encode([Ask(n) for n in range(1, 101)]) + head)
                flood = Flood(peer, filler, before_reading=100)
                async with trio.open_nursery() as client:
                    client.start_soon(flood.write)
                    client.start_soon(flood.read_to_the_end, lambda received: False)
                await peer.aclose()
                await server.shutdown()
        assert flood.peer.received == [Answer(n) for n in range(1, 101)] + [GOODBYE]
        assert flood.peer.eof
        assert not flood.broken, "the connection was reset"


def _echo(peer: tr.Peer, message: Any) -> Answer:
    return Answer(message.n)
