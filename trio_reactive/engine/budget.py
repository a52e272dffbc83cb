"""A server's total budget of buffered bytes, shared by every queue of its connections.

Each connection bounds its own queues (``incoming_capacity_bytes``, ``outgoing_capacity_bytes``),
but with thousands of connections those bounds add up to gigabytes.  A :class:`Budget` bounds
the sum: every :class:`~trio_reactive.engine.queue.BatchQueue` of a server's connections adds
what it takes in and subtracts what it lets go, through its connection's :class:`Share`, so
bytes written straight to the kernel never touch it and a client (which has no budget) pays
nothing at all.

While the total is over the limit, a connection that itself holds buffered bytes (its incoming
queue or its outbox is not empty) stops reading; one that holds nothing reads on.  Slow readers
holding the budget therefore cannot stop light request/response connections, and each of those
adds at most what one read brings (its bytes, or the replies to it) before it holds something
and stops too.  The bound is the budget plus one read's worth per connection still reading.

Reading resumes once the total falls to three quarters of the limit (or, for one connection,
once it holds nothing again): with a single threshold every release of a few bytes would wake
every paused connection only for most of them to pause again at their next read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import trio

from .._logs import RateLimitedLog

__all__ = ["Budget", "Share"]

logger = logging.getLogger("trio_reactive")

#: At most one "budget exceeded" line per this many seconds (the count is in the stats).
_LOG_INTERVAL = 60.0


class Budget:
    """One server's counter of buffered bytes (see the module docstring).

    ``used`` is the bytes its connections' queues hold now, ``peak`` the most they ever held,
    ``pauses`` how many times a connection stopped reading for the budget; all read-only.
    """

    __slots__ = ("_log", "_paused", "limit", "over", "pauses", "peak", "resume_at", "used")

    def __init__(self, limit: int, *, log_interval: float = _LOG_INTERVAL) -> None:
        self.limit = limit
        #: Back under the budget at this total: see the module docstring.
        self.resume_at = limit - limit // 4
        self.used = 0
        self.peak = 0
        self.pauses = 0
        #: The total went past ``limit`` and has not come down to ``resume_at`` since.
        self.over = False
        self._paused: dict[Share, None] = {}  # in the order they paused
        self._log = RateLimitedLog(logger, log_interval)

    def share(self) -> Share:
        """A new connection's account in this budget."""
        return Share(self)

    @property
    def paused(self) -> int:
        """How many connections are not reading now, waiting for the budget."""
        return len(self._paused)

    def _exceeded(self) -> None:
        self.over = True
        self._log.warning(
            "server buffer budget of %d bytes exceeded: connections holding buffered bytes "
            "stop reading until it frees (server.stats.reads_paused counts them)",
            self.limit,
        )

    def _under(self) -> None:
        self.over = False
        for share in list(self._paused):
            share.wake()


class Share:
    """One connection's account in a :class:`Budget`: what its queues hold, and its pause.

    The queues call :meth:`add` and :meth:`sub`; the connection's source asks
    :attr:`must_wait` before each read and, when it must, either awaits :meth:`wait` (a task
    of its own) or registers a callback with :meth:`pause` (the shared poller).
    """

    __slots__ = ("_resume", "budget", "held")

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        #: Bytes this connection's queues hold now.
        self.held = 0
        self._resume: Callable[[], object] | None = None

    @property
    def must_wait(self) -> bool:
        """Whether this connection must not read now: the budget is spent and it holds some."""
        return self.budget.over and self.held > 0

    @property
    def paused(self) -> bool:
        return self._resume is not None

    def add(self, size: int) -> None:
        self.held += size
        budget = self.budget
        used = budget.used = budget.used + size
        budget.peak = max(budget.peak, used)
        if used > budget.limit and not budget.over:
            budget._exceeded()

    def sub(self, size: int) -> None:
        if not size:
            return
        self.held -= size
        budget = self.budget
        budget.used -= size
        if budget.over:
            if budget.used <= budget.resume_at:
                budget._under()
            elif not self.held and self._resume is not None:
                self.wake()

    def pause(self, resume: Callable[[], object]) -> None:
        """Stop reading: ``resume`` is called (once) when this connection may read again."""
        if self._resume is None:
            self.budget.pauses += 1
            self.budget._paused[self] = None
        self._resume = resume

    def unpause(self) -> None:
        """Forget the pause without calling its callback (the reader went away)."""
        if self._resume is not None:
            self._resume = None
            del self.budget._paused[self]

    def wake(self) -> None:
        resume = self._resume
        self.unpause()
        if resume is not None:
            resume()

    async def wait(self) -> None:
        """Return once this connection may read again (see :attr:`must_wait`)."""
        lot = trio.lowlevel.ParkingLot()
        while self.must_wait:
            self.pause(lot.unpark_all)
            try:
                await lot.park()
            finally:
                self.unpause()
