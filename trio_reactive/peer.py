"""The peer: what a processor knows of, and can do to, the other end of its connection."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from .errors import ConnectionClosed, QueueFull

if TYPE_CHECKING:
    from .connection import Connection

__all__ = ["Peer"]

_ids = itertools.count(1)


class Peer:
    """The other end of one TCP connection, for the whole life of that connection.

    ``id`` is unique in the process and stable across stages: the key for server-side state.
    ``session`` is a per-connection dict for such state, emptied when the connection ends.
    """

    __slots__ = ("__weakref__", "_conn", "address", "id", "session")

    def __init__(self, connection: Connection, address: Any) -> None:
        self.id: int = next(_ids)
        self.address = address
        self.session: dict[Any, Any] = {}
        self._conn = connection

    @property
    def stage(self) -> Any:
        """The stage this connection is in (``None`` once it has ended)."""
        return self._conn.stage_key

    @property
    def pending(self) -> int:
        """Messages queued for sending and not yet written to the socket."""
        return self._conn.outbound.weight

    @property
    def pending_bytes(self) -> int:
        """Bytes queued for sending and not yet written to the socket."""
        return self._conn.outbound.size

    @property
    def dropped(self) -> tuple[int, int]:
        """Messages dropped so far by a ``do_not_retry`` policy: (incoming, outgoing)."""
        return self._conn.dropped_in, self._conn.dropped_out

    @property
    def capacity(self) -> int:
        """How many messages the outgoing queue holds before the retry policy applies."""
        return self._conn.outbound.capacity

    @property
    def is_connected(self) -> bool:
        return not self._conn.closing

    async def send(self, message: Any) -> None:
        """Queue ``message``; when the queue is full, follow the outgoing retry policy.

        Raises :class:`~trio_reactive.errors.EncodeError` at once for a message the protocol
        cannot carry, and :class:`~trio_reactive.errors.ConnectionClosed` once the connection is
        closing.  It does not yield to the scheduler while there is room: a loop of sends costs
        no scheduler step per message.
        """
        conn = self._conn
        data = conn.encode(message)
        if conn.outbound.put_nowait(data, 1, len(data)):
            conn.messages_out += 1
        else:
            await conn.queue_outgoing_slow(data, 1)

    def send_nowait(self, message: Any) -> None:
        """Queue ``message`` or raise :class:`~trio_reactive.errors.QueueFull` at once."""
        conn = self._conn
        data = conn.encode(message)
        if not conn.outbound.put_nowait(data, 1, len(data)):
            if conn.outbound.closed:
                raise ConnectionClosed(f"{self!r} is closed")
            raise QueueFull(f"{self!r}: outgoing queue full ({conn.outbound.capacity} messages)")
        conn.messages_out += 1

    def goto(self, stage: Any) -> None:
        """Command a transition: once the processor ends, ``stage`` takes over the connection.

        Raises :class:`~trio_reactive.errors.StageError` for a stage the service lacks.
        """
        self._conn.goto(stage)

    def close(self) -> None:
        """Finish gracefully, without waiting: no more messages reach the processor; once it
        ends (a sync handler ends after the current message), queued replies are flushed within
        ``flush_timeout`` and the connection closes.  Usable from a sync handler.
        """
        self._conn.close_soon()

    async def flush_and_close(self, timeout: float | None = None) -> int:  # noqa: ASYNC109
        """Stop, send what is queued (within ``timeout``, default ``flush_timeout``), close.

        Returns how many queued messages could not be sent.
        """
        return await self._conn.flush_and_close(timeout)

    def abort(self) -> None:
        """Drop everything queued and close now."""
        self._conn.abort()

    def __repr__(self) -> str:
        address = self.address
        if isinstance(address, tuple) and len(address) >= 2:
            address = f"{address[0]}:{address[1]}"
        stage = self._conn.stage_key
        stage_name = getattr(stage, "name", stage)
        return f"<Peer #{self.id} {address} stage={stage_name} pending={self.pending}>"
