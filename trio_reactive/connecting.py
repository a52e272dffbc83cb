"""A connection driven by the caller: ``async with connect(...)``, ``async for`` to reconnect.

It is the engine running a stage whose processor hands its messages to the caller: for a
composite service every stage is such a stage, and the caller moves the connection from one to
the next with :meth:`ClientConnection.goto`, exactly as a server's processor does with
``peer.goto`` (the next stage's codec takes over there, bytes already read included).
"""

from __future__ import annotations

import os
import ssl
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, Generic, overload

import trio
from typing_extensions import TypeVar

from ._connect import describe_address
from ._lifecycle import logger
from ._typing import ClientMsg, ServerMsg
from ._unix import UnixPath
from ._unwrap import lone_exception, unwrapped
from .client import log_reconnecting, open_connection
from .composite import Service
from .config import Config, RetryPolicy
from .engine import Connection, MessageStream, Peer
from .errors import ConnectionClosed
from .events import DisconnectReason, Event
from .processor import Adapted, Kind
from .protocol import Protocol
from .server import as_service
from .stage import Plan, compile_stage

__all__ = ["ClientConnection", "Connector", "connect", "connect_unix"]

#: Makes the engine's connection for a plan, connecting as the retry policy says (``None``:
#: the config's ``connect_retry``); the connection closes as soon as its input ends.
Dial = Callable[[Plan, RetryPolicy | None], Awaitable[Connection]]

#: What a caller-driven connection sends, and what it receives.
Sends = TypeVar("Sends", default=Any)
Receives = TypeVar("Receives", default=Any)


class ClientConnection(Generic[Sends, Receives]):
    """A connection driven by the caller: ``send``, ``receive``, ``async for``, ``goto``.

    ``ClientConnection[ClientMsg, ServerMsg]`` sends the protocol's client messages and
    receives its server messages (a composite service's connection is untyped: its messages
    change with the stage).

    It ends when the caller leaves the ``async with`` block (what was sent is delivered first,
    see :func:`connect`) or when the server closes the connection: then ``peer.is_connected``
    turns False at once, ``Disconnected`` is reported, messages read before the close can still
    be received, and ``send`` raises :class:`~trio_reactive.errors.ConnectionClosed`.
    """

    def __init__(self, peer: Peer[Sends]) -> None:
        self.peer = peer
        self._messages: MessageStream | None = None
        #: Set when a stage hands its messages over, or when the connection has ended.
        self._entered = trio.Event()
        #: Set to let the current stage end (a ``goto``, or the caller leaving).
        self._leave = trio.Event()
        self._done = False
        #: How many sent messages never reached the kernel (known once the block is left).
        self.unsent = 0

    async def _drive(self, peer: Peer[Sends], messages: MessageStream) -> None:
        """Every stage's processor: hand the stage's messages to the caller until it moves on."""
        self._messages = messages
        leave = self._leave
        self._entered.set()
        await leave.wait()

    def _ended(self) -> None:
        """The connection has ended: nobody waits for a stage any more."""
        self._done = True
        self._entered.set()
        self._leave.set()

    @property
    def stage(self) -> Any:
        """The stage the connection is in (``None`` for a single protocol, and once ended)."""
        return self.peer.stage

    async def send(self, message: Sends) -> None:
        """Queue ``message`` for the server (see :meth:`Peer.send`)."""
        await self.peer.send(message)

    def send_nowait(self, message: Sends) -> None:
        """Queue ``message`` or raise at once (see :meth:`Peer.send_nowait`)."""
        self.peer.send_nowait(message)

    async def receive(self) -> Receives:
        """The next message; :class:`ConnectionClosed` once the server has closed and every
        message read before that has been received."""
        try:
            return await self.__anext__()
        except StopAsyncIteration:
            raise ConnectionClosed(f"{self.peer!r}: the connection is closed") from None

    def __aiter__(self) -> ClientConnection[Sends, Receives]:
        return self

    async def __anext__(self) -> Receives:
        assert self._messages is not None
        message: Receives = await self._messages.__anext__()
        return message

    async def goto(self, stage: Any) -> None:
        """Move the connection to ``stage`` of its service, as the server's ``peer.goto`` does.

        The codec changes exactly here: what was sent before the call went in the old stage's
        codec, what is sent after it goes in the new one's, and bytes already read but not
        received are framed afresh by the new stage's codec.  Call it when the protocol says
        the other end has moved on (after receiving the reply that says so, say).  Raises
        :class:`~trio_reactive.errors.StageError` for a stage the service lacks and
        :class:`~trio_reactive.errors.ConnectionClosed` once the connection has ended.
        """
        self.peer.goto(stage)
        leave = self._leave
        self._entered, self._leave = trio.Event(), trio.Event()
        leave.set()
        await self._entered.wait()
        if self._done:
            raise ConnectionClosed(f"{self.peer!r}: the connection closed before {stage!r}")

    async def aclose(self, timeout: float | None = None) -> int:  # noqa: ASYNC109
        """Deliver what was sent and close; return how many messages could not be sent.

        The flush gives up only when the server takes nothing for ``timeout`` seconds (default
        ``config.close_timeout``).
        """
        self.unsent = await self.peer.flush_and_close(timeout)
        self._leave.set()
        return self.unsent


