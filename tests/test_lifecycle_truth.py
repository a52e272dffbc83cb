"""The engine reports a connection's end once, with the true reason, when it happens.

A ``tr.connect`` client learns at once that the server closed, and can still read what came
before; a composite client whose last stage ends on purpose is not reconnected, even when the
server hangs up at the same moment.
"""

from __future__ import annotations

import enum
from typing import Any

import pytest
import trio

import trio_reactive as tr
from tests.defect_support import REPLIES, REQUESTS, Answer, Ask, port_of, raw_listener
from tests.engine_support import CODECS, Recorder, start_server

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("codec", list(CODECS))
async def test_a_connect_client_learns_at_once_that_the_server_closed(codec: str) -> None:
    """The server answers three times and ends the connection: inside the block, the client
    gets ``Disconnected(PEER_CLOSED)`` (or ``RESET``), ``is_connected`` turns False, the three
    answers can still be received, then ``ConnectionClosed``; and nothing more is reported
    when the block ends."""
    proto = tr.Protocol(client=REQUESTS, server=REPLIES, codec=CODECS[codec])

    async def three_then_end(peer: tr.Peer, messages: Any) -> Any:
        async for message in messages:
            for k in range(3):
                yield Answer(message.n + k)
            return

    events = Recorder()
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, proto, three_then_end)
            async with tr.connect(proto, "127.0.0.1", server.port, on_event=events) as conn:
                await conn.send(Ask(10))
                await events.wait_for(tr.Disconnected)
                assert not conn.peer.is_connected
                (gone,) = events.of(tr.Disconnected)
                assert gone.reason in (tr.DisconnectReason.PEER_CLOSED, tr.DisconnectReason.RESET)
                assert [await conn.receive() for _ in range(3)] == [
                    Answer(10),
                    Answer(11),
                    Answer(12),
                ]
                with pytest.raises(tr.ConnectionClosed):
                    await conn.receive()
            await server.shutdown()
    assert len(events.of(tr.Disconnected)) == 1
    assert events.of(tr.Disconnected)[0] is gone


# -- a composite client that ends on purpose ------------------------------------------------


class Steps(enum.Enum):
    FIRST = 1
    LAST = 2


def _first(peer: tr.Peer, message: Answer) -> Ask:
    peer.goto(Steps.LAST)
    return Ask(2)


async def _last(peer: tr.Peer, messages: Any) -> None:
    async for _ in messages:
        return  # the end, on purpose: no goto, and the service has no router


class HangingUpServer:
    """A raw server that greets with ``Answer(0)``, answers ``Ask(2)`` and hangs up at once
    (the answer and its FIN leave together), then reads to the end; it counts connections."""

    def __init__(self, proto: tr.Protocol) -> None:
        self.proto = proto
        self.connections = 0

    async def serve(self, listener: trio.SocketListener) -> None:
        async with trio.open_nursery() as nursery:
            while True:
                stream = await listener.accept()
                self.connections += 1
                nursery.start_soon(self._one, stream)

    async def _one(self, stream: trio.SocketStream) -> None:
        codec = self.proto.side("server").codec
        encoder, decoder = codec.encoder(), codec.decoder()
        async with stream:
            try:
                await stream.send_all(encoder.encode(Answer(0)))
                while Ask(2) not in decoder.decode_batch(await stream.receive_some()):
                    pass
                await stream.send_all(encoder.encode(Answer(2)))
                await stream.send_eof()
                while await stream.receive_some():
                    pass
            except trio.BrokenResourceError:
                pass


async def test_a_client_whose_last_stage_ends_on_purpose_is_not_reconnected() -> None:
    """The client's last stage ends with no ``goto`` and no router while the server closes at
    the same moment: the ending was the client's, so ``reconnect`` does not apply (repeated,
    since it is a race)."""
    proto = tr.Protocol(client=REQUESTS, server=REPLIES, codec=CODECS["fixed"])
    client = tr.Service(
        {Steps.FIRST: tr.Stage(proto, _first), Steps.LAST: tr.Stage(proto, _last)},
        Steps.FIRST,
    )
    server = HangingUpServer(proto)
    reasons = []
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            listener = await raw_listener()
            nursery.start_soon(server.serve, listener)
            for _ in range(30):
                before = server.connections
                reason = await tr.run_client(
                    client,
                    None,
                    host="127.0.0.1",
                    port=port_of(listener),
                    reconnect=tr.RetryPolicy.backoff(3, initial_delay=0.001),
                )
                reasons.append((reason, server.connections - before))
            nursery.cancel_scope.cancel()
    assert reasons == [(tr.DisconnectReason.PROCESSOR_ENDED, 1)] * 30
