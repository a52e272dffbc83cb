"""The hello-world example, in each of its modes, over each codec.

Server-only mode is also talked to the way its banner tells a person to: with the printed
``echo ... | nc`` line, sent over a raw socket (and through a real ``nc`` when one is installed).
"""

from __future__ import annotations

import re
import socket

import pytest
import trio

from examples import hello_world
from examples.hello_world import World
from tests.process_support import python_succeeds

HOST = "127.0.0.1"
TIMEOUT = 10
HINT = re.compile(r"echo '(?P<line>.*)' \| nc -N (?P<host>\S+) (?P<port>\d+)")

codecs = pytest.mark.parametrize("codec", list(hello_world.CODECS))


@codecs
async def test_both_in_one_process(codec: str) -> None:
    with trio.fail_after(TIMEOUT):
        assert await hello_world.run("both", codec, HOST, 0) == World("Earth")


@codecs
async def test_client_only_against_a_server(codec: str) -> None:
    with trio.fail_after(TIMEOUT):
        async with trio.open_nursery() as nursery:
            server = await nursery.start(hello_world.serve, codec, HOST, 0)
            assert await hello_world.run("client-only", codec, HOST, server.port) == World("Earth")
            await server.shutdown()


async def _server_only_hint(nursery: trio.Nursery, capsys: pytest.CaptureFixture[str]) -> str:
    """Start server-only mode on a free port and return the ``nc`` line it prints."""
    nursery.start_soon(hello_world.run, "server-only", "textual", HOST, 0)
    printed = ""
    while (found := HINT.search(printed)) is None:
        await trio.sleep(0.01)
        printed += capsys.readouterr().out
    return found.group(0)


async def test_server_only_answers_a_raw_socket(capsys: pytest.CaptureFixture[str]) -> None:
    with trio.fail_after(TIMEOUT):
        async with trio.open_nursery() as nursery:
            hint = HINT.fullmatch(await _server_only_hint(nursery, capsys))
            assert hint is not None
            stream = await trio.open_tcp_stream(hint["host"], int(hint["port"]))
            async with stream:
                await stream.send_all(hint["line"].encode() + b"\n")
                await stream.send_eof()
                received = b""
                while chunk := await stream.receive_some():
                    received += chunk
            assert received == b'{"World":{"place":"Earth"}}\n'
            nursery.cancel_scope.cancel()


@codecs
def test_the_demo_round_trips_both_messages(codec: str) -> None:
    from examples import demo

    for message in (hello_world.Hello(), World("Earth")):
        wire, decoded = demo.round_trip(codec, message)
        assert decoded == message
        assert wire


def test_the_demo_runs_to_the_end() -> None:
    done = python_succeeds("-m", "examples.demo")
    assert "client  <- World(place='Earth')" in done.stdout
    assert "0 cancelled" in done.stdout


def test_client_only_without_a_server_says_how_to_start_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as bound_but_not_listening:
        bound_but_not_listening.bind((HOST, 0))
        port = bound_but_not_listening.getsockname()[1]
        assert hello_world.main(["client-only", "--port", str(port)]) == 1
    assert "server-only" in capsys.readouterr().out
