"""The attacking side's view of :mod:`benchmarks.proof_server`: start it, read its events, ask
for its counts, and the valid frames every attack starts from.

The server runs in a process of its own so that a crash is a dead process (seen, not hidden by
the attacker's own nursery) and its memory and descriptors are its own.
"""

from __future__ import annotations

import contextlib
import json
import queue
import ssl
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import trio
import trustme

from .model import Ping, protocol_for
from .proof_server import LOGIN_PASSWORD, Login, composite_protocols
from .stats import rss_bytes

__all__ = ["ProofServer", "TlsFiles", "valid_frames"]

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 30.0
SENT_NS = 1_732_481_234_567_890_123


def valid_frames(service: str, seq: int = 0, count: int = 1) -> bytes:
    """``count`` well-formed requests for ``service`` (a composite one starts with its login)."""
    pings = [Ping(seq + i, SENT_NS + i, 1.5, 1) for i in range(count)]
    if service == "raw":
        return b"".join(f"chunk {p.seq}\n".encode() for p in pings)
    if service == "composite":
        login, stage = composite_protocols()
        head = login.side("client").codec.encoder().encode_batch([Login("ann", LOGIN_PASSWORD)])
        return bytes(head) + bytes(stage.side("client").codec.encoder().encode_batch(pings))
    return bytes(protocol_for(service).side("client").codec.encoder().encode_batch(pings))


class TlsFiles:
    """A throw-away certificate authority and a certificate for 127.0.0.1, as files."""

    def __init__(self) -> None:
        self.authority = trustme.CA()
        certificate = self.authority.issue_cert("127.0.0.1", "localhost")
        self._directory = tempfile.TemporaryDirectory(prefix="proof-tls-")
        self.server_pem = str(Path(self._directory.name) / "server.pem")
        certificate.private_key_and_cert_chain_pem.write_to_path(self.server_pem)

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts only this authority."""
        context = ssl.create_default_context()
        self.authority.configure_trust(context)
        return context

    def close(self) -> None:
        self._directory.cleanup()


class ProofServer:
    """``python -m benchmarks.proof_server`` with its events collected as they come."""

    def __init__(self, *arguments: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.proof_server", *arguments],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.pid = self.process.pid
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._answers: queue.Queue[dict[str, Any]] = queue.Queue()
        self._stderr: list[str] = []
        self._threads = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        try:
            first = self._answers.get(timeout=START_TIMEOUT)
        except queue.Empty:
            first = {}
        if "ports" not in first:
            self.stop()
            raise RuntimeError(f"proof server did not start:\n{self.stderr_tail()}")
        self.ports: dict[str, int] = first["ports"]

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            message = json.loads(line)
            if "event" in message:
                with self._lock:
                    self.events.append(message)
            else:
                self._answers.put(message.get("stats", message))
        self._answers.put({"gone": True})

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._stderr.append(line)
            del self._stderr[:-200]

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def stderr_tail(self, lines: int = 20) -> str:
        return "".join(self._stderr[-lines:])

    def tracebacks(self) -> int:
        """Tracebacks the server printed (an error the library logged with its stack)."""
        return sum(line.startswith("Traceback") for line in self._stderr)

    def rss(self) -> int:
        return rss_bytes(self.pid)

    def events_of(self, port: int, kind: str | None = None) -> list[dict[str, Any]]:
        """The events about the client connection whose local port is ``port``."""
        with self._lock:
            return [e for e in self.events if e.get("port") == port and kind in (None, e["event"])]

    def count(self, kind: str) -> int:
        with self._lock:
            return sum(e["event"] == kind for e in self.events)

    def _stats_now(self) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write("stats\n")
        self.process.stdin.flush()
        answer = self._answers.get(timeout=10)
        if "gone" in answer:
            raise RuntimeError(f"proof server ended:\n{self.stderr_tail()}")
        return answer

    async def stats(self) -> dict[str, Any]:
        """``{"fds": ..., "peers": ..., "tasks": ...}`` as the server counts them now."""
        return await trio.to_thread.run_sync(self._stats_now)

    async def settled(self, patience: float = 10.0) -> dict[str, Any]:
        """The counts once no peer is left (or as they are after ``patience`` seconds)."""
        with trio.move_on_after(patience):
            while True:
                stats = await self.stats()
                if stats["peers"] == 0:
                    break
                await trio.sleep(0.05)
        await trio.sleep(0.1)  # let closing tasks finish after their peer is gone
        return await self.stats()

    def kill(self) -> None:
        if self.alive:
            self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        """Close stdin (the server ends by itself), kill it if it does not."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()
        for thread in self._threads:
            thread.join(timeout=5)
