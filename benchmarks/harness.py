"""Processes: servers (one per implementation and codec) and load-generator workers.

Every server runs alone in its own process so that its CPU time and memory can be read without
the client's; the load generator is another process, so on a 2-core machine the server and the
client each have a core.  Workers are long-lived and take JSON jobs, so a run pays for process
start-up once, not once per measurement.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

__all__ = ["LoadWorker", "ServerProcess", "WorkerError"]

ROOT = Path(__file__).resolve().parent.parent
#: How long a server may take to start and say where it listens.
START_TIMEOUT = 30.0
#: How long one job may take before the worker is presumed stuck.
JOB_TIMEOUT = 300.0


class WorkerError(RuntimeError):
    """A job failed, or a process did not answer."""


def _read_line(process: subprocess.Popen[str], timeout: float, what: str) -> dict[str, Any]:
    """One JSON line from ``process``; kills it if nothing comes within ``timeout``."""
    assert process.stdout is not None
    timer = threading.Timer(timeout, process.kill)
    timer.start()
    try:
        line = process.stdout.readline()
    finally:
        timer.cancel()
    if not line:
        process.wait()
        raise WorkerError(f"{what} ended without answering (exit code {process.returncode})")
    answer: dict[str, Any] = json.loads(line)
    return answer


class ServerProcess:
    """``python -m benchmarks.serve IMPLEMENTATION CODEC``, started and stopped by the harness."""

    def __init__(self, implementation: str, codec: str) -> None:
        self.implementation = implementation
        self.codec = codec
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.serve", implementation, codec],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.address: dict[str, Any] = {}
        self.pid = self.process.pid
        self._stderr: list[str] = []
        self._drain = threading.Thread(target=self._drain_stderr, daemon=True)
        self._drain.start()

    def _drain_stderr(self) -> None:
        """Keep the last lines of stderr (a full pipe would block the server)."""
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._stderr.append(line)
            del self._stderr[:-40]

    def wait_ready(self) -> None:
        answer = _read_line(self.process, START_TIMEOUT, f"server {self.implementation}")
        if "error" in answer:
            raise WorkerError(f"server {self.implementation}/{self.codec}: {answer['error']}")
        self.address = answer["address"]

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def stderr_tail(self) -> str:
        return "".join(self._stderr[-10:])

    def stop(self) -> None:
        if self.alive:
            self.process.kill()
        self.process.wait()
        self._drain.join(timeout=5)


def start_servers(implementations: list[str], codec: str) -> dict[str, ServerProcess | str]:
    """Start every server at once (they boot in parallel); a failure is kept as its message."""
    started = {name: ServerProcess(name, codec) for name in implementations}
    servers: dict[str, ServerProcess | str] = {}
    for name, server in started.items():
        try:
            server.wait_ready()
            servers[name] = server
        except WorkerError as exc:
            server.stop()
            servers[name] = f"{exc}\n{server.stderr_tail()}".strip()
    return servers


class LoadWorker:
    """``python -m benchmarks.load``: runs one job at a time and answers with its result."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.load"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def send(self, job: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(job) + "\n")
        self.process.stdin.flush()

    def receive(self, timeout: float = JOB_TIMEOUT) -> dict[str, Any]:
        answer = _read_line(self.process, timeout, "load generator")
        if not answer.pop("ok"):
            raise WorkerError(answer["error"])
        return answer

    def run(self, job: dict[str, Any], timeout: float = JOB_TIMEOUT) -> dict[str, Any]:
        self.send(job)
        return self.receive(timeout)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
