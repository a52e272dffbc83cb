"""Senders waiting for room in a full outbox: first come, first queued.

When the outgoing queue is full, a sender follows the outgoing retry policy: it waits for
room, drops its buffer, or gives up.  While one sender waits nobody overtakes it: later ones
wait behind it, and :meth:`Outbox.put` fails while anyone waits, so its caller comes here too.
When the outbox closes, or a goodbye must go out (``last_words``), every waiting buffer is
queued at once, in order (:func:`force_waiting`).

Apart from :mod:`.outbox` because this is the slow path: the outbox's per-message code only
looks at whether anyone waits (:attr:`Outbox.waiting`, one attribute), and everything else
about waiting is here.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..config import RetryPolicy
from ..errors import ConnectionClosed
from .retry import Outcome, wait_for_room

if TYPE_CHECKING:
    from collections.abc import Callable

    from .outbox import Outbox

__all__ = ["Waiting", "force_waiting", "put_slow"]

logger = logging.getLogger("trio_reactive")


class Waiting:
    """A sender waiting for room: its buffer, and whether it was queued (or dropped)."""

    __slots__ = ("count", "data", "done")

    def __init__(self, data: bytes, count: int) -> None:
        self.data = data
        self.count = count
        self.done = False


async def put_slow(
    outbox: Outbox,
    data: bytes,
    count: int,
    policy: RetryPolicy,
    on_slow: Callable[[], None],
    *,
    count_unsent: bool = False,
) -> None:
    """The queue is full: wait, drop or give up as ``policy`` says.

    A dropped buffer is counted in :attr:`Outbox.dropped`, and the sender then waits for room,
    so that a producer that never waits cannot spin on a full queue.  ``on_slow`` is called
    when the policy gives up; then, as when the outbox is closed, this raises
    :class:`ConnectionClosed`.  ``count_unsent``: a buffer that is never queued (closed, given
    up, cancelled) counts in :attr:`Outbox.unsent` — for what the engine holds; a caller of
    ``send`` learns it from the exception instead.
    """
    entry = Waiting(data, count)
    waiting = outbox.waiting
    waiting.append(entry)
    try:
        await _wait_and_put(outbox, entry, policy, on_slow)
    finally:
        if not entry.done:
            if count_unsent:
                outbox.unsent += count  # closed, given up or cancelled: never written
            entry.done = True
        if entry in waiting:
            waiting.remove(entry)
        outbox.turn.unpark_all()


async def _wait_and_put(
    outbox: Outbox, entry: Waiting, policy: RetryPolicy, on_slow: Callable[[], None]
) -> None:
    queue = outbox.queue
    waiting = outbox.waiting
    while not entry.done:
        if queue.closed:
            raise ConnectionClosed("the connection is closed")
        if waiting[0] is not entry:
            await outbox.turn.park()  # senders waiting before this one go first
            continue
        outcome = await wait_for_room(queue, policy)
        if entry.done:
            return  # forced into the queue meanwhile (a close, a goodbye)
        if outcome is Outcome.ROOM:
            if outbox.offer(entry.data, entry.count):
                entry.done = True
        elif outcome is Outcome.DROP:
            if not outbox.dropped:
                logger.warning(
                    "outgoing queue full: dropping messages as the retry policy says "
                    "(counted in peer.dropped from now on)"
                )
            outbox.dropped += entry.count
            entry.done = True
            waiting.remove(entry)
            outbox.turn.unpark_all()
            await queue.wait_not_full()
        else:
            on_slow()
            raise ConnectionClosed("the outgoing queue stayed full")


def force_waiting(outbox: Outbox) -> None:
    """Queue every waiting sender's buffer, in order, whatever the capacity."""
    waiting = outbox.waiting
    while waiting:
        entry = waiting.pop(0)
        entry.done = True
        outbox.offer(entry.data, entry.count, force=True)
    outbox.turn.unpark_all()
