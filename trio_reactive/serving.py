"""The entry points of a server: every way to run one, and ``client_task`` beside them.

* ``await nursery.start(serve_tcp, ...)`` serves on TCP (TLS with ``ssl_context``),
  :func:`serve_unix` on a Unix domain socket, :func:`serve_listeners` on any trio listeners
  (what the other two come down to): each runs a :class:`~trio_reactive.server.Server` until
  ``server.shutdown()`` or until cancelled;
* ``async with open_server(...) as server:`` serves for the block, shuts down on leaving it;
* ``await nursery.start(server_task(...))`` (and ``client_task`` for
  :func:`~trio_reactive.client.run_client`) binds every argument, keywords included, since
  ``nursery.start`` passes positional arguments only;
* ``await serve_forever(...)`` / ``run_server(...)`` serve until SIGINT or SIGTERM, then shut
  down gracefully: the whole ``main`` of a server program.

Apart from :mod:`~trio_reactive.server`, which is the running server itself: this module only
opens listeners, checks what it is given, and starts and stops servers.
"""

from __future__ import annotations

import logging
import os
import signal
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import trio

from ._typing import ClientMsg, ServerMsg
from ._unix import open_unix_listener, remove_socket_file
from ._unwrap import lone_exception
from .client import run_client
from .composite import Service
from .config import Config, RetryPolicy
from .engine import Peer
from .engine.watchdog import check_heartbeat
from .events import DisconnectReason, Event
from .processor import Processor
from .protocol import Protocol
from .server import Server, as_service

__all__ = [
    "client_task",
    "open_server",
    "run_server",
    "serve_forever",
    "serve_listeners",
    "serve_tcp",
    "serve_unix",
    "server_task",
]

logger = logging.getLogger("trio_reactive")

#: The signals that ask a server to stop: Ctrl-C, and what service managers send.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


