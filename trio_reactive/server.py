"""The server: listeners, an accept loop, one engine per connection, graceful shutdown.

A :class:`Server` is made and run by the entry points of :mod:`~trio_reactive.serving`
(:func:`~trio_reactive.serving.serve_tcp` and the rest); this module is the running server
itself, and :func:`as_service`, the one way every entry point (servers' and clients') turns a
protocol plus processor into a service.

Before the engine starts on a connection, the server admits it: beyond ``max_connections`` it
is closed at once, and a TLS connection must finish its handshake within ``handshake_timeout``
(the engine then expects its first whole message by the same deadline).
A connection turned away is reported as :class:`~trio_reactive.events.Rejected`.
"""

from __future__ import annotations

import errno
import logging
import math
from collections.abc import Callable
from typing import Any, Generic

import trio

from ._lifecycle import address_text, log_event
from ._logs import RateLimitedLog
from ._sockets import apply_socket_options, peer_address
from ._spare import SpareDescriptor
from ._typing import ServerMsg
from ._unwrap import lone_exception
from .composite import Service, single_stage
from .config import Config
from .engine import Connection, Peer, make_event_sink
from .engine.budget import Budget
from .engine.poller import Poller, poller_available
from .engine.watchdog import check_heartbeat
from .events import DisconnectReason, Event, Rejected, ServiceTerminating
from .processor import Processor
from .protocol import Protocol
from .stats import ServerStats, StatsRecorder

__all__ = ["Server", "as_service"]

logger = logging.getLogger("trio_reactive")

#: accept() failures that mean "out of resources for now": log, wait, try again.
_ACCEPT_RETRY_ERRNOS = {
    errno.EMFILE,
    errno.ENFILE,
    errno.ENOMEM,
    errno.ENOBUFS,
    errno.ECONNABORTED,
}
_ACCEPT_RETRY_DELAY = 0.1
#: Under attack accept() fails ten times a second; one line per errno per this many seconds.
_ACCEPT_LOG_INTERVAL = 10.0
#: Failures the spare descriptor answers (see _spare.py).
_OUT_OF_DESCRIPTORS = {errno.EMFILE, errno.ENFILE}


def _socket_listener(listener: trio.abc.Listener[Any]) -> trio.SocketListener | None:
    """The socket listener under ``listener`` (a TLS one wraps it), or None if it has none."""
    found: Any = listener
    while found is not None and not isinstance(found, trio.SocketListener):
        found = getattr(found, "transport_listener", None)
    return found


def as_service(target: Protocol | Service, processor: Processor | None) -> Service:
    """Accept a protocol plus processor, or a composite service, for every entry point."""
    if isinstance(target, Service):
        if processor is not None:
            raise TypeError("a Service carries its processors; do not pass another one")
        return target
    if processor is None:
        raise TypeError("a single-protocol service needs a processor")
    return single_stage(target, processor)