def _driven_plan(
    protocol: Protocol[Any, Any] | Service, drive: Callable[..., Any], config: Config
) -> Plan:
    """Every stage of ``protocol`` (one, or a service's), each with the caller's ``drive``.

    A service's own processors and router are not run: the caller drives the stages.
    """
    service = as_service(protocol, drive) if isinstance(protocol, Protocol) else protocol
    driver = Adapted(Kind.UNRESPONSIVE, drive)
    stages = {
        key: compile_stage(key, service.stage(key).protocol, driver, "client")
        for key in service.stages
    }
    plan = Plan(stages, service.initial)
    plan.check(config.max_message_size)
    return plan


class Connector(Generic[Sends, Receives]):
    """What :func:`connect` returns: ``async with`` it for one connection, ``async for`` it
    for one connection after another (with ``reconnect``).

    Made by :func:`connect` and :meth:`~trio_reactive.testing.MemoryServer.connect`: ``dial``
    makes each connection (over TCP, or over memory streams), ``where`` names the other end in
    logs.  Entered or iterated once.
    """

    def __init__(
        self,
        protocol: Protocol[Any, Any] | Service,
        dial: Dial,
        *,
        config: Config | None = None,
        reconnect: RetryPolicy | None = None,
        where: str = "server",
    ) -> None:
        self._protocol = protocol
        self._dial = dial
        self._config = config if config is not None else Config()
        self._reconnect = reconnect
        self._where = where
        self._block: Any = None
        self._iterated = False

    async def __aenter__(self) -> ClientConnection[Sends, Receives]:
        if self._reconnect is not None:
            raise TypeError("reconnect= is for `async for conn in connect(...)`, not async with")
        if self._block is not None:
            raise RuntimeError("a Connector is entered once; call connect() again")
        self._block = self._connected()
        handle: ClientConnection[Sends, Receives] = await self._block.__aenter__()
        return handle

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        result: bool | None = await self._block.__aexit__(kind, error, traceback)
        return result

    @asynccontextmanager
    async def _connected(self) -> AsyncIterator[ClientConnection[Sends, Receives]]:
        handle, connection = await _open(self._protocol, self._dial, self._config, None)
        with lone_exception():
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_run_then, connection, handle._ended)
                await handle._entered.wait()
                try:
                    yield handle
                finally:
                    with trio.CancelScope(shield=True):
                        await _close(handle)

    def __aiter__(self) -> AsyncIterator[ClientConnection[Sends, Receives]]:
        if self._iterated:
            raise RuntimeError("a Connector is iterated once; call connect() again")
        self._iterated = True
        # Nothing here holds the loop: once the caller lets go of it (a ``break``, an
        # exception), trio finalizes it at once, and that closes its connection.
        return _connections(self._protocol, self._dial, self._config, self._reconnect, self._where)


async def _open(
    protocol: Protocol[Any, Any] | Service, dial: Dial, config: Config, retry: RetryPolicy | None
) -> tuple[ClientConnection[Any, Any], Connection]:
    holder: list[ClientConnection[Any, Any]] = []

    async def drive(peer: Peer[Any], messages: MessageStream) -> None:
        await holder[0]._drive(peer, messages)

    connection = await dial(_driven_plan(protocol, drive, config), retry)
    holder.append(ClientConnection(connection.peer))
    return holder[0], connection


