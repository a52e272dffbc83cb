"""One connect attempt of a client, and what to say when connecting failed.

trio reports a failed connect to a host name as "all attempts to connect to HOST:PORT failed",
with the per-address errors in an exception group behind it; a user wants the cause
(``[Errno 111] Connection refused``) and its ``errno``.  These helpers find it, and bound each
attempt, TCP connect and TLS handshake together, by ``connect_timeout``.
"""

from __future__ import annotations

import errno
import math
import os
import ssl

import trio

from ._sockets import apply_socket_options
from ._unix import UnixPath
from .config import Config

__all__ = ["TimedOut", "connect_once", "describe_address", "describe_cause", "errno_of"]


class TimedOut(TimeoutError):
    """One connect attempt ran out of ``connect_timeout``; says which step was under way."""


async def connect_once(
    host: str | bytes | UnixPath,
    port: int,
    config: Config,
    ssl_context: ssl.SSLContext | None,
) -> trio.abc.Stream:
    """Connect once (TLS too, with ``ssl_context``) within ``connect_timeout``, or raise.

    Running out of time raises :class:`TimedOut` (an ``OSError``, so retry policies retry it)
    naming the step under way; a failed TLS handshake raises ``trio.BrokenResourceError``.
    """
    timeout = config.connect_timeout
    step = "TCP connect" if not isinstance(host, UnixPath) else "connect"
    stream: trio.abc.Stream | None = None
    done = False
    try:
        with trio.move_on_after(math.inf if timeout is None else timeout):
            if isinstance(host, UnixPath):
                stream = await trio.open_unix_socket(host.path)
            else:
                stream = await trio.open_tcp_stream(host, port)
            apply_socket_options(stream, config)
            if ssl_context is not None:
                step = "TLS handshake"
                server_hostname = None if isinstance(host, UnixPath) else _text(host)
                stream = trio.SSLStream(stream, ssl_context, server_hostname=server_hostname)
                await stream.do_handshake()
            done = True
    finally:
        if not done and stream is not None:
            await trio.aclose_forcefully(stream)
    if not done:
        raise TimedOut(errno.ETIMEDOUT, f"{step} timed out after {timeout} s")
    assert stream is not None
    return stream


def _text(host: str | bytes) -> str:
    return host.decode() if isinstance(host, bytes) else host


def describe_address(host: str | bytes | UnixPath, port: int) -> str:
    if isinstance(host, UnixPath):
        return host.path
    name = _text(host)
    return f"[{name}]:{port}" if ":" in name else f"{name}:{port}"


def _leaves(exc: OSError) -> list[OSError]:
    """The per-address errors behind trio's "all attempts to connect ... failed"."""
    group = exc.__cause__
    if isinstance(group, BaseExceptionGroup):
        found = [leaf for leaf in _flatten(group) if isinstance(leaf, OSError)]
        if found:
            return found
    return [exc]


def _flatten(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    leaves: list[BaseException] = []
    for inner in group.exceptions:
        leaves.extend(_flatten(inner) if isinstance(inner, BaseExceptionGroup) else [inner])
    return leaves


def describe_cause(exc: OSError) -> str:
    """``[Errno 111] Connection refused`` rather than trio's summary of the attempts."""
    described: list[str] = []
    for leaf in _leaves(exc):
        if isinstance(leaf, TimedOut):
            text = str(leaf.strerror)
        elif leaf.errno is not None:
            text = f"[Errno {leaf.errno}] {os.strerror(leaf.errno)}"
        else:
            text = str(leaf)
        if text not in described:
            described.append(text)
    return "; ".join(described)


def errno_of(exc: OSError) -> int | None:
    return next((leaf.errno for leaf in _leaves(exc) if leaf.errno is not None), None)
