"""What the fault cases check with: verdicts, the proof servers they share, and small client
steps (a round trip, reading until the server closes, a TLS hello to dribble out).

A case collects its problems in a :class:`Checks`; :func:`nothing_left` is the leak check every
case ends with: the server alive, no peer left, its descriptors and trio tasks as before.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterator
from typing import Any

import attrs
import trio

from .proof_client import ProofServer, TlsFiles, valid_frames

__all__ = [
    "FAILED",
    "NOT_AVAILABLE",
    "OK",
    "STEP_TIMEOUT",
    "Checks",
    "Outcome",
    "Scale",
    "client_hello",
    "close_shared",
    "exactly_once",
    "local_port",
    "nothing_left",
    "reasons",
    "receive_exactly",
    "round_trip",
    "serving",
    "tls_arguments",
    "tls_files",
    "until_closed",
]

OK, FAILED, NOT_AVAILABLE = "ok", "FAILED", "not available"
#: The longest any single step of a case may take.
STEP_TIMEOUT = 20.0


@attrs.frozen
class Outcome:
    case: str
    status: str
    detail: str
    seconds: float = 0.0


@attrs.frozen
class Scale:
    """How hard each case pushes: ``--smoke`` is small, the default a little more."""

    messages: int
    connections: int
    nofile: int
    handshake_timeout: float


class Checks:
    """The problems a case found; a case passes when there are none."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.notes: list[str] = []

    def expect(self, condition: bool, problem: str) -> None:
        if not condition:
            self.problems.append(problem)

    def note(self, text: str) -> None:
        self.notes.append(text)

    def outcome(self, case: str) -> Outcome:
        if self.problems:
            return Outcome(case, FAILED, "; ".join(self.problems + self.notes))
        return Outcome(case, OK, "; ".join(self.notes))


_tls: list[TlsFiles] = []


def tls_files() -> TlsFiles:
    """One throw-away authority and certificate for the whole run (making one takes a while)."""
    if not _tls:
        _tls.append(TlsFiles())
    return _tls[0]


_shared: dict[tuple[str, ...], ProofServer] = {}


def tls_arguments(scale: Scale) -> tuple[str, ...]:
    pem = tls_files().server_pem
    timeout = str(scale.handshake_timeout)
    return ("--services", "fixed", "--tls-certificate", pem, "--handshake-timeout", timeout)


@contextlib.contextmanager
def serving(*arguments: str, shared: bool = True) -> Iterator[ProofServer]:
    """A proof server started with ``arguments``: one per run for the cases that can share it
    (each still compares the server's counts before and after itself), else a fresh one."""
    if not shared:
        server = ProofServer(*arguments)
        try:
            yield server
        finally:
            server.stop()
        return
    if arguments not in _shared or not _shared[arguments].alive:
        _shared[arguments] = ProofServer(*arguments)
    yield _shared[arguments]


def reasons(server: ProofServer, port: int, kind: str = "Disconnected") -> list[str]:
    return [event["reason"] for event in server.events_of(port, kind)]


async def nothing_left(server: ProofServer, before: dict[str, Any], checks: Checks) -> None:
    """The server is alive, holds no peer, and has the descriptors and tasks it had before."""
    checks.expect(server.alive, f"the server died: {server.stderr_tail(5)}")
    if not server.alive:
        return
    after = await server.settled()
    checks.expect(after["peers"] == 0, f"{after['peers']} peers left")
    checks.expect(after["fds"] == before["fds"], f"fds {before['fds']} -> {after['fds']}")
    checks.expect(after["tasks"] == before["tasks"], f"tasks {before['tasks']} -> {after['tasks']}")
    checks.note(f"fds {before['fds']}->{after['fds']}, tasks {before['tasks']}->{after['tasks']}")


def exactly_once(checks: Checks, seen: list[str], allowed: set[str], what: str) -> None:
    checks.expect(
        len(seen) == 1 and seen[0] in allowed,
        f"{what}: {seen or 'none'} (wanted one of {sorted(allowed)})",
    )
    if len(seen) == 1:
        checks.note(f"{what} {seen[0]}")


def local_port(stream: trio.SocketStream) -> int:
    return int(stream.socket.getsockname()[1])


async def round_trip(port: int, service: str = "fixed", seq: int = 1) -> bool:
    """Whether ``service`` answers a well-formed request on a new connection."""
    try:
        with trio.fail_after(5):
            stream = await trio.open_tcp_stream("127.0.0.1", port)
            async with stream:
                await stream.send_all(valid_frames(service, seq, 1))
                return bool(await stream.receive_some(65536))
    except (OSError, trio.TooSlowError, trio.BrokenResourceError):
        return False


async def receive_exactly(stream: trio.SocketStream, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = await stream.receive_some(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


async def until_closed(stream: trio.SocketStream) -> bool:
    """Read until the server closes; True for an orderly EOF or a reset, both a close."""
    try:
        while await stream.receive_some(65536):
            pass
    except trio.BrokenResourceError:
        pass
    return True


def client_hello() -> bytes:
    """The first bytes a TLS client sends: what a slow TLS client dribbles out."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing)
    with contextlib.suppress(ssl.SSLWantReadError):  # it waits for the server's answer
        tls.do_handshake()
    return outgoing.read()


def close_shared() -> None:
    """Stop the servers the cases shared and drop the run's certificate files."""
    for server in _shared.values():
        server.stop()
    _shared.clear()
    for tls in _tls:
        tls.close()
    _tls.clear()
