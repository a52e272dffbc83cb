"""The HTTP/1.0 example: text-line heads, then raw bodies, against real HTTP peers.

The client fetches from ``python -m http.server``; the server is fetched from by ``urllib`` and,
where it is installed, by ``curl`` (the parameter list is built from what is there, so every
collected test runs).
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trio

from examples import http10
from tests.process_support import python_process

TIMEOUT = 20
BODY = bytes(range(256)) * 4096 + b"\r\n\r\nthe end\n"  # 1 MiB, with blank lines inside


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "blob.bin").write_bytes(BODY)
    (tmp_path / "empty.txt").write_bytes(b"")
    return tmp_path


@pytest.fixture
def http_server(root: Path) -> Iterator[int]:
    """``python -m http.server`` on a free port; yields the port."""
    arguments = ("-m", "http.server", "0", "--bind", "127.0.0.1", "-d", str(root))
    with python_process(*arguments, stderr=subprocess.DEVNULL) as process:
        assert process.stdout is not None
        banner = process.stdout.readline()  # "Serving HTTP on 127.0.0.1 port 12345 (...) ..."
        found = re.search(r"port (\d+)", banner)
        assert found is not None, banner
        yield int(found.group(1))


async def test_the_client_fetches_a_body_from_python_http_server(http_server: int) -> None:
    with trio.fail_after(TIMEOUT):
        response = await http10.fetch(f"http://127.0.0.1:{http_server}/blob.bin")
    assert response.status == 200
    assert response.headers["content-length"] == str(len(BODY))
    assert bytes(response.body) == BODY


async def test_the_client_reads_an_empty_body_and_a_missing_file(http_server: int) -> None:
    with trio.fail_after(TIMEOUT):
        empty = await http10.fetch(f"http://127.0.0.1:{http_server}/empty.txt")
        missing = await http10.fetch(f"http://127.0.0.1:{http_server}/nothing-here")
    assert (empty.status, bytes(empty.body)) == (200, b"")
    assert missing.status == 404


def _urllib(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=TIMEOUT) as reply:
        return reply.status, reply.read()


def _curl(url: str) -> tuple[int, bytes]:
    done = subprocess.run(
        ["curl", "--silent", "--http1.0", "--write-out", "\n%{http_code}", url],
        capture_output=True,
        timeout=TIMEOUT,
        check=True,
    )
    body, _, code = done.stdout.rpartition(b"\n")
    return int(code), body


CLIENTS: dict[str, Callable[[str], tuple[int, bytes]]] = {"urllib": _urllib}
if shutil.which("curl"):
    CLIENTS["curl"] = _curl


@pytest.mark.parametrize("client", sorted(CLIENTS))
async def test_the_server_answers_real_clients(root: Path, client: str) -> None:
    get = CLIENTS[client]
    with trio.fail_after(TIMEOUT):
        async with trio.open_nursery() as nursery:
            server = await nursery.start(http10.serve, root)
            base = f"http://127.0.0.1:{server.port}"
            assert await trio.to_thread.run_sync(get, f"{base}/blob.bin") == (200, BODY)
            assert await trio.to_thread.run_sync(get, f"{base}/empty.txt") == (200, b"")
            status, _ = await trio.to_thread.run_sync(functools.partial(_status_of, get, base))
            assert status == 404
            await server.shutdown()


def _status_of(get: Callable[[str], tuple[int, bytes]], base: str) -> tuple[int, bytes]:
    try:
        return get(f"{base}/../etc/passwd")
    except urllib.error.HTTPError as error:
        return error.code, b""


async def test_the_client_and_the_server_talk(root: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with trio.open_nursery() as nursery:
            server = await nursery.start(http10.serve, root)
            response = await http10.fetch(f"http://127.0.0.1:{server.port}/blob.bin")
            await server.shutdown()
    assert (response.status, response.reason) == (200, "OK")
    assert response.headers["content-type"] == "application/octet-stream"
    assert bytes(response.body) == BODY
