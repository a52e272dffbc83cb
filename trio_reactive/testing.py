"""Helpers for testing your own processors and services, with the real engine and no socket.

* :func:`run_processor` feeds a list of messages to a processor (or a composite service, stage
  by stage, each in its own codec) through an in-memory stream pair, exactly as a peer on a
  socket would, and returns what it sent back;
* :class:`MemoryServer` runs a whole service, with as many clients as a test needs, over
  ``trio.testing`` memory streams: broadcast, rooms and sessions, tested without sockets.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, Generic, Literal, overload

import trio
import trio.testing

from ._typing import ClientMsg, ServerMsg
from ._unwrap import lone_exception, unwrapped
from .composite import Service
from .config import Config, RetryPolicy
from .connecting import Connector
from .engine import Connection, Peer, make_event_sink
from .errors import ConnectFailed
from .events import Event, PeerArrived
from .processor import Processor
from .protocol import Protocol, Role
from .server import Server, as_service
from .stage import Plan
from .stats import ServerStats

__all__ = ["MemoryServer", "memory_connection_pair", "run_processor"]


def memory_connection_pair() -> tuple[trio.abc.Stream, trio.abc.Stream]:
    """Two connected in-memory streams (``trio.testing.memory_stream_pair``)."""
    return trio.testing.memory_stream_pair()


@overload
async def run_processor(
    protocol: Protocol[ClientMsg, ServerMsg],
    processor: Processor[ClientMsg, ServerMsg],
    messages: Iterable[ClientMsg],
    *,
    role: Literal["server"] = "server",
    config: Config | None = None,
    on_event: Callable[[Event], Any] | None = None,
    wire_protocol: None = None,
    session: Mapping[Any, Any] | None = None,
) -> list[ServerMsg]: ...


@overload
async def run_processor(
    protocol: Protocol[ClientMsg, ServerMsg],
    processor: Processor[ServerMsg, ClientMsg],
    messages: Iterable[ServerMsg],
    *,
    role: Literal["client"],
    config: Config | None = None,
    on_event: Callable[[Event], Any] | None = None,
    wire_protocol: None = None,
    session: Mapping[Any, Any] | None = None,
) -> list[ClientMsg]: ...


@overload
async def run_processor(
    protocol: Service,
    processor: None,
    messages: Iterable[Any],
    *,
    role: Role = "server",
    config: Config | None = None,
    on_event: Callable[[Event], Any] | None = None,
    wire_protocol: Protocol[Any, Any] | None = None,
    session: Mapping[Any, Any] | None = None,
) -> list[Any]: ...


@overload
async def run_processor(
    protocol: Protocol[Any, Any] | Service,
    processor: Processor[Any, Any] | None,
    messages: Iterable[Any],
    *,
    role: Role = "server",
    config: Config | None = None,
    on_event: Callable[[Event], Any] | None = None,
    wire_protocol: Protocol[Any, Any],
    session: Mapping[Any, Any] | None = None,
) -> list[Any]: ...



async def run_processor(
    protocol: Protocol[ClientMsg, ServerMsg] | Service,
    processor: Processor[Any, Any] | None,
    messages: Iterable[Any],
    *,
    role: Role = "server",
    config: Config | None = None,
    on_event: Callable[[Event], Any] | None = None,
    wire_protocol: Protocol[Any, Any] | None = None,
    session: Mapping[Any, Any] | None = None,
) -> list[Any]:
    """Run ``processor`` as ``role`` over ``messages`` sent by the other end; return its replies.

    The messages are encoded with the other end's view of the protocol, sent, then the sending
    side is closed; everything the processor sends until the connection closes is decoded and
    returned (undecodable replies come back as :class:`~trio_reactive.errors.DecodeError`
    values).  ``session`` pre-fills ``peer.session`` (a login earlier stages would have made).

    For a composite service, an item ``(stage, message)`` encodes that message, and the bare
    ones after it, in ``stage``'s codec (the first ones are in the initial stage's); all of
    them are sent at once, so the engine's hand-over of bytes read ahead is exercised too.
    Each reply is decoded in the codec of the stage that sent it.  ``wire_protocol`` replaces
    the initial stage's protocol on the test's side (to send what a mismatched peer would).
    """
    service = as_service(protocol, processor)
    other: Role = "client" if role == "server" else "server"
    wire = {key: service.stage(key).protocol for key in service.stages}
    if wire_protocol is not None:
        wire[service.initial] = wire_protocol
    config = config if config is not None else Config()
    ours, theirs = memory_connection_pair()
    user_sink = make_event_sink(on_event)
    #: Where each stage's replies start in the output: what was queued when it was entered.
    boundaries: list[tuple[Any, int]] = []

    async def sink(event: Event) -> None:
        if isinstance(event, PeerArrived):
            conn = connection
            boundaries.append((conn.stage.key, conn.bytes_out + conn.outbox.pending_bytes))
        await user_sink(event)

    connection = Connection(
        theirs, service.compile(role, config.max_message_size), config, sink, address=("memory", 0)
    )
    if session:
        connection.peer.session.update(session)
    data = _encode_staged(messages, service, wire, other)
    output = bytearray()

    async def receive_all() -> None:
        while chunk := await ours.receive_some():
            output.extend(chunk)

    with lone_exception():
        async with trio.open_nursery() as nursery:
            nursery.start_soon(unwrapped, connection.run)
            nursery.start_soon(receive_all)
            await ours.send_all(data)
            await ours.send_eof()  # type: ignore[attr-defined]
    return _decode_staged(bytes(output), boundaries, wire, other)


def _encode_staged(
    messages: Iterable[Any], service: Service, wire: Mapping[Any, Protocol[Any, Any]], end: Role
) -> bytes:
    """The messages in the codec of their stage, concatenated in order."""
    chunks: list[bytes] = []
    stage, batch = service.initial, list[Any]()
    for item in messages:
        message = item
        if isinstance(item, tuple) and len(item) == 2 and item[0] in service.stages:
            if item[0] != stage and batch:
                chunks.append(wire[stage].side(end).codec.encoder().encode_batch(batch))
                batch = []
            stage, message = item
        batch.append(message)
    if batch:
        chunks.append(wire[stage].side(end).codec.encoder().encode_batch(batch))
    return b"".join(chunks)


def _decode_staged(
    output: bytes,
    boundaries: list[tuple[Any, int]],
    wire: Mapping[Any, Protocol[Any, Any]],
    end: Role,
) -> list[Any]:
    """Each stage's part of the output, decoded by that stage's codec."""
    replies: list[Any] = []
    ends = [start for _, start in boundaries[1:]] + [len(output)]
    for (stage, start), stop in zip(boundaries, ends, strict=True):
        if stop > start:
            decoder = wire[stage].side(end).codec.decoder()
            replies.extend(decoder.decode_batch(output[start:stop]))
    return replies


class _MemoryListener(trio.abc.Listener[trio.abc.Stream]):
    """Hands the server the streams :meth:`MemoryServer.open_stream` makes."""

    def __init__(self) -> None:
        self.incoming, self._accepted = trio.open_memory_channel[trio.abc.Stream](math.inf)

    async def accept(self) -> trio.abc.Stream:
        try:
            return await self._accepted.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            raise trio.ClosedResourceError("the memory server stopped listening") from None

    async def aclose(self) -> None:
        self._accepted.close()
        await trio.lowlevel.checkpoint()

    def __repr__(self) -> str:
        return "<memory listener>"


class MemoryServer(Generic[ClientMsg, ServerMsg]):
    """A whole service served over in-memory streams, for tests: ``async with`` it.

    It is a real :class:`~trio_reactive.Server` (``server.server``: events, statistics,
    graceful shutdown) whose listener hands out ``trio.testing`` memory streams instead of
    sockets; :meth:`connect` makes a caller-driven client connection to it (as
    :func:`~trio_reactive.connect` does over TCP), :meth:`open_stream` a raw one for bytes.
    Leaving the block shuts the server down gracefully.  A server-side peer's ``address`` is
    ``None`` (there is no socket); a client's is ``("memory", n)``.
    """

    def __init__(
        self,
        protocol: Protocol[ClientMsg, ServerMsg] | Service,
        processor: Processor[ClientMsg, ServerMsg] | None = None,
        *,
        config: Config | None = None,
        on_event: Callable[[Event], Any] | None = None,
    ) -> None:
        self._target = protocol
        self._config = config if config is not None else Config()
        self._listener = _MemoryListener()
        self.server: Server[ServerMsg] = Server(
            [self._listener], as_service(protocol, processor), self._config, on_event
        )
        self._numbers = itertools.count(1)
        self._nursery_manager: Any = None

    @property
    def peers(self) -> list[Peer[ServerMsg]]:
        """The server-side peers connected now."""
        return self.server.peers

    @property
    def stats(self) -> ServerStats:
        """The server's cumulative statistics (see :attr:`Server.stats`)."""
        return self.server.stats

    async def __aenter__(self) -> MemoryServer[ClientMsg, ServerMsg]:
        self._nursery_manager = trio.open_nursery()
        nursery = await self._nursery_manager.__aenter__()
        try:
            await nursery.start(self.server._serve)
        except BaseException as exc:
            await self._nursery_manager.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        with lone_exception():
            try:
                with trio.CancelScope(shield=True):
                    await self.server.shutdown()
            finally:
                handled: bool | None = await self._nursery_manager.__aexit__(
                    kind, error, traceback
                )
        return handled

    async def open_stream(self, *, buffered: bool = True) -> trio.abc.Stream:
        """A raw client stream to the server (bytes in, bytes out), as ``open_tcp_stream``.

        ``buffered=False`` makes a lockstep pair: the server's writes wait until this end
        reads, so a stream that is never read is a slow peer from the first byte.
        """
        pair = memory_connection_pair if buffered else trio.testing.lockstep_stream_pair
        ours, theirs = pair()
        try:
            self._listener.incoming.send_nowait(theirs)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            raise ConnectFailed("the memory server is not listening any more") from None
        await trio.lowlevel.checkpoint()
        return ours

    @overload
    def connect(
        self,
        protocol: None = None,
        *,
        on_event: Callable[[Event], Any] | None = None,
        reconnect: RetryPolicy | None = None,
    ) -> Connector[ClientMsg, ServerMsg]: ...

    @overload
    def connect(
        self,
        protocol: Protocol[Any, Any],
        *,
        on_event: Callable[[Event], Any] | None = None,
        reconnect: RetryPolicy | None = None,
    ) -> Connector[Any, Any]: ...

    @overload
    def connect(
        self,
        protocol: Service,
        *,
        on_event: Callable[[Event], Any] | None = None,
        reconnect: RetryPolicy | None = None,
    ) -> Connector[Any, Any]: ...

    def connect(
        self,
        protocol: Protocol[Any, Any] | Service | None = None,
        *,
        on_event: Callable[[Event], Any] | None = None,
        reconnect: RetryPolicy | None = None,
    ) -> Connector[Any, Any]:
        """A client connection to this server: ``async with server.connect() as conn:``.

        It speaks the server's protocol (or service, driven with ``conn.goto``) unless given
        another one; ``reconnect`` makes ``async for`` connect again, as for
        :func:`~trio_reactive.connect`.
        """
        config = self._config
        sink = make_event_sink(on_event)

        async def dial(plan: Plan, retry: RetryPolicy | None) -> Connection:
            stream = await self.open_stream()
            address = ("memory", next(self._numbers))
            return Connection(
                stream, plan, config, sink, address=address, closes_on_end_of_input=True
            )

        target = self._target if protocol is None else protocol
        return Connector(target, dial, config=config, reconnect=reconnect, where="memory")
