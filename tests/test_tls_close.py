"""Closing a TLS connection whose peer is still sending loses none of the replies written.

A TLS stream cannot shut its write side alone, so the close cannot tell the peer to stop, as a
TCP close does with its FIN.  Closing the socket with the peer's input unread would make the
kernel reset the connection, and the reset destroys what the peer has not read yet.  So after
the flush a TLS close reads and drops the peer's input for as long as it keeps coming (until
its close_notify or EOF, or until it has been quiet for ``close_quiet``, bounded by
``close_timeout``), then sends close_notify and closes.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio

import trio_reactive as tr
from tests.engine_support import Ping, Pong, Recorder, protocol, start_server

pytestmark = pytest.mark.timeout(60)

#: Replies the server writes before it closes: few enough for the socket buffers to hold them
#: all, so that the flush is over while the client is still sending.
REPLIES = 2_000
#: Requests the client sends after the one that makes the server close.
MORE = 50_000


def answer_then_close(peer: tr.Peer, message: Any) -> Any:
    """``Ping(0)``: every reply, then the close; nothing else is answered."""
    if message.n != 0:
        return None
    peer.close()
    return [Pong(0, k) for k in range(REPLIES)]


async def keep_sending(stream: trio.SSLStream[Any], encoder: Any, sent: trio.Event) -> None:
    """``Ping(0)``, then ``MORE`` pings in bursts, as fast as the server takes them."""
    try:
        await stream.send_all(encoder.encode(Ping(0)))
        for start in range(1, MORE + 1, 100):
            burst = [Ping(n) for n in range(start, start + 100)]
            await stream.send_all(encoder.encode_batch(burst))
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass  # the server closed while we were still sending
    finally:
        sent.set()


async def test_a_tls_client_still_sending_gets_every_reply_written_before_the_close(
    tls_contexts: Any,
) -> None:
    """The client reads nothing until it has sent everything, so the replies wait unread in
    its socket while the server closes: a reset would destroy them."""
    server_context, client_context = tls_contexts
    proto = protocol()
    codec = proto.side("client").codec
    encoder, decoder = codec.encoder(), codec.decoder()
    events = Recorder()
    config = tr.Config(close_quiet=0.2)
    received: list[Any] = []
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            server = await start_server(
                nursery,
                proto,
                answer_then_close,
                ssl_context=server_context,
                config=config,
                on_event=events,
            )
            tcp = await trio.open_tcp_stream("127.0.0.1", server.port)
            stream = trio.SSLStream(tcp, client_context, server_hostname="127.0.0.1")
            await stream.do_handshake()
            sent = trio.Event()
            async with trio.open_nursery() as client:
                client.start_soon(keep_sending, stream, encoder, sent)
                await sent.wait()
                try:
                    while data := await stream.receive_some():
                        received.extend(decoder.decode_batch(data))
                except trio.BrokenResourceError:
                    pass  # a reset: what was left unread is gone
            await trio.aclose_forcefully(stream)
            await events.wait_for(tr.Disconnected)
            await server.shutdown()
    (gone,) = events.of(tr.Disconnected)
    assert gone.reason is tr.DisconnectReason.CLOSED
    assert len(received) == REPLIES
    assert received == [Pong(0, k) for k in range(REPLIES)]


async def test_a_tls_close_with_an_idle_peer_does_not_wait_for_quiet(tls_contexts: Any) -> None:
    """Neither end sends anything while the other closes, so neither waits: a ``close_quiet``
    longer than the test's deadline would fail it if either close drained."""
    server_context, client_context = tls_contexts
    proto = protocol()
    config = tr.Config(close_quiet=600)
    events = Recorder()
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            server = await start_server(
                nursery,
                proto,
                lambda peer, message: Pong(message.n, 0),
                ssl_context=server_context,
                config=config,
                on_event=events,
            )
            for _ in range(3):  # the client leaves its block, then the server shuts down
                async with tr.connect(
                    proto, "127.0.0.1", server.port, config=config, ssl_context=client_context
                ) as conn:
                    await conn.send(Ping(1))
                    assert await conn.receive() == Pong(1, 0)
            await events.wait_for(tr.Disconnected, 3)
            async with tr.connect(
                proto, "127.0.0.1", server.port, config=config, ssl_context=client_context
            ) as conn:
                await conn.send(Ping(2))
                assert await conn.receive() == Pong(2, 0)
                await server.shutdown()
                with pytest.raises(tr.ConnectionClosed):
                    await conn.receive()
    assert [event.reason for event in events.of(tr.Disconnected)] == [
        *[tr.DisconnectReason.PEER_CLOSED] * 3,
        tr.DisconnectReason.SHUTDOWN,
    ]