async def serve_tcp(
    protocol: Protocol[ClientMsg, ServerMsg] | Service,
    processor: Processor[ClientMsg, ServerMsg] | None = None,
    port: int = 0,
    host: str | bytes | None = None,
    *,
    config: Config | None = None,
    on_event: Callable[[Event], Any] | None = None,
    ssl_context: ssl.SSLContext | None = None,
    task_status: trio.TaskStatus[Server[ServerMsg]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``protocol`` with ``processor`` (or a composite ``Service``) on ``host:port``.

    Use as ``server = await nursery.start(serve_tcp, protocol, processor, 0)``: port 0 picks a
    free port (``server.port``); ``host=None`` listens on every interface.  Runs until
    ``server.shutdown()`` or until cancelled.
    """
    service = as_service(protocol, processor)
    config = config if config is not None else Config()
    # Refuse a broken service before listening.
    check_heartbeat(service.compile("server", config.max_message_size), config)
    listeners: list[trio.abc.Listener[Any]] = list(await trio.open_tcp_listeners(port, host=host))
    if ssl_context is not None:
        listeners = [
            trio.SSLListener(listener, ssl_context, https_compatible=False)
            for listener in listeners
        ]
    await serve_listeners(
        service, None, listeners, config=config, on_event=on_event, task_status=task_status
    )


async def serve_listeners(
    protocol: Protocol[ClientMsg, ServerMsg] | Service,
    processor: Processor[ClientMsg, ServerMsg] | None,
    listeners: list[trio.abc.Listener[Any]],
    *,
    config: Config | None = None,
    on_event: Callable[[Event], Any] | None = None,
    task_status: trio.TaskStatus[Server[ServerMsg]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve on any trio listeners: what ``serve_tcp`` and ``serve_unix`` come down to.

    A listener may hand out any ``trio.abc.Stream``; a ``trio.SSLStream`` (from a
    ``trio.SSLListener``) is handshaken under ``handshake_timeout`` before the service starts.
    The server closes the listeners when it shuts down.
    """
    service = as_service(protocol, processor)
    server: Server[ServerMsg] = Server(list(listeners), service, config or Config(), on_event)
    with lone_exception():
        await server._serve(task_status)


async def serve_unix(
    protocol: Protocol[ClientMsg, ServerMsg] | Service,
    processor: Processor[ClientMsg, ServerMsg] | None,
    path: str | os.PathLike[str],
    *,
    config: Config | None = None,
    on_event: Callable[[Event], Any] | None = None,
    task_status: trio.TaskStatus[Server[ServerMsg]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve on a Unix domain socket at ``path``, with the same engine, codecs and services.

    ``processor`` is ``None`` for a composite ``Service``, as with ``serve_listeners``.

    A stale socket file left by a server that died is removed first (a live server on the path
    is an error); the file is removed again when the server ends.  Access is the file's: set
    the directory's permissions (or the umask) to choose who may connect.
    """
    listener, inode = await open_unix_listener(path)
    try:
        await serve_listeners(
            protocol,
            processor,
            [listener],
            config=config,
            on_event=on_event,
            task_status=task_status,
        )
    finally:
        remove_socket_file(path, inode)


def client_task(
    protocol: Protocol[ClientMsg, ServerMsg] | Service,
    processor: Processor[ServerMsg, ClientMsg] | None,
    host: str | bytes,
    port: int,
    *,
    config: Config | None = None,
    on_event: Callable[[Event], Any] | None = None,
    ssl_context: ssl.SSLContext | None = None,
    reconnect: RetryPolicy | None = None,
) -> Callable[..., Awaitable[DisconnectReason]]:
    """:func:`run_client` with every argument bound, for ``peer = await nursery.start(...)``.

    ``nursery.start`` passes no keyword arguments; this saves a ``functools.partial``.
    """

    async def task(
        *, task_status: trio.TaskStatus[Peer] = trio.TASK_STATUS_IGNORED
    ) -> DisconnectReason:
        return await run_client(
            protocol,
            processor,
            host,
            port,
            config=config,
            on_event=on_event,
            ssl_context=ssl_context,
            reconnect=reconnect,
            task_status=task_status,
        )

    return task


def server_task(
    protocol: Protocol[ClientMsg, ServerMsg] | Service,
    processor: Processor[ClientMsg, ServerMsg] | None = None,
    *,
    port: int = 0,
    host: str | bytes | None = None,
    config: Config | None = None,
    on_event: Callable[[Event], Any] | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> Callable[..., Awaitable[None]]:
    """:func:`serve_tcp` with every argument bound, for ``server = await nursery.start(...)``.

    ``nursery.start`` passes no keyword arguments; this saves a ``functools.partial``.
    """

    async def task(
        *, task_status: trio.TaskStatus[Server[ServerMsg]] = trio.TASK_STATUS_IGNORED
    ) -> None:
        await serve_tcp(
            protocol,
            processor,
            port,
            host,
            config=config,
            on_event=on_event,
            ssl_context=ssl_context,
            task_status=task_status,
        )

    return task


@asynccontextmanager
async def open_server(
    protocol: Protocol[ClientMsg, ServerMsg] | Service,
    processor: Processor[ClientMsg, ServerMsg] | None = None,
    *,
    port: int = 0,
    host: str | bytes | None = None,
    config: Config | None = None,
    on_event: Callable[[Event], Any] | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> AsyncIterator[Server[ServerMsg]]:
    """Serve for the duration of an ``async with`` block, listening when it starts.

    Leaving the block (normally or by an exception) shuts the server down gracefully: the
    port is freed at once and live peers flush (giving up on one that takes nothing for
    ``config.close_timeout``).  An exception from the block comes out as itself.
    """
    start = server_task(
        protocol,
        processor,
        port=port,
        host=host,
        config=config,
        on_event=on_event,
        ssl_context=ssl_context,
    )
    with lone_exception():
        async with trio.open_nursery() as nursery:
            server: Server[ServerMsg] = await nursery.start(start)
            try:
                yield server
            finally:
                with trio.CancelScope(shield=True):
                    await server.shutdown()


async def serve_forever(
    protocol: Protocol[ClientMsg, ServerMsg] | Service,
    processor: Processor[ClientMsg, ServerMsg] | None = None,
    *,
    port: int = 0,
    host: str | bytes | None = None,
    config: Config | None = None,
    on_event: Callable[[Event], Any] | None = None,
    ssl_context: ssl.SSLContext | None = None,
    grace: float | None = None,
    on_listening: Callable[[Server[ServerMsg]], object] | None = None,
) -> signal.Signals:
    """Serve until SIGINT or SIGTERM arrives, then shut down gracefully and return the signal.

    ``on_listening(server)`` is called once the port is open (to print ``server.port``, say).
    Shutting down stops accepting, lets live peers flush for ``grace`` seconds (default
    ``config.close_timeout``) and closes them; a second signal during that time closes them at
    once.  Must run in trio's main thread, where signals are delivered.
    """
    start = server_task(
        protocol,
        processor,
        port=port,
        host=host,
        config=config,
        on_event=on_event,
        ssl_context=ssl_context,
    )
    with trio.open_signal_receiver(*STOP_SIGNALS) as signals, lone_exception():
        async with trio.open_nursery() as nursery:
            server: Server[ServerMsg] = await nursery.start(start)
            if on_listening is not None:
                on_listening(server)
            stopped_by = await _next_signal(signals)
            logger.info("server: %s received, shutting down", stopped_by.name)
            nursery.start_soon(_cancel_on_next_signal, signals, nursery.cancel_scope)
            await server.shutdown(grace)
            nursery.cancel_scope.cancel()
    logger.info("server: stopped")
    return stopped_by


async def _next_signal(signals: AsyncIterator[int]) -> signal.Signals:
    async for received in signals:
        return signal.Signals(received)
    raise AssertionError("a signal receiver never ends")  # pragma: no cover


async def _cancel_on_next_signal(signals: AsyncIterator[int], scope: trio.CancelScope) -> None:
    """A second signal while peers flush: no more grace, every connection is aborted."""
    received = await _next_signal(signals)
    logger.info("server: %s received again, closing every connection now", received.name)
    scope.cancel()


def run_server(
    protocol: Protocol[ClientMsg, ServerMsg] | Service,
    processor: Processor[ClientMsg, ServerMsg] | None = None,
    *,
    port: int = 0,
    host: str | bytes | None = None,
    config: Config | None = None,
    on_event: Callable[[Event], Any] | None = None,
    ssl_context: ssl.SSLContext | None = None,
    grace: float | None = None,
    on_listening: Callable[[Server[ServerMsg]], object] | None = None,
) -> signal.Signals:
    """``trio.run`` :func:`serve_forever`: the whole program of a server, until SIGINT/SIGTERM."""
    return trio.run(
        lambda: serve_forever(
            protocol,
            processor,
            port=port,
            host=host,
            config=config,
            on_event=on_event,
            ssl_context=ssl_context,
            grace=grace,
            on_listening=on_listening,
        )
    )
