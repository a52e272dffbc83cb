"""Clients: an imperative connection for ``async with``, and a reactive one running a processor.

Both connect with the config's ``connect_retry`` policy (stamina does the retrying, under trio),
trying every address a host name resolves to, then run the same engine as the server, with the
protocol mirrored: a client decodes what the server sends and encodes what the client sends.
"""

from __future__ import annotations

import enum
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import stamina
import trio

from ._callbacks import EventSink, make_event_sink
from ._lifecycle import endpoint, log_event, log_retry, logger
from ._sockets import apply_socket_options, peer_address
from ._unwrap import lone_exception, unwrapped
from .composite import CompiledStage, Service
from .config import Config, RetryPolicy
from .connection import Connection
from .errors import ConnectFailed, ConnectionClosed
from .events import DisconnectReason, Event
from .peer import Peer
from .processor import Adapted, Kind, Processor
from .protocol import Protocol
from .server import as_service

__all__ = ["ClientConnection", "connect", "open_stream", "run_client"]

#: Endings that were not the client's choice, after which ``reconnect`` applies.
_RECONNECT_AFTER = frozenset({DisconnectReason.PEER_CLOSED, DisconnectReason.RESET})


async def open_stream(
    host: str | bytes,
    port: int,
    config: Config,
    ssl_context: ssl.SSLContext | None = None,
    retry: RetryPolicy | None = None,
) -> trio.abc.Stream:
    """Connect as ``retry`` (default ``config.connect_retry``) says; TLS with ``ssl_context``."""
    retry = config.connect_retry if retry is None else retry
    last_error: BaseException | None = None
    stream: trio.abc.Stream | None = None
    arguments = retry.stamina_arguments()
    try:
        async for attempt in stamina.retry_context(on=OSError, **arguments):
            with attempt:
                try:
                    stream = await trio.open_tcp_stream(host, port)
                except OSError as exc:
                    last = attempt.num == arguments["attempts"]
                    delay = None if last else attempt.next_wait
                    log_retry(endpoint(host, port), attempt.num, delay, exc)
                    raise
    except OSError as exc:
        last_error = exc
    if stream is None:
        raise ConnectFailed(f"could not connect to {host!r}:{port}: {last_error}") from last_error
    apply_socket_options(stream, config)
    if ssl_context is None:
        return stream
    server_hostname = host.decode() if isinstance(host, bytes) else host
    tls = trio.SSLStream(stream, ssl_context, server_hostname=server_hostname)
    try:
        await tls.do_handshake()
    except trio.BrokenResourceError as exc:
        await trio.aclose_forcefully(tls)
        raise ConnectFailed(f"TLS handshake with {host!r}:{port} failed: {exc}") from exc
    return tls


async def _open_connection(
    stages: dict[Any, CompiledStage],
    *,
    initial: Any,
    router: Callable[[Peer], Any] | None,
    host: str | bytes,
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
        emit=_logging_sink(make_event_sink(on_event)),
    )


def _logging_sink(sink: EventSink) -> EventSink:
    """Log a client's lifecycle from the events its connection reports, then pass them on."""

    async def logged(event: Event) -> None:
        log_event(event, "client")
        await sink(event)

    return logged


async def run_client(
    protocol: Protocol | Service,
    processor: Processor | None,
    host: str | bytes,
    port: int,
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
    ``nursery.start`` it reports the first :class:`Peer` once connected
    (:func:`~trio_reactive.serving.client_task` binds the keyword arguments for that).  An
    exception from the processor's connection comes out as itself, not in a group.
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
        with lone_exception():
            await connection.run()
        assert connection.reason is not None
        if reconnect is None or connection.reason not in _RECONNECT_AFTER:
            return connection.reason
        logger.info(
            "client: reconnecting to %s after %s (%s)",
            endpoint(host, port),
            connection.reason.value,
            reconnect.strategy.value,
        )
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
    host: str | bytes,
    port: int,
    *,
    config: Config | None = None,
    on_event: Callable[[Event], Any] | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> AsyncIterator[ClientConnection]:
    """Connect and hand the caller the connection; flush and close on leaving the block.

    An exception raised in the block (``ValueError``, :class:`ConnectionClosed` from
    ``receive``) comes out of it as itself, not wrapped in an ``ExceptionGroup``; several at
    once stay a group.  :class:`~trio_reactive.errors.ConnectFailed` if no connection could be
    made within ``config.connect_retry``.
    """
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
    with lone_exception():
        async with trio.open_nursery() as nursery:
            nursery.start_soon(unwrapped, connection.run)
            await handle._ready.wait()
            try:
                yield handle
            finally:
                with trio.CancelScope(shield=True):
                    await handle.aclose()