async def _connections(
    protocol: Protocol[Any, Any] | Service,
    dial: Dial,
    config: Config,
    reconnect: RetryPolicy | None,
    where: str,
) -> AsyncGenerator[ClientConnection[Any, Any]]:
    """One connection per iteration; the previous one is closed before the next is made.

    No nursery or cancel scope is open across a ``yield`` (the loop's body runs in the
    caller's task between them): each connection runs in a system task, and a loop that is
    left is closed by trio's finalizer, which closes the connection.
    """
    retry: RetryPolicy | None = None
    while True:
        handle, connection = await _open(protocol, dial, config, retry)
        ended = trio.Event()
        trio.lowlevel.spawn_system_task(_run_detached, connection, handle, ended)
        try:
            await handle._entered.wait()
            yield handle
        finally:
            with trio.CancelScope(shield=True):
                await _close(handle)
                await ended.wait()
        if reconnect is None:
            return
        log_reconnecting(where, connection.reason or DisconnectReason.CLOSED, reconnect)
        retry = reconnect


async def _run_then(connection: Connection, then: Callable[[], None]) -> None:
    try:
        await unwrapped(connection.run)
    finally:
        then()


async def _run_detached(
    connection: Connection, handle: ClientConnection[Any, Any], ended: trio.Event
) -> None:
    """A reconnecting connection's task: a system task, so it must not raise."""
    try:
        await connection.run()
    except Exception:
        logger.exception("%r: the connection failed", handle.peer)
    finally:
        handle._ended()
        ended.set()


async def _close(handle: ClientConnection[Any, Any]) -> None:
    unsent = await handle.aclose()
    if unsent:
        logger.warning("%s: %d sent messages did not reach the server", repr(handle.peer), unsent)


@overload
def connect(
    protocol: Protocol[ClientMsg, ServerMsg],
    host: str | bytes | UnixPath,
    port: int,
    *,
    config: Config | None = None,
    on_event: Callable[[Event], Any] | None = None,
    ssl_context: ssl.SSLContext | None = None,
    reconnect: RetryPolicy | None = None,
) -> Connector[ClientMsg, ServerMsg]: ...


@overload
def connect(
    protocol: Service,
    host: str | bytes | UnixPath,
    port: int,
    *,
    config: Config | None = None,
    on_event: Callable[[Event], Any] | None = None,
    ssl_context: ssl.SSLContext | None = None,
    reconnect: RetryPolicy | None = None,
) -> Connector[Any, Any]: ...


def connect(
    protocol: Protocol[ClientMsg, ServerMsg] | Service,
    host: str | bytes | UnixPath,
    port: int,
    *,
    config: Config | None = None,
    on_event: Callable[[Event], Any] | None = None,
    ssl_context: ssl.SSLContext | None = None,
    reconnect: RetryPolicy | None = None,
) -> Connector[ClientMsg, ServerMsg]:
    """A connection driven by the caller: ``async with connect(...) as conn:``.

    Leaving the block flushes what was sent, giving up only when the server takes nothing for
    ``config.close_timeout``; ``conn.unsent`` then says how many messages did not reach the
    kernel (a warning is logged when some did not).  An exception raised in the block
    (``ValueError``, :class:`ConnectionClosed` from ``receive``) comes out of it as itself, not
    wrapped in an ``ExceptionGroup``; several at once stay a group.
    :class:`~trio_reactive.errors.ConnectFailed` if no connection could be made within
    ``config.connect_retry``.

    A composite :class:`Service` is driven stage by stage with ``await conn.goto(stage)`` (its
    processors are not run here: the caller is the processor).

    ``async for conn in connect(..., reconnect=policy):`` makes one connection per iteration:
    when the body's turn ends (typically because the server closed the connection or it
    broke, ending ``async for message in conn``), that connection is closed and a new one is
    made, following ``policy``; the loop raises ``ConnectFailed`` once the policy gives up,
    and ends when the body breaks out (closing the connection).  Without ``reconnect`` the
    loop makes one connection.
    """
    config = config if config is not None else Config()

    async def dial(plan: Plan, retry: RetryPolicy | None) -> Connection:
        return await open_connection(
            plan,
            host=host,
            port=port,
            config=config,
            on_event=on_event,
            ssl_context=ssl_context,
            retry=retry,
            closes_on_end_of_input=True,
        )

    return Connector(
        protocol, dial, config=config, reconnect=reconnect, where=describe_address(host, port)
    )


def connect_unix(
    protocol: Protocol[ClientMsg, ServerMsg],
    path: str | os.PathLike[str],
    *,
    config: Config | None = None,
    on_event: Callable[[Event], Any] | None = None,
    reconnect: RetryPolicy | None = None,
) -> Connector[ClientMsg, ServerMsg]:
    """:func:`connect` to a server on the Unix socket at ``path`` (see ``serve_unix``)."""
    return connect(
        protocol,
        UnixPath(os.fspath(path)),
        0,
        config=config,
        on_event=on_event,
        reconnect=reconnect,
    )
