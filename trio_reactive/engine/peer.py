"""The peer: what a processor knows of, and can do to, the other end of its connection."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any, Generic

from typing_extensions import TypeVar

from ..errors import ConnectionClosed, StageError
from ..events import DisconnectReason

if TYPE_CHECKING:
    from .connection import Connection

__all__ = ["Peer"]

_ids = itertools.count(1)

#: What this end may send to the peer (a server's peer: the protocol's server messages).
SendT_contra = TypeVar("SendT_contra", contravariant=True, default=Any)


class Peer(Generic[SendT_contra]):
    """The other end of one connection, for the whole life of that connection.

    ``Peer[Msg]`` may be sent only ``Msg``: a server's peers are ``Peer[ServerMsg]`` of its
    protocol (inferred from it by every entry point), a client's ``Peer[ClientMsg]``.

    ``id`` is unique in the process and stable across stages: the key for server-side state.
    ``address`` is the remote address (``(host, port)`` for TCP).  ``session`` is a
    per-connection dict for such state, emptied when the connection ends.

    Once the connection has ended the peer no longer holds it: its counters are kept, sending
    raises :class:`~trio_reactive.errors.ConnectionClosed`.
    """

    __slots__ = (
        "__weakref__",
        "_capacity",
        "_conn",
        "_dropped",
        "_reason",
        "_unsent",
        "address",
        "id",
        "session",
    )

    def __init__(self, connection: Connection, address: Any) -> None:
        self.id: int = next(_ids)
        self.address = address
        self.session: dict[Any, Any] = {}
        self._conn: Connection | None = connection
        self._dropped = (0, 0)
        self._unsent = 0
        self._reason: DisconnectReason | None = None
        self._capacity = connection.config.outgoing_capacity

    def _live(self) -> Connection:
        conn = self._conn
        if conn is None:
            raise ConnectionClosed(f"{self!r} is closed")
        return conn

    def _release(self) -> None:
        """The connection has ended: keep its counters, let go of it."""
        conn = self._conn
        if conn is not None:
            self._dropped = (conn.dropped_in, conn.dropped_out)
            self._unsent = conn.outbox.unsent
            self._reason = conn.reason
            self._conn = None

    @property
    def stage(self) -> Any:
        """The stage this connection is in: ``None`` for a single-protocol service, and once
        the connection has ended."""
        conn = self._conn
        return None if conn is None or conn.closing else conn.stage.name

    @property
    def pending(self) -> int:
        """Messages queued for sending and not yet wholly taken by the kernel."""
        conn = self._conn
        return 0 if conn is None else conn.outbox.pending

    @property
    def pending_bytes(self) -> int:
        """Bytes queued for sending and not yet taken by the kernel."""
        conn = self._conn
        return 0 if conn is None else conn.outbox.pending_bytes

    @property
    def dropped(self) -> tuple[int, int]:
        """Messages dropped so far by a ``do_not_retry`` policy: (incoming, outgoing)."""
        conn = self._conn
        return self._dropped if conn is None else (conn.dropped_in, conn.dropped_out)

    @property
    def capacity(self) -> int:
        """How many messages the outgoing queue holds before the retry policy applies."""
        return self._capacity

    @property
    def is_connected(self) -> bool:
        """True until the connection starts closing (locally or because the peer left)."""
        conn = self._conn
        return conn is not None and not conn.closing

    @property
    def disconnect_reason(self) -> DisconnectReason | None:
        """Why the connection ended (None while it runs and nothing has decided it)."""
        conn = self._conn
        return self._reason if conn is None else conn.reason

    async def send(self, message: SendT_contra) -> None:
        """Queue ``message``; when the queue is full, follow the outgoing retry policy.

        Raises :class:`~trio_reactive.errors.EncodeError` at once for a message the protocol
        cannot carry, and :class:`~trio_reactive.errors.ConnectionClosed` once the connection is
        closing.  It does not yield to the scheduler while there is room: a loop of sends costs
        no scheduler step per message.  Messages leave in the order they were produced,
        including the replies a handler returned before this call.
        """
        await self._live().send(message)

    def send_nowait(self, message: SendT_contra) -> None:
        """Queue ``message`` or raise at once: :class:`~trio_reactive.errors.QueueFull` when
        the queue is full, :class:`~trio_reactive.errors.ConnectionClosed` when closing."""
        self._live().outbox.send_nowait(message)

    def goto(self, stage: Any) -> None:
        """Command a transition: once the processor ends, ``stage`` takes over the connection.

        Raises :class:`~trio_reactive.errors.StageError` for a stage the service lacks (a
        single-protocol service has none to go to).
        """
        conn = self._live()
        if conn.stage.name is None:
            raise StageError(
                f"{self!r}: no stage {stage!r} to go to: a single-protocol service has one "
                f"stage only (declare a Service to have several)"
            )
        conn.goto(stage)

    def close(self) -> None:
        """Finish gracefully, without waiting: no more messages reach the processor; once it
        ends (a sync handler ends after the current message), queued replies are flushed and
        the connection closes.  Usable from a sync handler."""
        conn = self._conn
        if conn is not None:
            conn.request_close(DisconnectReason.CLOSED)

    async def flush_and_close(self, timeout: float | None = None) -> int:  # noqa: ASYNC109
        """Stop, send what is queued, close; return how many messages were not sent.

        The flush gives up only when the peer takes nothing for ``timeout`` seconds (default
        ``Config.close_timeout``).  The count is true: a message counts as sent once the kernel
        took all its bytes.
        """
        conn = self._conn
        if conn is None:
            return self._unsent
        return await conn.flush_and_close(timeout)

    def abort(self) -> None:
        """Drop everything queued and close now."""
        conn = self._conn
        if conn is not None:
            conn.abort()

    def __repr__(self) -> str:
        address = self.address
        if isinstance(address, tuple) and len(address) >= 2:
            address = f"{address[0]}:{address[1]}"
        stage = self.stage
        shown = f" stage={getattr(stage, 'name', stage)}" if stage is not None else ""
        return f"<Peer #{self.id} {address}{shown} pending={self.pending}>"

    # ------------------------------------------------------------------ broadcast hook

    def _outlet(self) -> Connection | None:
        """The live connection, for :mod:`trio_reactive.broadcast` only (None once closing):
        a broadcast encodes once per codec and puts the bytes in each peer's outbox itself."""
        conn = self._conn
        return None if conn is None or conn.closing else conn
