"""Lifecycle lines on the ``trio_reactive`` logger: what an operator sees at INFO."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import trio
import trio.testing

import trio_reactive as tr
from tests.engine_support import PROCESSORS, Ping, Pong, Recorder, free_port, protocol

pytestmark = pytest.mark.timeout(30)


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "trio_reactive"]


async def test_a_server_and_a_client_log_their_lifecycle(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="trio_reactive")
    events = Recorder()
    with trio.fail_after(10):
        async with tr.open_server(
            protocol(), PROCESSORS["handler"], host="127.0.0.1", on_event=events
        ) as server:
            async with tr.connect(protocol(), "127.0.0.1", server.port) as conn:
                await conn.send(Ping(1))
                assert await conn.receive() == Pong(1, 2)
            await events.wait_for(tr.Disconnected)
    lines = _lines(caplog)
    assert f"server: listening on 127.0.0.1:{server.port}" in lines
    assert any(line.startswith("server: accepted 127.0.0.1:") for line in lines)
    assert any(line.startswith("server: connected <Peer") for line in lines)
    assert any(line.startswith("client: connected <Peer") for line in lines)
    assert any(
        line.startswith("server: disconnected <Peer")
        and line.endswith(tr.DisconnectReason.PEER_CLOSED.value)
        for line in lines
    )
    assert any(
        line.startswith("client: disconnected <Peer")
        and line.endswith(tr.DisconnectReason.CLOSED.value)
        for line in lines
    )


async def test_a_processor_error_is_named_in_the_disconnect_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(peer: tr.Peer, message: Any) -> None:
        raise ValueError("bad ping")

    caplog.set_level(logging.INFO, logger="trio_reactive")
    events = Recorder()
    config = tr.Config(close_on_processor_error=True)
    with trio.fail_after(10):
        async with tr.open_server(
            protocol(), broken, host="127.0.0.1", config=config, on_event=events
        ) as server:
            async with tr.connect(protocol(), "127.0.0.1", server.port) as conn:
                await conn.send(Ping(1))
                with pytest.raises(tr.ConnectionClosed):
                    await conn.receive()
            await events.wait_for(tr.Disconnected)
    assert any(
        "disconnected" in line and "the processor raised (bad ping)" in line
        for line in _lines(caplog)
    )


async def test_connect_retries_name_the_target_the_attempt_and_the_delay(
    caplog: pytest.LogCaptureFixture, autojump_clock: trio.testing.MockClock
) -> None:
    caplog.set_level(logging.INFO, logger="trio_reactive")
    port = free_port()
    config = tr.Config(connect_retry=tr.RetryPolicy.backoff(2, initial_delay=0.5))
    with trio.fail_after(60), pytest.raises(tr.ConnectFailed):
        async with tr.connect(protocol(), "127.0.0.1", port, config=config):
            pass
    retries = [line for line in _lines(caplog) if line.startswith("connecting to")]
    assert len(retries) == 3
    assert retries[0].startswith(f"connecting to 127.0.0.1:{port}: attempt 1 failed (")
    assert "next attempt in 0.500 s" in retries[0]
    assert "attempt 2 failed" in retries[1]
    assert retries[2].endswith("; giving up")


async def test_a_reconnecting_client_says_so(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="trio_reactive")

    def hang_up(peer: tr.Peer, message: Any) -> None:
        peer.close()

    seen: list[int] = []

    async def client(peer: tr.Peer, pongs: Any) -> Any:
        seen.append(peer.id)
        yield Ping(len(seen))
        async for _ in pongs:
            pass

    with trio.fail_after(10):
        async with tr.open_server(protocol(), hang_up, host="127.0.0.1") as server:
            port = server.port

            async def stop_after_two(event: Any) -> None:
                if isinstance(event, tr.Disconnected) and len(seen) >= 2:
                    await server.shutdown()

            with pytest.raises(tr.ConnectFailed):
                await tr.run_client(
                    protocol(),
                    client,
                    "127.0.0.1",
                    server.port,
                    on_event=stop_after_two,
                    reconnect=tr.RetryPolicy.backoff(1, initial_delay=0.01),
                )
    assert any(
        line.startswith(f"client: reconnecting to 127.0.0.1:{port} after the peer closed")
        for line in _lines(caplog)
    )


def test_endpoints_are_written_as_a_person_writes_them() -> None:
    from trio_reactive._lifecycle import endpoint

    assert endpoint("127.0.0.1", 9758) == "127.0.0.1:9758"
    assert endpoint(b"example.org", 80) == "example.org:80"
    assert endpoint("::1", 9758) == "[::1]:9758"
