"""Worker processes sharing one port: spread, replacement and graceful shutdown on signals.

The launcher runs as its command line does in production, in a process of its own; clients are
plain blocking sockets with timeouts, and every reply names the worker process that sent it.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

import pytest

from tests.process_support import ROOT, run_python, with_root_on_path
from trio_reactive.workers import REUSE_PORT_OPTION

STARTUP_TIMEOUT = 60
STOP_TIMEOUT = 30

pytestmark = pytest.mark.timeout(120)


class Launcher:
    def __init__(self, *arguments: str, app: str = "tests.worker_app:APP") -> None:
        # The log goes to a file, not a pipe: a pipe nobody reads fills up with the workers'
        # lifecycle lines and blocks them.
        self._log = tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed with the launcher
        self.process = subprocess.Popen(
            [sys.executable, "-m", "trio_reactive.workers", app, "--host", "127.0.0.1", *arguments],
            cwd=ROOT,
            env=with_root_on_path(),
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        self.port = 0
        self.pids: list[int] = []

    def wait_ready(self) -> None:
        assert self.process.stdout is not None
        readable, _, _ = select.select([self.process.stdout], [], [], STARTUP_TIMEOUT)
        assert readable, "the launcher did not report its workers in time"
        line = self.process.stdout.readline()
        found = re.fullmatch(r"listening on 127\.0\.0\.1:(\d+) pids ([\d ]+)\n", line)
        assert found, f"unexpected first line {line!r}; stderr: {self.stderr()}"
        self.port = int(found[1])
        self.pids = [int(pid) for pid in found[2].split()]

    def stop(self, signum: int = signal.SIGTERM) -> int:
        self.process.send_signal(signum)
        return self.process.wait(timeout=STOP_TIMEOUT)

    def stderr(self) -> str:
        if self.process.poll() is None:
            return "(still running)"
        self._log.seek(0)
        return self._log.read()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT)


@pytest.fixture
def launch() -> Iterator[type[Launcher]]:
    started: list[Launcher] = []

    class Tracked(Launcher):
        def __init__(self, *arguments: str, **keywords: str) -> None:
            super().__init__(*arguments, **keywords)
            started.append(self)

    yield Tracked
    for launcher in started:
        launcher.kill()


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def ask(sock: socket.socket, n: int) -> int:
    """One request/reply; the pid of the worker that answered."""
    sock.sendall(b'{"Ping":{"n":%d}}\n' % n)
    reply = b""
    while not reply.endswith(b"\n"):
        data = sock.recv(4096)
        assert data, "the server closed the connection"
        reply += data
    pong = json.loads(reply)["Pong"]
    assert pong["n"] == n
    return int(pong["at"])


def served_by(port: int, connections: int) -> list[int]:
    pids = []
    for n in range(connections):
        with connect(port) as sock:
            pids.append(ask(sock, n))
    return pids


def exits(pid: int, timeout: float = STOP_TIMEOUT) -> bool:
    """Whether process ``pid`` (not necessarily our child) has exited, or does within ``timeout``.

    A pidfd becomes readable when its process exits, so this waits without polling.
    """
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([pidfd], [], [], timeout)
        return bool(readable)
    finally:
        os.close(pidfd)


def test_this_system_balances_a_shared_port() -> None:
    assert REUSE_PORT_OPTION is not None, "Linux has SO_REUSEPORT: the default is one per worker"


def test_two_workers_share_a_port_and_stop_gracefully_on_sigterm(launch: type[Launcher]) -> None:
    launcher = launch("--workers", "2")
    launcher.wait_ready()
    assert len(set(launcher.pids)) == 2
    # Each new connection is hashed to one of the workers: 40 all on one has odds of 2**-39.
    assert set(served_by(launcher.port, 40)) == set(launcher.pids)
    held = connect(launcher.port)
    held_by = ask(held, 1)
    assert launcher.stop(signal.SIGTERM) == 0
    assert held.recv(4096) == b"", "a held connection is closed, not reset"
    held.close()
    assert held_by in launcher.pids
    log = launcher.stderr()
    assert log.count("SIGTERM, shutting down") == 2
    assert all(exits(pid) for pid in launcher.pids)
    with pytest.raises(ConnectionRefusedError):
        connect(launcher.port)


def test_workers_sharing_one_socket_serve_and_stop_on_sigint(launch: type[Launcher]) -> None:
    launcher = launch("--workers", "2", "--no-reuse-port", "--on-event", "tests.worker_app:report")
    launcher.wait_ready()
    served = served_by(launcher.port, 20)
    assert set(served) <= set(launcher.pids)
    assert launcher.stop(signal.SIGINT) == 0
    log = launcher.stderr()
    for pid in set(served):  # each worker ran the event callback it was named
        assert log.count(f"worker {pid}: Connected") == served.count(pid)
        assert log.count(f"worker {pid}: Disconnected") == served.count(pid)
    assert all(exits(pid) for pid in launcher.pids)


def test_a_worker_that_dies_is_replaced(launch: type[Launcher]) -> None:
    launcher = launch("--workers", "2")
    launcher.wait_ready()
    victim, survivor = launcher.pids
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    seen: set[int] = set()
    while time.monotonic() < deadline:
        try:
            seen |= set(served_by(launcher.port, 10))
        except ConnectionError:
            continue  # one queued at the dead worker's socket is reset, as the kernel does
        if seen - {victim, survivor}:
            break
    assert victim not in seen
    assert seen - {victim, survivor}, "no new worker answered"
    status = launcher.stop()
    log = launcher.stderr()
    assert status == 0, log
    assert "starting another" in log


def test_an_app_that_cannot_load_fails_the_launch(launch: type[Launcher]) -> None:
    launcher = launch("--workers", "2", app="tests.worker_app:MISSING")
    assert launcher.process.wait(timeout=STARTUP_TIMEOUT) == 1
    log = launcher.stderr()
    assert "AttributeError" in log
    assert "a worker failed to start" in log


def test_workers_do_not_outlive_a_launcher_that_was_killed(launch: type[Launcher]) -> None:
    launcher = launch("--workers", "2")
    launcher.wait_ready()
    launcher.process.kill()  # SIGKILL: no chance to stop anything
    launcher.process.wait(timeout=STOP_TIMEOUT)
    assert all(exits(pid) for pid in launcher.pids)


def test_the_workers_benchmark_runs() -> None:
    result = run_python("-m", "benchmarks.workers", "--smoke", timeout=STARTUP_TIMEOUT * 2)
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()[2:]]
    assert [row[0] for row in rows] == ["serve_tcp", "1", "2"]
    assert all(float(row[1]) > 0 for row in rows)
