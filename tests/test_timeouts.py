"""Deadlines around a connection's start: the client's connect timeout, the server's handshake one.

Real sockets on 127.0.0.1 under the autojump clock: a peer that never answers costs no real time,
and the deadlines are checked exactly.
"""

from __future__ import annotations

import errno
import os
import socket
import ssl
from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest
import trio

import trio_reactive as tr
from tests.engine_support import (
    PROCESSORS,
    Ping,
    Pong,
    Recorder,
    free_port,
    protocol,
    raw_connect,
    read_until_eof,
    start_ping_server,
)
from trio_reactive.client import open_stream

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def full_backlog() -> Iterator[int]:
    """A port whose accept queue is full: a new TCP connect to it hangs (SYNs are dropped)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = int(listener.getsockname()[1])
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    yield port
    for filler in fillers:
        filler.close()
    listener.close()


async def test_a_refused_connect_names_the_address_and_the_real_cause() -> None:
    port = free_port()
    with trio.fail_after(5), pytest.raises(tr.ConnectFailed) as caught:
        await open_stream("127.0.0.1", port, tr.Config())
    assert str(caught.value) == (
        f"could not connect to 127.0.0.1:{port}: [Errno {errno.ECONNREFUSED}] "
        f"{os.strerror(errno.ECONNREFUSED)}"
    )
    assert caught.value.errno == errno.ECONNREFUSED
    assert isinstance(caught.value, OSError)


async def test_connect_and_run_client_report_the_same_cause() -> None:
    port = free_port()
    with trio.fail_after(5):
        with pytest.raises(tr.ConnectFailed, match="Connection refused") as caught:
            async with tr.connect(protocol(), "127.0.0.1", port):
                pass
        assert caught.value.errno == errno.ECONNREFUSED
        with pytest.raises(tr.ConnectFailed, match=rf"127\.0\.0\.1:{port}: \[Errno"):
            await tr.run_client(protocol(), PROCESSORS["handler"], "127.0.0.1", port)


async def test_a_tcp_connect_that_hangs_times_out(autojump_clock: Any, full_backlog: int) -> None:
    config = tr.Config(connect_timeout=3)
    start = trio.current_time()
    with pytest.raises(tr.ConnectFailed, match="TCP connect timed out after 3 s") as caught:
        await open_stream("127.0.0.1", full_backlog, config)
    assert trio.current_time() - start == pytest.approx(3)
    assert caught.value.errno == errno.ETIMEDOUT


async def test_each_attempt_has_its_own_timeout(autojump_clock: Any, full_backlog: int) -> None:
    config = tr.Config(connect_timeout=2, connect_retry=tr.RetryPolicy.backoff(2, 0.5))
    start = trio.current_time()
    with pytest.raises(tr.ConnectFailed, match="timed out after 2 s"):
        await open_stream("127.0.0.1", full_backlog, config)
    # Three attempts of 2 s each, with the backoff's delays between them.
    assert trio.current_time() - start >= 6


async def _silent(stream: trio.SocketStream) -> None:
    await trio.sleep_forever()


async def test_a_silent_tls_server_times_the_client_out(
    autojump_clock: Any, client_tls: ssl.SSLContext
) -> None:
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, _silent, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        start = trio.current_time()
        with pytest.raises(tr.ConnectFailed, match=r"TLS handshake timed out after 10\.0 s"):
            async with tr.connect(protocol(), "127.0.0.1", port, ssl_context=client_tls):
                pass
        assert trio.current_time() - start == pytest.approx(10)
        nursery.cancel_scope.cancel()


async def test_tls_handshake_errors_are_not_timeouts(server_tls: ssl.SSLContext) -> None:
    stranger = ssl.create_default_context()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_ping_server(nursery, ssl_context=server_tls)
            with pytest.raises(tr.ConnectFailed, match=r"TLS handshake with 127\.0\.0\.1:\d+ fail"):
                await open_stream("127.0.0.1", server.port, tr.Config(), stranger)
            await server.shutdown()


async def test_connections_that_never_start_tls_are_closed_after_the_handshake_timeout(
    autojump_clock: Any, server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    events = Recorder()
    config = tr.Config(handshake_timeout=5)
    async with trio.open_nursery() as nursery:
        server = await start_ping_server(
            nursery, ssl_context=server_tls, config=config, on_event=events
        )
        idle = [await raw_connect(server.port) for _ in range(50)]
        start = trio.current_time()
        await events.wait_for(tr.Rejected, 50)
        assert trio.current_time() - start == pytest.approx(5)
        for stream in idle:
            assert await read_until_eof(stream) == b""
            await stream.aclose()
        rejected = events.of(tr.Rejected)
        assert {event.reason for event in rejected} == {tr.DisconnectReason.HANDSHAKE_TIMEOUT}
        assert all(event.address[0] == "127.0.0.1" for event in rejected)
        assert events.count()["Connected"] == 0
        # A real client still gets in, and its handshake is not cut short.
        async with tr.connect(protocol(), "127.0.0.1", server.port, ssl_context=client_tls) as conn:
            await conn.send(Ping(1))
            assert await conn.receive() == Pong(1, 2)
        await server.shutdown()


async def test_plain_text_to_a_tls_server_is_rejected_as_a_failed_handshake(
    server_tls: ssl.SSLContext,
) -> None:
    events = Recorder()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_ping_server(nursery, ssl_context=server_tls, on_event=events)
            stream = await raw_connect(server.port)
            await stream.send_all(b'{"Ping":{"n":1}}\n')
            await events.wait_for(tr.Rejected)
            (event,) = events.of(tr.Rejected)
            assert event.reason is tr.DisconnectReason.HANDSHAKE_FAILED
            assert isinstance(event.error, ssl.SSLError)
            await stream.aclose()
            await server.shutdown()


async def test_shutdown_does_not_wait_for_handshakes(
    autojump_clock: Any, server_tls: ssl.SSLContext
) -> None:
    events = Recorder()
    async with trio.open_nursery() as nursery:
        server = await start_ping_server(nursery, ssl_context=server_tls, on_event=events)
        stream = await raw_connect(server.port)
        await trio.sleep(1)
        start = trio.current_time()
        await server.shutdown()
        assert trio.current_time() - start < 1
        assert [event.reason for event in events.of(tr.Rejected)] == [tr.DisconnectReason.SHUTDOWN]
        await stream.aclose()


@pytest.mark.parametrize(
    "fields",
    [
        {"connect_timeout": 0},
        {"handshake_timeout": -1},
        {"max_connections": 0},
        {"keepalive_idle": 30},
        {"keepalive": True, "keepalive_count": 0},
    ],
)
def test_bad_limits_are_config_errors(fields: dict[str, Any]) -> None:
    with pytest.raises(tr.ConfigError):
        tr.Config(**fields)


def test_timeouts_can_be_turned_off() -> None:
    config = tr.Config(connect_timeout=None, handshake_timeout=None)
    assert config.connect_timeout is None and config.handshake_timeout is None
    assert tr.Config().connect_timeout == tr.Config().handshake_timeout == 10.0


async def test_connections_in_their_handshake_count_against_max_connections(
    autojump_clock: Any, server_tls: ssl.SSLContext
) -> None:
    events = Recorder()
    config = tr.Config(max_connections=2, handshake_timeout=5)
    async with trio.open_nursery() as nursery:
        server = await start_ping_server(
            nursery, ssl_context=server_tls, config=config, on_event=events
        )
        silent = [await raw_connect(server.port) for _ in range(3)]
        await events.wait_for(tr.Rejected)
        assert [event.reason for event in events.of(tr.Rejected)] == [
            tr.DisconnectReason.TOO_MANY_CONNECTIONS
        ]
        await events.wait_for(tr.Rejected, 3)  # the two others when their deadline passes
        assert sorted(event.reason.name for event in events.of(tr.Rejected)[1:]) == [
            "HANDSHAKE_TIMEOUT",
            "HANDSHAKE_TIMEOUT",
        ]
        for stream in silent:
            await stream.aclose()
        await server.shutdown()
