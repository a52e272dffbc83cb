"""A bounded FIFO whose consumer takes everything queued in one go.

Trio's memory channels hand over one item per ``receive``, which is one scheduler step per item.
The engine wants the opposite: producers append cheaply (``put_nowait`` never awaits) and the
consumer wakes once and takes the whole backlog, so the cost of waking is paid per batch.
Capacity counts *messages* and *bytes*: each item carries a weight (a decoded batch weighs its
message count, an encoded reply buffer the number of replies in it) and a size in bytes.  An item
is accepted whenever the queue is below both capacities, so a batch larger than the room left still
makes progress; the overshoot is at most one item.

A server's queues also count their bytes in its connection's
:class:`~trio_reactive.engine.budget.Share` of the server's total budget, at the same places
where they count them for themselves; a client's queues have none and pay one ``None`` test.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from .budget import Share
from .lazy import Lot

__all__ = ["BatchQueue"]

T = TypeVar("T")


class BatchQueue(Generic[T]):
    """See the module docstring.

    ``weight`` (how many messages are queued), ``size`` (how many bytes) and ``closed`` are
    plain attributes, read on every request by the engine's fast path: read them, never set
    them.
    """

    __slots__ = (
        "_byte_capacity",
        "_capacity",
        "_items",
        "_not_empty",
        "_not_full",
        "_share",
        "closed",
        "size",
        "weight",
    )

    def __init__(self, capacity: int, byte_capacity: int, share: Share | None = None) -> None:
        self._capacity = capacity
        self._byte_capacity = byte_capacity
        self._items: list[T] = []
        self.weight = 0
        self.size = 0
        self.closed = False
        self._not_empty = Lot()
        self._not_full = Lot()
        self._share = share

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def has_room(self) -> bool:
        return self.weight < self._capacity and self.size < self._byte_capacity

    def put_nowait(self, item: T, weight: int, size: int) -> bool:
        """Append ``item`` if there is room; say whether it was taken.

        A closed queue takes nothing: callers check ``closed`` to tell "full" from "closed".
        """
        if self.closed or self.weight >= self._capacity or self.size >= self._byte_capacity:
            return False
        self._append(item, weight, size)
        return True

    def _append(self, item: T, weight: int, size: int) -> None:
        self._items.append(item)
        self.weight += weight
        self.size += size
        if self._share is not None:
            self._share.add(size)
        if self._not_empty:
            self._not_empty.unpark_all()

    def force(self, item: T, weight: int, size: int) -> None:
        """Append ``item`` whatever the capacity (not when closed): for an item that must go
        on, such as the rest of a buffer the kernel took in part."""
        if not self.closed:
            self._append(item, weight, size)

    def force_closed(self, item: T, weight: int, size: int) -> None:
        """Append one last ``item`` even to a closed queue (what the end of input still made);
        consumers drain it before they see the end."""
        self._append(item, weight, size)

    async def wait_not_full(self) -> None:
        """Return once a ``put_nowait`` may succeed (or the queue is closed)."""
        while not (self.has_room or self.closed):
            await self._not_full.park()

    def take_all_nowait(self) -> list[T]:
        """Everything queued, oldest first, leaving the queue empty."""
        items = self._items
        if items:
            self._items = []
            self.weight = 0
            size, self.size = self.size, 0
            if self._share is not None:
                self._share.sub(size)
            if self._not_full:
                self._not_full.unpark_all()
        return items

    def take_all_held(self) -> list[T]:
        """Everything queued, oldest first, still counted against the capacity until
        :meth:`release` says the consumer is done with it (a writer's buffers in flight)."""
        items = self._items
        self._items = []
        return items

    def release(self, weight: int, size: int) -> None:
        """The consumer is done with items taken by :meth:`take_all_held`."""
        self.weight -= weight
        self.size -= size
        if self._share is not None:
            self._share.sub(size)
        if self._not_full and self.has_room:
            self._not_full.unpark_all()

    async def take_all(self, *, hold: bool = False) -> list[T]:
        """Wait for at least one item, then take everything; ``[]`` means closed and drained.

        ``hold``: take as :meth:`take_all_held` does.
        """
        while not self._items:
            if self.closed:
                return []
            await self._not_empty.park()
        return self.take_all_held() if hold else self.take_all_nowait()

    def close(self) -> None:
        """No more items will be accepted; waiting consumers drain what is left, then get []."""
        self.closed = True
        self._not_empty.unpark_all()
        self._not_full.unpark_all()

    def clear(self) -> int:
        """Drop everything queued (and everything held); return how many messages that was."""
        dropped = self.weight
        self._items = []
        size, self.weight, self.size = self.size, 0, 0
        if self._share is not None:
            self._share.sub(size)
        self._not_full.unpark_all()
        return dropped
