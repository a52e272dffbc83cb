"""Nothing the engine accepted is lost: across stage hand-overs, on close, on leaving a block.

Each test drives the engine the way a real peer can (many messages in one write, a half-close,
a reader that stops) and checks that every reply the server produced reaches the client, in
the order it was produced, or is counted as not sent.
"""

from __future__ import annotations

import enum
from typing import Any

import pytest
import trio

import trio_reactive as tr
from tests.defect_support import REPLIES, REQUESTS, Answer, Ask, Push, Pushed, RawPeer, Switch
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
