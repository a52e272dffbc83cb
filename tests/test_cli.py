"""``python -m trio_reactive``, driven as a person would: stdin lines in, stdout checked."""

from __future__ import annotations

import json
import signal
import subprocess

import pytest
import trio

import trio_reactive as tr
from examples.hello_world import PROTOCOL, answer
from tests.engine_support import raw_connect
from tests.process_support import announced_port, python_process, run_python

pytestmark = pytest.mark.timeout(60)

TIMEOUT = 20


def _cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return run_python("-m", "trio_reactive", *args, stdin=stdin, timeout=TIMEOUT)


def test_help_says_how() -> None:
    done = _cli("--help")
    assert done.returncode == 0
    assert "connect" in done.stdout and "listen" in done.stdout
    assert '{"Hello":{}}' in done.stdout


async def test_connect_sends_typed_lines_and_pretty_prints_the_replies() -> None:
    with trio.fail_after(TIMEOUT):
        async with tr.open_server(PROTOCOL, answer, host="127.0.0.1") as server:
            lines = '{"Hello":{}}\nthis is not json\n\n{"Hello":{}}\n'
            done = await trio.to_thread.run_sync(
                lambda: _cli("connect", "127.0.0.1", str(server.port), stdin=lines)
            )
    assert done.returncode == 0, done.stderr
    assert "not JSON, not sent" in done.stderr
    decoder = json.JSONDecoder()
    replies, text = [], done.stdout.strip()
    while text:
        value, end = decoder.raw_decode(text)
        replies.append(value)
        text = text[end:].strip()
    assert replies == [{"World": {"place": "Earth"}}] * 2
    assert '\n  "World": {\n    "place": "Earth"\n  }\n' in done.stdout


async def test_connect_compact_prints_one_reply_per_line() -> None:
    with trio.fail_after(TIMEOUT):
        async with tr.open_server(PROTOCOL, answer, host="127.0.0.1") as server:
            done = await trio.to_thread.run_sync(
                lambda: _cli(
                    "connect", "127.0.0.1", str(server.port), "--compact", stdin='{"Hello":{}}\n'
                )
            )
    assert done.returncode == 0, done.stderr
    assert done.stdout == '{"World":{"place":"Earth"}}\n'


def test_connect_without_a_server_fails_clearly() -> None:
    from tests.engine_support import free_port

    done = _cli("connect", "127.0.0.1", str(free_port()))
    assert done.returncode == 1
    assert "could not connect" in done.stderr


async def test_listen_prints_what_arrives_and_stops_on_sigint() -> None:
    with python_process("-m", "trio_reactive", "listen", "--port", "0") as process:
        assert process.stderr is not None and process.stdout is not None
        with trio.fail_after(TIMEOUT):
            stream = await raw_connect(await announced_port(process.stderr))
            await stream.send_all(b'{"Ping":{"n":1}}\n[1, 2, 3]\n"text"\n')
            for expected in ('{"Ping":{"n":1}}\n', "[1,2,3]\n", '"text"\n'):
                assert await trio.to_thread.run_sync(process.stdout.readline) == expected
            await stream.aclose()
            process.send_signal(signal.SIGINT)
            await trio.to_thread.run_sync(process.wait)
    assert process.returncode == 0
