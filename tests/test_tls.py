"""TLS on both ends, with a throw-away certificate authority made by trustme."""

from __future__ import annotations

import ssl

import pytest
import trio

import trio_reactive as tr
from tests.engine_support import PROCESSORS, Ping, Pong, Recorder, protocol, start_server

pytestmark = pytest.mark.timeout(30)


@pytest.mark.parametrize("codec", ["textual", "fixed", "variable"])
async def test_messages_over_tls(
    codec: str, server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    proto = protocol(codec)
    events = Recorder()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_server(
                nursery, proto, PROCESSORS["handler"], ssl_context=server_tls, on_event=events
            )
            async with tr.connect(proto, "localhost", server.port, ssl_context=client_tls) as conn:
                for n in range(100):
                    await conn.send(Ping(n))
                assert [await conn.receive() for _ in range(100)] == [
                    Pong(n, n * 2) for n in range(100)
                ]
            await events.wait_for(tr.Disconnected)
            await server.shutdown()
    assert events.count()["Connected"] == 1


async def test_an_untrusted_server_is_refused(server_tls: ssl.SSLContext) -> None:
    proto = protocol("textual")
    stranger = ssl.create_default_context()  # does not trust the test authority
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_server(
                nursery, proto, PROCESSORS["handler"], ssl_context=server_tls
            )
            with pytest.raises(tr.ConnectFailed, match="TLS handshake"):
                async with tr.connect(proto, "localhost", server.port, ssl_context=stranger):
                    pass
            await server.shutdown()
