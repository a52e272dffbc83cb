"""Trio's waiting primitives, made only when a task first waits on them.

An idle connection holds a dozen places a task could wait — its queues' two sides, the
outbox's progress, a sender's turn, the end of its input, its close — and almost never has a
task waiting on more than one.  A :class:`trio.lowlevel.ParkingLot` is an ordered dict and a
:class:`trio.Event` a set: hundreds of bytes each, paid many thousands of times over.  These
stand in for them at a slot's cost and make the real one on the first wait.
"""

from __future__ import annotations

from collections.abc import Awaitable

import trio

__all__ = ["Latch", "Lot"]


class Lot:
    """A :class:`trio.lowlevel.ParkingLot` (``park``, ``unpark_all``, truth: anyone parked)."""

    __slots__ = ("_lot",)

    def __init__(self) -> None:
        self._lot: trio.lowlevel.ParkingLot | None = None

    def __bool__(self) -> bool:
        lot = self._lot
        return lot is not None and bool(lot)

    def park(self) -> Awaitable[None]:
        lot = self._lot
        if lot is None:
            lot = self._lot = trio.lowlevel.ParkingLot()
        return lot.park()

    def unpark_all(self) -> None:
        lot = self._lot
        if lot is not None:
            lot.unpark_all()


class Latch:
    """A :class:`trio.Event` (``set``, ``is_set``, ``wait``): a milestone set once, nearly
    always with nobody waiting for it."""

    __slots__ = ("_event", "_set")

    def __init__(self) -> None:
        self._set = False
        self._event: trio.Event | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        self._set = True
        if self._event is not None:
            self._event.set()

    async def wait(self) -> None:
        if self._set:
            await trio.lowlevel.checkpoint()
            return
        if self._event is None:
            self._event = trio.Event()
        await self._event.wait()