class Server(Generic[ServerMsg]):
    """A running server: its address, live peers, statistics and ``shutdown``.

    ``Server[ServerMsg]``: its peers are ``Peer[ServerMsg]`` of the protocol it serves.

    Made by :func:`~trio_reactive.serving.serve_tcp` (or another entry point of
    :mod:`~trio_reactive.serving`), never directly.
    """

    def __init__(
        self,
        listeners: list[trio.abc.Listener[Any]],
        service: Service,
        config: Config,
        on_event: Callable[[Event], Any] | None,
    ) -> None:
        self.listeners = listeners
        self.service = service
        self.config = config
        self._plan = service.compile("server", config.max_message_size)
        check_heartbeat(self._plan, config)
        self._recorder = StatsRecorder()
        self._user_sink = make_event_sink(on_event)
        self._connections: set[Connection] = set()
        #: Reads every plain-socket connection of this server (see Config.shared_poller).
        self._poller = Poller() if config.uses_shared_poller and poller_available() else None
        #: What all of its connections' queues hold together (see Config.server_buffer_budget).
        limit = config.server_buffer_budget
        self._budget = None if limit is None else Budget(limit)
        #: Connections admitted and not yet ended, handshaking ones included.
        self._holding = 0
        self._handshakes: set[trio.CancelScope] = set()
        self._accept_log = RateLimitedLog(logger, _ACCEPT_LOG_INTERVAL)
        self._spare = SpareDescriptor()
        self._accepting = trio.CancelScope()
        self._shutdown_started = False
        self._finished = trio.Event()
        self.connections_accepted = 0
        self._address: Any = None
        #: The default no-progress timeout of :meth:`shutdown`'s flush (``close_timeout``).
        self.grace: float = config.close_timeout

    async def _emit(self, event: Event) -> None:
        """The sink every connection reports to: count, log, then the user's ``on_event``."""
        self._recorder.record(event)
        log_event(event, "server")
        await self._user_sink(event)

    @property
    def sockets(self) -> list[trio.socket.SocketType]:
        """The listening sockets (a listener that has none, such as a test's, is skipped)."""
        found = [_socket_listener(listener) for listener in self.listeners]
        return [listener.socket for listener in found if listener is not None]

    @property
    def address(self) -> Any:
        """The first listening socket's address, e.g. ``("127.0.0.1", 40213)``.

        Still known after :meth:`shutdown` (for a log line or a reconnect test).
        """
        if self._address is None:
            self._address = self.sockets[0].getsockname()
        return self._address

    @property
    def port(self) -> int:
        """The port listened on: the one picked by the system when asked for port 0."""
        return int(self.address[1])

    @property
    def peers(self) -> list[Peer[ServerMsg]]:
        """The peers connected now."""
        return [connection.peer for connection in self._connections]

    @property
    def stats(self) -> ServerStats:
        """Cumulative counts since the server started (a snapshot: read it again to update)."""
        return self._recorder.snapshot(self.connections_accepted, self._connections, self._budget)

    def _describe_listeners(self) -> str:
        sockets = self.sockets
        if not sockets:  # listeners not over sockets: show them as they are
            return ", ".join(repr(listener) for listener in self.listeners)
        self._address = sockets[0].getsockname()
        return ", ".join(address_text(sock.getsockname()) for sock in sockets)

    async def _serve(self, task_status: trio.TaskStatus[Server[ServerMsg]]) -> None:
        logger.info("server: listening on %s", self._describe_listeners())
        self._spare.restore()
        try:
            async with trio.open_nursery() as polling:
                if self._poller is not None:
                    polling.start_soon(self._poller.run)
                async with trio.open_nursery() as nursery:
                    self._nursery = nursery
                    with self._accepting:
                        async with trio.open_nursery() as accepting:
                            for listener in self.listeners:
                                accepting.start_soon(self._accept_loop, listener)
                            task_status.started(self)
                polling.cancel_scope.cancel()  # every connection has ended
        finally:
            for listener in self.listeners:
                with trio.CancelScope(shield=True):
                    await trio.aclose_forcefully(listener)
            self._spare.close()
            self._finished.set()

    async def _accept_loop(self, listener: trio.abc.Listener[Any]) -> None:
        while True:
            try:
                stream = await listener.accept()
            except OSError as exc:
                if exc.errno in _ACCEPT_RETRY_ERRNOS:
                    self._accept_log.error(
                        "accept() failed (%s); retrying in %ss",
                        exc,
                        _ACCEPT_RETRY_DELAY,
                        key=exc.errno,
                    )
                    if exc.errno in _OUT_OF_DESCRIPTORS and await self._turn_away(listener):
                        continue
                    await trio.sleep(_ACCEPT_RETRY_DELAY)
                    continue
                raise
            except trio.ClosedResourceError:
                return
            self.connections_accepted += 1
            self._admit(stream)

    async def _turn_away(self, listener: trio.abc.Listener[Any]) -> bool:
        """Out of descriptors: accept one newcomer with the spare one and close it at once.

        Only for socket listeners, whose accept needs a descriptor; False if none was turned
        away (no spare, or accept failed again), and the loop waits before it tries again.
        It first waits for a newcomer to be pending and tries an ordinary accept: Linux fails
        ``accept`` with EMFILE before it looks at the queue, so the failure may be stale by
        the time someone arrives, and a newcomer who finds descriptors free again is served.
        """
        inner = _socket_listener(listener)
        if inner is None:
            return False
        await trio.lowlevel.wait_readable(inner.socket)
        try:
            stream = await listener.accept()
        except OSError as exc:
            if exc.errno not in _OUT_OF_DESCRIPTORS:
                return False
        else:
            self.connections_accepted += 1
            self._admit(stream)
            return True
        if not self._spare.release():
            return False
        try:
            stream = await listener.accept()
            await self._reject(stream, DisconnectReason.TOO_MANY_CONNECTIONS)
        except (OSError, trio.ClosedResourceError):
            return False
        finally:
            self._spare.restore()
        return True

    async def serve_stream(self, stream: trio.abc.Stream) -> None:
        """Run the service on an already-open ``stream``, as on a connection it accepted.

        For a connection that arrived some other way (an upgraded one, one end of a socket
        pair, a memory stream in a test).  The server owns ``stream`` from then on: the same
        limits, events and shutdown apply.  Returns at once; the connection's ``Disconnected``
        says when it ended.  Raises ``trio.ClosedResourceError`` once shutdown has begun.
        """
        if self._shutdown_started:
            await trio.aclose_forcefully(stream)
            raise trio.ClosedResourceError("the server is shutting down")
        self._admit(stream)
        await trio.lowlevel.checkpoint()

    def _admit(self, stream: trio.abc.Stream) -> None:
        limit = self.config.max_connections
        if limit is not None and self._holding >= limit:
            self._nursery.start_soon(self._reject, stream, DisconnectReason.TOO_MANY_CONNECTIONS)
            return
        self._holding += 1
        self._nursery.start_soon(self._handle, stream)

    async def _reject(
        self, stream: trio.abc.Stream, reason: DisconnectReason, error: BaseException | None = None
    ) -> None:
        address = peer_address(stream)
        await trio.aclose_forcefully(stream)
        await self._emit(Rejected(address, reason, error))

    async def _handshake(self, stream: trio.SSLStream[Any], opened_by: float) -> bool:
        """Complete the TLS handshake by ``opened_by``, or reject the connection."""
        error: BaseException | None = None
        with trio.move_on_at(opened_by) as deadline:
            self._handshakes.add(deadline)
            try:
                await stream.do_handshake()
            except trio.BrokenResourceError as exc:
                error = exc.__cause__ or exc
            finally:
                self._handshakes.discard(deadline)
        if error is None and not deadline.cancelled_caught:
            return True
        if self._shutdown_started:
            reason = DisconnectReason.SHUTDOWN
        elif error is not None:
            reason = DisconnectReason.HANDSHAKE_FAILED
        else:
            reason = DisconnectReason.HANDSHAKE_TIMEOUT
        await self._reject(stream, reason, error)
        return False

    async def _handle(self, stream: trio.abc.Stream) -> None:
        try:
            await self._run_connection(stream)
        finally:
            self._holding -= 1

    async def _run_connection(self, stream: trio.abc.Stream) -> None:
        try:
            apply_socket_options(stream, self.config)
        except OSError as exc:
            logger.warning("could not set socket options: %s", exc)
        # One handshake_timeout for the TLS handshake and the first whole message together.
        timeout = self.config.handshake_timeout
        opened_by = trio.current_time() + (math.inf if timeout is None else timeout)
        if isinstance(stream, trio.SSLStream) and not await self._handshake(stream, opened_by):
            return
        if self._shutdown_started:  # accepted as shutdown began: too late to start serving it
            await self._reject(stream, DisconnectReason.SHUTDOWN)
            return
        connection = Connection(
            stream,
            self._plan,
            self.config,
            self._emit,
            address=peer_address(stream),
            poller=self._poller,
            opened_by=None if timeout is None else opened_by,
            budget=self._budget,
        )
        logger.info("server: accepted %s", address_text(connection.peer.address))
        self._connections.add(connection)
        try:
            await connection.run()
        except Exception:
            logger.exception("connection %r failed", connection.peer)
        finally:
            self._connections.discard(connection)
            self._recorder.connection_closed(connection)

    async def shutdown(self, grace: float | None = None) -> None:
        """Stop accepting (the port is free at once), let live peers flush, close them all.

        Each connection gets ``ServiceTerminating`` (a goodbye sent then still goes out), then
        flushes, giving up once its peer takes nothing for ``grace`` seconds (default
        ``config.close_timeout``), and closes gracefully.  Returns when every connection task
        has ended; a second call just waits for that.
        """
        if self._shutdown_started:
            await self._finished.wait()
            return
        self._shutdown_started = True
        self._accepting.cancel()
        for handshake in list(self._handshakes):
            handshake.cancel()
        for listener in self.listeners:
            await trio.aclose_forcefully(listener)
        await self._emit(ServiceTerminating())
        grace = self.grace if grace is None else grace
        with lone_exception():
            async with trio.open_nursery() as nursery:
                for connection in list(self._connections):
                    nursery.start_soon(connection.shutdown, grace)
        await self._finished.wait()

