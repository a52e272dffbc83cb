"""Clients: an imperative connection for ``async with``, and a reactive one running a processor.

Both connect with the config's ``connect_retry`` policy (stamina does the retrying, under trio),
trying every address a host name resolves to, each attempt bounded by ``connect_timeout``, then
run the same engine as the server, with the protocol mirrored: a client decodes what the server
sends and encodes what the client sends.  The ``*_unix`` variants connect to a Unix socket.
"""

from __future__ import annotations

import enum
import os
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import stamina
import trio

from ._callbacks import make_event_sink
from ._connect import connect_once, describe_address, describe_cause, errno_of
from ._sockets import peer_address
from ._unix import UnixPath
from .composite import CompiledStage, Service
from .config import Config, RetryPolicy
from .connection import Connection
from .errors import ConnectFailed, ConnectionClosed
from .events import DisconnectReason, Event
from .peer import Peer
from .processor import Adapted, Kind, Processor
from .protocol import Protocol
from .server import as_service

__all__ = [
    "ClientConnection",
    "connect",
    "connect_unix",
    "open_stream",
    "run_client",
    "run_client_unix",
]

#: Endings that were not the client's choice, after which ``reconnect`` applies.
_RECONNECT_AFTER = frozenset({DisconnectReason.PEER_CLOSED, DisconnectReason.RESET})


async def open_stream(
    host: str | bytes | UnixPath,
    port: int,
    config: Config,
    ssl_context: ssl.SSLContext | None = None,
    retry: RetryPolicy | None = None,
) -> trio.abc.Stream:
    """Connect as ``retry`` (default ``config.connect_retry``) says; TLS with ``ssl_context``.

    Each attempt, TCP connect and TLS handshake together, must finish within
    ``config.connect_timeout``.  A refused, unreachable or timed-out attempt is retried; a TLS
    handshake that fails is not (a certificate does not get better).  The
    :class:`ConnectFailed` raised at the end names the address and the real cause, and carries
    the ``errno`` of the underlying ``OSError`` where there is one.
    """
    retry = config.connect_retry if retry is None else retry
    where = describe_address(host, port)
    stream: trio.abc.Stream | None = None
    try:
        async for attempt in stamina.retry_context(on=OSError, **retry.stamina_arguments()):
            with attempt:
                stream = await connect_once(host, port, config, ssl_context)
    except OSError as exc:
        failure = ConnectFailed(f"could not connect to {where}: {describe_cause(exc)}")
        failure.errno = errno_of(exc)
        raise failure from exc
    except trio.BrokenResourceError as exc:
        cause = exc.__cause__ or exc
        raise ConnectFailed(f"TLS handshake with {where} failed: {cause}") from exc
    assert stream is not None
    return stream


async def _open_connection(
    stages: dict[Any, CompiledStage],
    *,
    initial: Any,
    router: Callable[[Peer], Any] | None,
    host: str | bytes | UnixPath,
    port: int,
    config: Config,
    on_event: Callable[[Event], Any] | None,
    ssl_context: ssl.SSLContext | None,
    retry: RetryPolicy | None = None,
) -> Connection:
    stream = await open_stream(host, port, config, ssl_context, retry)
    return Connection(
        stream,
        address=peer_address(stream),
        stages=stages,
        initial=initial,
        router=router,
        config=config,
        emit=make_event_sink(on_event),
    )


async def run_client(
    protocol: Protocol | Service,
    processor: Processor | None = None,
    host: str | bytes | UnixPath = "127.0.0.1",
    port: int = 0,
    *,
    config: Config | None = None,
    on_event: Callable[[Event], Any] | None = None,
    ssl_context: ssl.SSLContext | None = None,
    reconnect: RetryPolicy | None = None,
    task_status: trio.TaskStatus[Peer] = trio.TASK_STATUS_IGNORED,
) -> DisconnectReason:
    """Connect and run ``processor`` (or a composite ``Service``) on the connection.

    Finishes by itself when the connection ends and says why.  With ``reconnect``, a
    connection the server closed or that broke is made again (following that policy; each new
    connection is a new peer, starting at the initial stage), and
    :class:`~trio_reactive.errors.ConnectFailed` is raised once the policy gives up.  With
    ``nursery.start`` it reports the first :class:`Peer` once connected.
    """
    service = as_service(protocol, processor)
    config = config if config is not None else Config()
    stages = service.compile("client", config.max_message_size)
    retry: RetryPolicy | None = None
    while True:
        connection = await _open_connection(
            stages,
            initial=service.initial,
            router=service.router,
            host=host,
            port=port,
            config=config,
            on_event=on_event,
            ssl_context=ssl_context,
            retry=retry,
        )
        if retry is None:
            task_status.started(connection.peer)
        await connection.run()
        assert connection.reason is not None
        if reconnect is None or connection.reason not in _RECONNECT_AFTER:
            return connection.reason
        retry = reconnect


