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

from ..events import DisconnectReason

__all__ = ["Lifecycle", "State"]


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
