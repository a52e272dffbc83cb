"""Applying a :class:`~trio_reactive.config.RetryPolicy` to a full queue.

Only reached on the slow path: callers try ``put_nowait`` first and come here when it fails.
"""

from __future__ import annotations

import enum
from typing import Any

import trio

from ..config import RetryPolicy, Strategy
from .queue import BatchQueue

__all__ = ["Outcome", "wait_for_room"]


class Outcome(enum.Enum):
    ROOM = "there is room now"
    DROP = "drop this item, keep the connection"
    END = "close the connection"


async def wait_for_room(queue: BatchQueue[Any], policy: RetryPolicy) -> Outcome:
    """Wait for room in ``queue`` as ``policy`` says, and tell the caller what to do next."""
    strategy = policy.strategy
    if strategy is Strategy.DO_NOT_RETRY:
        # Still a checkpoint: a sender looping on a full queue must let the writer run.
        await trio.lowlevel.checkpoint()
        return Outcome.DROP
    if strategy is Strategy.WAIT:
        await queue.wait_not_full()
    elif strategy is Strategy.BACKOFF:
        for delay in policy.delays():
            await trio.sleep(delay)
            if queue.has_room or queue.closed:
                break
    elif strategy is Strategy.YIELDING:
        with trio.move_on_after(policy.millis / 1000):
            await queue.wait_not_full()
    if queue.closed or not queue.has_room:
        return Outcome.END
    return Outcome.ROOM
