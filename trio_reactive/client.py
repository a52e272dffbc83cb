"""Clients: connecting, and a connection running a processor (:func:`run_client`).

Both this and the caller-driven connection of :mod:`trio_reactive.connecting` connect with the
config's ``connect_retry`` policy (stamina does the retrying, under trio), trying every address
a host name resolves to, each attempt bounded by ``connect_timeout``, then run the same engine
as the server, with the protocol mirrored: a client decodes what the server sends and encodes
what the client sends.  :func:`run_client_unix` connects to a Unix socket.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable
from typing import Any

import stamina
import trio

from ._connect import connect_once, describe_address, describe_cause, errno_of
from ._lifecycle import log_event, log_retry, logger
from ._sockets import peer_address
from ._typing import ClientMsg, ServerMsg
from ._unix import UnixPath
from ._unwrap import lone_exception
from .composite import Service
from .config import Config, RetryPolicy
from .engine import Connection, EventSink, Peer, make_event_sink
from .engine.poller import client_poller, poller_available
from .engine.watchdog import check_heartbeat
from .errors import ConnectFailed
from .events import DisconnectReason, Event
from .processor import Processor
from .protocol import Protocol
from .server import as_service
from .stage import Plan

__all__ = [
    "log_reconnecting",
    "open_connection",
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
    arguments = retry.stamina_arguments()
    try:
        async for attempt in stamina.retry_context(on=OSError, **arguments):
            with attempt:
                try:
                    stream = await connect_once(host, port, config, ssl_context)
                except OSError as exc:
                    last = attempt.num == arguments["attempts"]
                    delay = None if last else attempt.next_wait
                    log_retry(where, attempt.num, delay, exc)
                    raise
    except OSError as exc:
        failure = ConnectFailed(f"could not connect to {where}: {describe_cause(exc)}")
        failure.errno = errno_of(exc)
        raise failure from exc
    except trio.BrokenResourceError as exc:
        cause = exc.__cause__ or exc
        raise ConnectFailed(f"TLS handshake with {where} failed: {cause}") from exc
    assert stream is not None
    return stream


async def open_connection(
    plan: Plan,
    *,
    host: str | bytes | UnixPath,
    port: int,
    config: Config,
    on_event: Callable[[Event], Any] | None,
    ssl_context: ssl.SSLContext | None,
    retry: RetryPolicy | None = None,
    closes_on_end_of_input: bool = False,
) -> Connection:
    """Connect (see :func:`open_stream`) and make the engine's connection for ``plan``."""
    check_heartbeat(plan, config)  # refused before connecting
    stream = await open_stream(host, port, config, ssl_context, retry)
    shared = config.uses_shared_poller and poller_available()
    return Connection(
        stream,
        plan,
        config,
        _logging_sink(make_event_sink(on_event)),
        address=peer_address(stream),
        closes_on_end_of_input=closes_on_end_of_input,
        poller=client_poller() if shared else None,
    )


def _logging_sink(sink: EventSink) -> EventSink:
    """Log a client's lifecycle from the events its connection reports, then pass them on."""

    async def logged(event: Event) -> None:
        log_event(event, "client")
        await sink(event)

    return logged


async def run_client(
    protocol: Protocol[ClientMsg, ServerMsg] | Service,
    processor: Processor[ServerMsg, ClientMsg] | None,
    host: str | bytes | UnixPath,
    port: int,
    *,
    config: Config | None = None,
    on_event: Callable[[Event], Any] | None = None,
    ssl_context: ssl.SSLContext | None = None,
    reconnect: RetryPolicy | None = None,
    task_status: trio.TaskStatus[Peer[ClientMsg]] = trio.TASK_STATUS_IGNORED,
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
    plan = service.compile("client", config.max_message_size)
    retry: RetryPolicy | None = None
    while True:
        connection = await open_connection(
            plan,
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
        log_reconnecting(describe_address(host, port), connection.reason, reconnect)
        retry = reconnect


def log_reconnecting(where: str, reason: DisconnectReason, policy: RetryPolicy) -> None:
    """The INFO line of a client about to connect again."""
    logger.info(
        "client: reconnecting to %s after %s (%s)",
        where,
        reason.value,
        policy.strategy.value,
    )


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
