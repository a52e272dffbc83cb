"""A connection's lifecycle: its state, and the one place that decides why it ended.

A connection is ``OPEN`` while its stages run, ``CLOSING`` once it stops delivering input
(what is queued is still written), ``DRAINING`` once its write side is shut (the peer's input is
read and dropped until its EOF, so that closing never resets a connection whose data is still in
flight), then ``CLOSED``.  States only move forward.

Why it ended is decided once: the first :meth:`Lifecycle.end` wins, whatever happens after it.
A close that started because the last stage ended on purpose stays ``PROCESSOR_ENDED`` even if
the peer hangs up while we flush.
"""

from __future__ import annotations

import enum

import trio

from ..events import DisconnectReason

__all__ = ["Latch", "Lifecycle", "State"]


class State(enum.IntEnum):
    OPEN = 0
    CLOSING = 1
    DRAINING = 2
    CLOSED = 3


class Lifecycle:
    """The state and the ending (reason and error) of one connection."""

    __slots__ = ("error", "reason", "state")

    def __init__(self) -> None:
        self.state = State.OPEN
        self.reason: DisconnectReason | None = None
        self.error: BaseException | None = None

    @property
    def open(self) -> bool:
        return self.state is State.OPEN

    def end(self, reason: DisconnectReason, error: BaseException | None = None) -> bool:
        """Record why the connection ends, unless that is decided already; say if it was not."""
        if self.reason is not None:
            return False
        self.reason = reason
        self.error = error
        return True

    def advance(self, state: State) -> None:
        """Move forward to ``state`` (never back)."""
        self.state = max(self.state, state)


class Latch:
    """A :class:`trio.Event` that makes one only when a task waits for it.

    A connection's milestones (its input is over, it is closed) are set once each, and nearly
    always without a waiter: an idle connection should not hold an event, and its set of
    waiters, for each of them.
    """

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
