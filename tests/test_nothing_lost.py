"""Nothing the engine accepted is lost: across stage hand-overs, on close, on leaving a block.

Each test drives the engine the way a real peer can (many messages in one write, a half-close,
a reader that stops) and checks that every reply the server produced reaches the client, in
the order it was produced, or is counted as not sent.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import AsyncIterator
from typing import Any

import pytest
import trio
import trio.testing

import trio_reactive as tr
from tests.defect_support import (
    REPLIES,
    REQUESTS,
    Answer,
    Ask,
    Big,
    Push,
    Pushed,
    RawPeer,
    Switch,
    big,
    port_of,
    raw_listener,
)
from tests.engine_support import CODECS, Recorder, start_server

pytestmark = pytest.mark.timeout(60)


# -- stage hand-overs within one read -------------------------------------------------------


class Ring(enum.Enum):
    FIRST = 1
    SECOND = 2
    THIRD = 3


_NEXT = {Ring.FIRST: Ring.SECOND, Ring.SECOND: Ring.THIRD, Ring.THIRD: Ring.FIRST}


def _ring_handler(stage: Ring) -> Any:
    """A sync handler that answers everything and moves on to the next stage on ``Switch``."""

    def handle(peer: tr.Peer, message: Any) -> Any:
        if isinstance(message, Switch):
            peer.goto(_NEXT[stage])
            return Pushed(stage.value)
        return Answer(message.n)

    return handle


def _ring_service(proto: tr.Protocol) -> tr.Service:
    return tr.Service({stage: tr.Stage(proto, _ring_handler(stage)) for stage in Ring}, Ring.FIRST)


def _requests_with_switches(total: int, switches: int) -> tuple[list[Any], list[Any]]:
    """``total`` messages with ``switches`` of them spread evenly; and the replies they earn."""
    at = {total * (i + 1) // (switches + 1) for i in range(switches)}
    requests: list[Any] = []
    replies: list[Any] = []
    stage = Ring.FIRST
    for i in range(total):
        if i in at:
            requests.append(Switch())
            replies.append(Pushed(stage.value))
            stage = _NEXT[stage]
        else:
            requests.append(Ask(i))
            replies.append(Answer(i))
    return requests, replies


@pytest.mark.parametrize("switches", [2, 3])
async def test_replies_are_not_lost_across_quick_stage_switches(switches: int) -> None:
    """Two or three ``goto``s within the bytes of one write: every reply arrives, in order.

    The client writes all requests at once, half-closes and reads to the end; each stage's
    sync handler answers every message, so the replies are exactly known.
    """
    proto = tr.Protocol(client=REQUESTS, server=REPLIES, codec=CODECS["textual"])
    requests, expected = _requests_with_switches(5000, switches)
    for _ in range(8):
        events = Recorder()
        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                server = await start_server(nursery, _ring_service(proto), on_event=events)
                peer = await RawPeer.open(server.port, proto)
                await peer.send(requests)
                await peer.stream.send_eof()
                received = await peer.receive_until_eof()
                await peer.aclose()
                await events.wait_for(tr.Disconnected)
                await server.shutdown()
        assert len(received) == len(expected)
        assert received == expected
        assert not events.of(tr.ProcessorError)
        assert not events.of(tr.InputError)


# -- one outbox: every path keeps the order of production -----------------------------------


def _ask_or_push(peer: tr.Peer, message: Any) -> Any:
    """``Ask`` is answered by the return value, ``Push`` by ``send_nowait``; ``Ask(0)`` raises."""
    if isinstance(message, Push):
        peer.send_nowait(Pushed(message.n))
        return None
    if message.n == 0:
        raise ValueError("zero")
    return Answer(message.n)


_MIXED = {
    "returned-and-pushed": (
        [Ask(1), Push(2), Ask(3), Push(4)],
        [Answer(1), Pushed(2), Answer(3), Pushed(4)],
    ),
    "with-an-error-reply": (
        [Push(1), Ask(2), Ask(0), Push(4), Ask(5), Push(6)],
        [Pushed(1), Answer(2), Answer(999), Pushed(4), Answer(5), Pushed(6)],
    ),
}


@pytest.mark.parametrize("case", list(_MIXED))
@pytest.mark.parametrize("codec", list(CODECS))
async def test_replies_leave_in_the_order_they_were_produced(codec: str, case: str) -> None:
    """Returned replies, ``send_nowait`` pushes and error-hook replies to one read keep order."""
    requests, expected = _MIXED[case]
    proto = tr.Protocol(
        client=REQUESTS,
        server=REPLIES,
        codec=CODECS[codec],
        processor_error=lambda exc: Answer(999),
    )
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, proto, _ask_or_push)
            peer = await RawPeer.open(server.port, proto)
            await peer.send(requests)
            await peer.stream.send_eof()
            received = await peer.receive_until_eof()
            await peer.aclose()
            await server.shutdown()
    assert received == expected


# -- leaving a connect block, and the true unsent count -------------------------------------


@pytest.mark.parametrize("codec", list(CODECS))
async def test_leaving_a_connect_block_delivers_every_message_sent(codec: str) -> None:
    """20,000 ``send`` calls, then the block ends: the server processes all of them.

    The server answers each one and the client reads none of the answers, so the client
    closes with unread input: that must not reset the connection under the requests in flight.
    """
    proto = tr.Protocol(client=REQUESTS, server=REPLIES, codec=CODECS[codec])
    total = 20_000
    seen: list[int] = []

    @tr.per_message
    async def count(peer: tr.Peer, message: Any) -> Answer:
        await trio.lowlevel.checkpoint()
        seen.append(message.n)
        return Answer(message.n)

    events = Recorder()
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, proto, count, on_event=events)
            async with tr.connect(proto, "127.0.0.1", server.port) as conn:
                for n in range(total):
                    await conn.send(Ask(n))
            await events.wait_for(tr.Disconnected)
            await server.shutdown()
    assert len(seen) == total
    assert seen == list(range(total))
    assert conn.unsent == 0


def _big_protocol(codec: str) -> tr.Protocol:
    return tr.Protocol(client=Big | Ask, server=Big | Ask, codec=CODECS[codec])


_BIG_CODECS = ["textual", "variable"]  # the fixed codec carries no ``bytes``
#: Room to queue every big message, and a close that gives up soon once no byte moves.
_STALLED = tr.Config(close_timeout=0.3, outgoing_capacity_bytes=16 << 20)


@contextlib.asynccontextmanager
async def _queued(
    proto: tr.Protocol, listener: trio.SocketListener, queued: int
) -> AsyncIterator[tr.ClientConnection[Any, Any]]:
    """A client of ``listener``, which reads nothing yet, with ``queued`` big messages queued."""
    async with tr.connect(proto, "127.0.0.1", port_of(listener), config=_STALLED) as conn:
        for n in range(queued):
            conn.send_nowait(big(n))
        yield conn


async def _arrived(listener: trio.SocketListener, proto: tr.Protocol) -> list[int]:
    """Accept the connection that waited unread, read it to the end, return the ``n``s."""
    stream = await listener.accept()
    decoder = proto.side("server").codec.decoder(16 << 20)
    received: list[Any] = []
    while data := await stream.receive_some():
        received.extend(decoder.decode_batch(data))
    await stream.aclose()
    return [message.n for message in received]


@pytest.mark.parametrize("codec", _BIG_CODECS)
async def test_leaving_a_connect_block_counts_what_a_stalled_server_never_got(codec: str) -> None:
    """The server reads nothing: leaving the block gives up after the no-progress timeout and
    ``conn.unsent`` is exactly the number of messages the kernel did not take."""
    proto = _big_protocol(codec)
    queued = 100  # about 6.5 MB: more than the kernel's buffers hold
    listener = await raw_listener()
    with trio.fail_after(10):
        async with _queued(proto, listener, queued) as conn:
            pass  # leaving the block flushes what the kernel takes, then gives up
        arrived = await _arrived(listener, proto)
    await listener.aclose()
    assert conn.unsent > 0
    assert len(arrived) + conn.unsent == queued
    assert arrived == list(range(len(arrived)))


@pytest.mark.parametrize("queued", [20, 100])
@pytest.mark.parametrize("codec", _BIG_CODECS)
async def test_client_aclose_returns_the_true_unsent_count(codec: str, queued: int) -> None:
    """``aclose(t)`` to a server that stopped reading: what arrived plus what it reports as
    unsent is what was queued (only bytes the kernel accepted count as sent).

    ``close_timeout`` bounds the wait for the server's EOF after the flush gave up (the
    server reads only once ``aclose`` has returned).
    """
    proto = _big_protocol(codec)
    listener = await raw_listener()
    with trio.fail_after(10):
        async with _queued(proto, listener, queued) as conn:
            unsent = await conn.aclose(0.3)
        arrived = await _arrived(listener, proto)
    await listener.aclose()
    assert len(arrived) + unsent == queued
    assert arrived == list(range(len(arrived)))
    if queued == 100:
        assert unsent > 0


@pytest.mark.parametrize("queued", [20, 100])
@pytest.mark.parametrize("codec", _BIG_CODECS)
async def test_flush_and_close_returns_the_true_unsent_count(codec: str, queued: int) -> None:
    """A server peer queues large replies to a client that does not read, then
    ``flush_and_close(t)``: arrived plus reported unsent is what was queued."""
    proto = _big_protocol(codec)
    reported: list[int] = []
    done = trio.Event()

    async def flood_then_close(peer: tr.Peer, messages: Any) -> None:
        async for _ in messages:
            for n in range(queued):
                peer.send_nowait(big(n))
            reported.append(await peer.flush_and_close(0.3))
            done.set()
            return

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, proto, flood_then_close, config=_STALLED)
            client = await RawPeer.open(server.port, proto)
            client.decoder = proto.side("client").codec.decoder(16 << 20)
            await client.send([Ask(0)])
            await done.wait()  # the client has not read a byte so far
            arrived = [message.n for message in await client.receive_until_eof()]
            await client.aclose()
            await server.shutdown()
    (unsent,) = reported
    assert len(arrived) + unsent == queued
    assert arrived == list(range(len(arrived)))
    if queued == 100:
        assert unsent > 0


# -- a half-closing client that reads slowly ------------------------------------------------


@pytest.mark.parametrize("codec", _BIG_CODECS)
async def test_a_half_closing_slow_reader_gets_every_reply(
    codec: str, autojump_clock: trio.testing.MockClock
) -> None:
    """Like ``nc -N``: 120 requests, EOF, then replies read at 64 KiB per 50 ms (virtual time).

    The flush must go on as long as the client makes progress; the 12 MB take about 9 s.
    """
    # Jump the clock only once every task has waited a little real time too: loopback I/O
    # is done by then, so a jump never overtakes bytes in flight.
    autojump_clock.autojump_threshold = 0.005
    proto = _big_protocol(codec)
    total = 120

    def answer(peer: tr.Peer, message: Any) -> Big:
        return big(message.n, 100_000)

    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, proto, answer)
            client = await RawPeer.open(server.port, proto)
            await client.send([Ask(n) for n in range(total)])
            await client.stream.send_eof()
            while True:
                if not await client.receive_some(64 << 10):
                    break
                await trio.sleep(0.05)  # about 1.3 MB/s
            await client.aclose()
            await server.shutdown()
    assert [message.n for message in client.received] == list(range(total))
