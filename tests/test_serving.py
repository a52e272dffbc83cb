"""The ways to run a server: ``open_server``, ``server_task`` / ``client_task`` with
``nursery.start``, and ``serve_forever`` stopping gracefully on SIGINT and SIGTERM."""

from __future__ import annotations

import signal
from typing import Any

import pytest
import trio

import trio_reactive as tr
from tests.engine_support import PROCESSORS, Ping, Pong, protocol, raw_connect, read_until_eof
from tests.process_support import announced_port, python_process

pytestmark = pytest.mark.timeout(60)

TIMEOUT = 20


async def test_open_server_serves_for_the_block_and_frees_the_port_after() -> None:
    with trio.fail_after(TIMEOUT):
        async with tr.open_server(protocol(), PROCESSORS["handler"], host="127.0.0.1") as server:
            async with tr.connect(protocol(), "127.0.0.1", server.port) as conn:
                await conn.send(Ping(3))
                assert await conn.receive() == Pong(3, 6)
            port = server.port
        with pytest.raises(OSError):
            await raw_connect(port)


async def test_open_server_flushes_live_peers_when_the_block_ends() -> None:
    with trio.fail_after(TIMEOUT):
        async with tr.open_server(protocol(), PROCESSORS["handler"], host="127.0.0.1") as server:
            stream = await raw_connect(server.port)
            await stream.send_all(b'{"Ping":{"n":1}}\n')
            assert await stream.receive_some() == b'{"Pong":{"n":1,"at":2}}\n'
        assert await read_until_eof(stream) == b""
        await stream.aclose()


async def test_an_exception_in_the_open_server_block_comes_out_as_itself() -> None:
    with trio.fail_after(TIMEOUT), pytest.raises(KeyError):
        async with tr.open_server(protocol(), PROCESSORS["handler"], host="127.0.0.1"):
            raise KeyError("mine")


async def test_keyword_arguments_reach_nursery_start_without_partial() -> None:
    events: list[Any] = []
    config = tr.Config(max_message_size=64)
    with trio.fail_after(TIMEOUT):
        async with trio.open_nursery() as nursery:
            server: tr.Server = await nursery.start(
                tr.server_task(
                    protocol(), PROCESSORS["handler"], host="127.0.0.1", config=config
                )
            )
            assert server.config is config

            async def client(peer: tr.Peer, pongs: Any) -> Any:
                yield Ping(5)
                async for pong in pongs:
                    events.append(pong)
                    return

            peer = await nursery.start(
                tr.client_task(protocol(), client, "127.0.0.1", server.port, config=config)
            )
            assert isinstance(peer, tr.Peer)
            await server.shutdown()
    assert events == [Pong(5, 10)]


# -- serve_forever, as a program ----------------------------------------------------------------

@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_serve_forever_shuts_down_gracefully_on_a_signal(stop: signal.Signals) -> None:
    with python_process("-m", "examples.hello_world", "server-only", "--port", "0") as process:
        assert process.stdout is not None
        with trio.fail_after(TIMEOUT):
            port = await announced_port(process.stdout)
            # A live peer when the signal arrives: it gets its reply, then a clean close.
            stream = await raw_connect(port)
            await stream.send_all(b'{"Hello":{}}\n')
            assert await stream.receive_some() == b'{"World":{"place":"Earth"}}\n'
            process.send_signal(stop)
            assert await read_until_eof(stream) == b""
            await stream.aclose()
            out, err = await trio.to_thread.run_sync(process.communicate)
    assert process.returncode == 0, err
    assert f"stopped by {stop.name}" in out
    assert "Traceback" not in err


def test_the_ping_pong_server_stops_on_sigterm() -> None:
    with python_process("-m", "examples.ping_pong", "server", "--port", "0") as process:
        assert process.stdout is not None
        assert "ping-pong server on" in process.stdout.readline()
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0, err
    assert "stopped by SIGTERM" in out
