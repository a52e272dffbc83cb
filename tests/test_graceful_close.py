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
import trio.testing

import trio_reactive as tr
from tests.defect_support import REPLIES, REQUESTS, Answer, Ask, Pushed, RawPeer
from tests.engine_support import CODECS, Recorder, start_server

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


# -- how long a close waits for a quiet peer ------------------------------------------------


async def _answer_late(quiet: float | None, late: float) -> tuple[bool, float]:
    """The server closes after its first reply; the peer answers ``late`` seconds after the
    server's EOF, then ends its own side.  Whether that answer found the stream open, and when
    the server's connection ended."""
    events = Recorder()
    proto = tr.Protocol(client=REQUESTS, server=REPLIES, codec=CODECS["textual"])

    def once(peer: tr.Peer, message: Ask) -> Answer:
        peer.close()
        return Answer(message.n)

    config = tr.Config(close_quiet=quiet, handshake_timeout=None)
    ended_at: list[float] = []

    def on_event(event: tr.Event) -> None:
        if isinstance(event, tr.Disconnected):
            ended_at.append(trio.current_time())
        events(event)

    async with trio.open_nursery() as nursery:
        server = await start_server(nursery, proto, once, config=config, on_event=on_event)
        ours, theirs = trio.testing.memory_stream_pair()
        await server.serve_stream(ours)
        await theirs.send_all(b'{"Ask":{"n":1}}\n')
        received = b""
        while chunk := await theirs.receive_some():
            received += chunk  # the answer, then the server's EOF
        assert received == b'{"Answer":{"n":1}}\n'
        await trio.sleep(late)
        try:
            await theirs.send_all(b'{"Ask":{"n":2}}\n')
            await theirs.send_eof()
            open_then = True
        except trio.BrokenResourceError:
            open_then = False
        await events.wait_for(tr.Disconnected)
        await server.shutdown()
    return open_then, ended_at[0]


async def test_a_peer_that_answers_within_close_quiet_is_read_to_its_end(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(30):
        open_then, ended = await _answer_late(quiet=2.0, late=1.5)
    assert open_then  # still drained: the peer's late answer is read, not reset
    assert 1.5 <= ended < 2.0  # ended by the peer's EOF, not by the quiet


async def test_a_peer_quiet_for_longer_than_close_quiet_is_not_waited_for(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(30):
        open_then, ended = await _answer_late(quiet=0.5, late=1.5)
    assert not open_then
    assert 0.5 <= ended < 1.5


async def test_without_close_quiet_only_close_timeout_bounds_the_wait(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(30):
        open_then, ended = await _answer_late(quiet=None, late=8.0)
    assert open_then
    assert 8.0 <= ended < 10.0  # close_timeout is 10 s