class _Imperative(enum.Enum):
    CONNECTED = "connected"


class ClientConnection:
    """A connection driven by the caller: ``send``, ``receive``, ``async for``."""

    def __init__(self, peer: Peer) -> None:
        self.peer = peer
        self._messages: Any = None
        self._ready = trio.Event()
        self._done = trio.Event()

    async def _drive(self, peer: Peer, messages: AsyncIterator[Any]) -> None:
        self._messages = messages
        self._ready.set()
        await self._done.wait()

    async def send(self, message: Any) -> None:
        await self.peer.send(message)

    def send_nowait(self, message: Any) -> None:
        self.peer.send_nowait(message)

    async def receive(self) -> Any:
        """The next message; :class:`ConnectionClosed` once the server has closed."""
        try:
            return await self._messages.__anext__()
        except StopAsyncIteration:
            raise ConnectionClosed(f"{self.peer!r}: the connection is closed") from None

    def __aiter__(self) -> ClientConnection:
        return self

    async def __anext__(self) -> Any:
        return await self._messages.__anext__()

    async def aclose(self, timeout: float | None = None) -> int:  # noqa: ASYNC109
        """Flush what was sent and close; returns how many messages could not be sent."""
        unsent = await self.peer.flush_and_close(timeout)
        self._done.set()
        return unsent


@asynccontextmanager
async def connect(
    protocol: Protocol,
    host: str | bytes | UnixPath,
    port: int,
    *,
    config: Config | None = None,
    on_event: Callable[[Event], Any] | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> AsyncIterator[ClientConnection]:
    """Connect and hand the caller the connection; flush and close on leaving the block."""
    holder: list[ClientConnection] = []

    async def drive(peer: Peer, messages: AsyncIterator[Any]) -> None:
        await holder[0]._drive(peer, messages)

    stage = CompiledStage(
        _Imperative.CONNECTED, protocol.side("client"), Adapted(Kind.UNRESPONSIVE, drive)
    )
    config = config if config is not None else Config()
    stage.check(config.max_message_size)
    connection = await _open_connection(
        {_Imperative.CONNECTED: stage},
        initial=_Imperative.CONNECTED,
        router=None,
        host=host,
        port=port,
        config=config,
        on_event=on_event,
        ssl_context=ssl_context,
    )
    handle = ClientConnection(connection.peer)
    holder.append(handle)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(connection.run)
        await handle._ready.wait()
        try:
            yield handle
        finally:
            with trio.CancelScope(shield=True):
                await handle.aclose()


def connect_unix(
    protocol: Protocol,
    path: str | os.PathLike[str],
    *,
    config: Config | None = None,
    on_event: Callable[[Event], Any] | None = None,
) -> AbstractAsyncContextManager[ClientConnection]:
    """:func:`connect` to a server on the Unix socket at ``path`` (see ``serve_unix``)."""
    return connect(protocol, UnixPath(os.fspath(path)), 0, config=config, on_event=on_event)


async def run_client_unix(
    protocol: Protocol | Service,
    processor: Processor | None,
    path: str | os.PathLike[str],
    *,
    config: Config | None = None,
    on_event: Callable[[Event], Any] | None = None,
    reconnect: RetryPolicy | None = None,
    task_status: trio.TaskStatus[Peer] = trio.TASK_STATUS_IGNORED,
) -> DisconnectReason:
    """:func:`run_client` on the Unix socket at ``path`` (see ``serve_unix``)."""
    return await run_client(
        protocol,
        processor,
        UnixPath(os.fspath(path)),
        0,
        config=config,
        on_event=on_event,
        reconnect=reconnect,
        task_status=task_status,
    )
