"""The server: listeners, an accept loop, one engine per connection, graceful shutdown.

:func:`serve_tcp` is the ``nursery.start`` form, :func:`open_server` the ``async with`` one and
:func:`serve_forever` / :func:`run_server` the whole program of a server that stops on
SIGINT or SIGTERM; all of them build the same :class:`Server`.
"""

from __future__ import annotations

import errno
import logging
import ssl
from collections.abc import Callable
from typing import Any, Generic

import trio

from ._lifecycle import address_text, log_event
from ._sockets import apply_socket_options, peer_address
from ._typing import ClientMsg, ServerMsg
from ._unwrap import lone_exception
from .composite import Service, single_stage
from .config import Config
from .engine import Connection, Peer, make_event_sink
from .events import Event, ServiceTerminating
from .processor import Processor
from .protocol import Protocol
from .stats import ServerStats, StatsRecorder

__all__ = ["Server", "as_service", "serve_tcp"]

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

    Made by :func:`serve_tcp` (or :func:`open_server`), never directly.
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
        self._recorder = StatsRecorder()
        self._user_sink = make_event_sink(on_event)
        self._connections: set[Connection] = set()
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
        """The listening sockets (one per address family and interface)."""
        found = []
        for outer in self.listeners:
            listener: Any = outer
            while not isinstance(listener, trio.SocketListener):
                listener = listener.transport_listener
            found.append(listener.socket)
        return found

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
        return self._recorder.snapshot(self.connections_accepted, self._connections)

    def _describe_listeners(self) -> str:
        try:
            self._address = self.sockets[0].getsockname()
            return ", ".join(address_text(sock.getsockname()) for sock in self.sockets)
        except AttributeError:  # a listener not over a socket: show it as it is
            return ", ".join(repr(listener) for listener in self.listeners)

    async def _serve(self, task_status: trio.TaskStatus[Server[ServerMsg]]) -> None:
        logger.info("server: listening on %s", self._describe_listeners())
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                with self._accepting:
                    async with trio.open_nursery() as accepting:
                        for listener in self.listeners:
                            accepting.start_soon(self._accept_loop, listener)
                        task_status.started(self)
        finally:
            for listener in self.listeners:
                with trio.CancelScope(shield=True):
                    await trio.aclose_forcefully(listener)
            self._finished.set()

    async def _accept_loop(self, listener: trio.abc.Listener[Any]) -> None:
        while True:
            try:
                stream = await listener.accept()
            except OSError as exc:
                if exc.errno in _ACCEPT_RETRY_ERRNOS:
                    logger.error("accept() failed (%s); retrying in %ss", exc, _ACCEPT_RETRY_DELAY)
                    await trio.sleep(_ACCEPT_RETRY_DELAY)
                    continue
                raise
            except trio.ClosedResourceError:
                return
            self.connections_accepted += 1
            self._nursery.start_soon(self._handle, stream)

    async def _handle(self, stream: trio.abc.Stream) -> None:
        try:
            apply_socket_options(stream, self.config)
        except OSError as exc:
            logger.warning("could not set socket options: %s", exc)
        connection = Connection(
            stream, self._plan, self.config, self._emit, address=peer_address(stream)
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
        for listener in self.listeners:
            await trio.aclose_forcefully(listener)
        await self._emit(ServiceTerminating())
        grace = self.grace if grace is None else grace
        with lone_exception():
            async with trio.open_nursery() as nursery:
                for connection in list(self._connections):
                    nursery.start_soon(connection.shutdown, grace)
        await self._finished.wait()


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
    service.compile("server", config.max_message_size)  # refuse a broken service before listening
    listeners: list[trio.abc.Listener[Any]] = list(await trio.open_tcp_listeners(port, host=host))
    if ssl_context is not None:
        listeners = [
            trio.SSLListener(listener, ssl_context, https_compatible=False)
            for listener in listeners
        ]
    server: Server[ServerMsg] = Server(listeners, service, config, on_event)
    with lone_exception():
        await server._serve(task_status)
