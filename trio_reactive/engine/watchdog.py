"""The liveness deadlines of every connection, watched by one task per trio run that sleeps.

A connection that is configured with any of them (the server's opening handshake, the idle
timeout, the write timeout, the heartbeat) files a :class:`Deadlines` with the run's
:class:`Keeper`.  The hot path pays nothing per message: a read stamps ``Connection.read_at``
and a write stamps ``Outbox.progress_at``; the keeper holds each connection's next look in one
heap, sleeps until the earliest, and when a connection's time comes looks at its stamps and
either files it again for the new earliest deadline (something happened meanwhile) or ends the
connection.  An idle connection costs a heap entry, not a task; the keeper's task runs while
there is a connection to watch.

* opening (servers): until a first whole message has been decoded, the connection must get one
  by ``opened_by`` (the TLS handshake and this share one ``handshake_timeout``); a slowloris
  that trickles a byte a second never completes one -> ``HANDSHAKE_TIMEOUT``, aborted.
* idle: nothing read and nothing written for ``idle_timeout`` -> ``IDLE_TIMEOUT``, closed
  gracefully (the peer is alive, merely silent: what is queued is still flushed).
* write: data is queued and the peer has taken none of it for ``write_timeout`` ->
  ``WRITE_TIMEOUT``, aborted (what is queued counts as unsent; a flush would only wait again).
* heartbeat: nothing written for ``heartbeat_interval`` -> the stage's heartbeat frame is
  written (the peer's decoder drops it); nothing read for ``heartbeat_timeout`` ->
  ``HEARTBEAT_TIMEOUT``, aborted (the peer is gone: there is nobody to flush to).

Input the processor has not handled yet counts as activity: while the engine itself is behind
(a full incoming queue stops reading, or the server's spent buffer budget does), the peer is
not the silent one.

Deadlines only ever move later between two looks (every stamp only moves forward), so a
connection is in the heap once, at a time never later than its earliest deadline.  A connection
that ends leaves at once (its entry no longer holds it, and the heap is rebuilt when most of it
is such leftovers), so the keeper keeps nothing alive.  Ending a connection is sync
(``abort``, ``request_close``), safe from the keeper's task as from the poller's; a connection
whose look raises is aborted and logged, and the keeper goes on with the others.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
from typing import TYPE_CHECKING

import trio

from ..errors import ConfigError
from ..events import DisconnectReason

if TYPE_CHECKING:
    from ..config import Config
    from ..stage import Plan
    from .connection import Connection

__all__ = ["Deadlines", "Keeper", "check_heartbeat", "keeper"]

logger = logging.getLogger("trio_reactive")

_Deadline = tuple[float, DisconnectReason | None]
#: When a look is due, a tie-breaker (filing order), and whose.
_Entry = tuple[float, int, "Deadlines"]

#: Left entries tolerated in the heap before it is rebuilt without them (and at most half).
_LEFT_SLACK = 64


class Deadlines:
    """One connection's deadlines: :meth:`look` is what the keeper calls when they are due.

    ``conn`` is None once the connection has left the keeper (ended, or expired).
    """

    __slots__ = ("_keeper", "_opened_by", "conn")

    def __init__(self, keeper: Keeper, connection: Connection, opened_by: float | None) -> None:
        self._keeper = keeper
        self.conn: Connection | None = connection
        self._opened_by = opened_by

    @staticmethod
    def wanted(connection: Connection, opened_by: float | None) -> bool:
        """Whether any deadline applies (otherwise nothing is filed)."""
        config = connection.config
        timeouts = (
            opened_by,
            config.idle_timeout,
            config.write_timeout,
            config.heartbeat_interval,
            config.heartbeat_timeout,
        )
        return any(timeout is not None for timeout in timeouts)

    def first(self, now: float) -> float:
        """When to look first (now, if something is due already)."""
        return self._earliest(now)[0]

    def leave(self) -> None:
        """The connection has ended: the keeper lets go of it."""
        self._keeper.leave(self)

    def look(self, now: float) -> float | None:
        """Send a due heartbeat, end the connection if a deadline has passed; when to look
        again, or None when the connection needs no more looks."""
        conn = self.conn
        assert conn is not None
        if conn.closing:
            return None
        self._heartbeat(now)
        deadline, reason = self._earliest(now)
        if reason is not None and deadline <= now:
            self._expire(reason)
            return None
        return None if deadline == math.inf else deadline  # inf: no deadline is left

    def _earliest(self, now: float) -> _Deadline:
        conn = self.conn
        assert conn is not None
        config = conn.config
        outbox = conn.outbox
        share = conn.inbound.share
        if conn.inbound.unhandled() or (share is not None and share.paused):
            conn.read_at = now  # the engine is behind, not the peer
        candidates: list[_Deadline] = [(math.inf, None)]
        if self._opened_by is not None:
            if conn.messages_in or conn.inbound.unhandled():
                self._opened_by = None
            else:
                candidates.append((self._opened_by, DisconnectReason.HANDSHAKE_TIMEOUT))
        idle = config.idle_timeout
        if idle is not None:
            last = max(conn.read_at, outbox.progress_at)
            candidates.append((last + idle, DisconnectReason.IDLE_TIMEOUT))
        write = config.write_timeout
        if write is not None:
            if outbox.idle:
                # Nothing is late; look again by then, when whatever is queued meanwhile
                # (stamped as it is queued) is due at the earliest.
                candidates.append((now + write, None))
            else:
                candidates.append((outbox.progress_at + write, DisconnectReason.WRITE_TIMEOUT))
        beat = config.heartbeat_interval
        if beat is not None:
            due = outbox.progress_at + beat if outbox.idle else now
            # Not sent (something is queued, or the outbox is closing): look again later.
            candidates.append((due if due > now else now + beat, None))
        silence = config.heartbeat_timeout
        if silence is not None:
            candidates.append((conn.read_at + silence, DisconnectReason.HEARTBEAT_TIMEOUT))
        return min(candidates, key=lambda candidate: candidate[0])

    def _heartbeat(self, now: float) -> None:
        """Send the stage's heartbeat frame if nothing was written for the interval."""
        conn = self.conn
        assert conn is not None
        beat = conn.config.heartbeat_interval
        outbox = conn.outbox
        if beat is not None and outbox.idle and now >= outbox.progress_at + beat:
            frame = conn.stage.mirror.heartbeat
            assert frame is not None  # checked when the service was set up
            outbox.heartbeat(frame)

    def _expire(self, reason: DisconnectReason) -> None:
        conn = self.conn
        assert conn is not None
        if reason is DisconnectReason.IDLE_TIMEOUT:
            conn.request_close(reason, now=True)
        else:
            conn.abort(reason)


class Keeper:
    """Every filed connection's next look, in one heap; :meth:`run` is the task that looks.

    One per trio run (:func:`keeper`), for servers and clients alike.  Its task ends when no
    connection is left to watch, and is started again by the next one.
    """

    def __init__(self) -> None:
        self._heap: list[_Entry] = []
        self._order = itertools.count()
        #: Entries in the heap whose connection has left.
        self._left = 0
        #: The keeper's sleep: its deadline is the earliest look (moved by :meth:`file`).
        self._sleep: trio.CancelScope | None = None
        self.running = False

    def __len__(self) -> int:
        """How many connections are watched."""
        return len(self._heap) - self._left

    def file(self, connection: Connection, opened_by: float | None) -> Deadlines:
        """Watch ``connection`` from now on, until it ends (:meth:`Deadlines.leave`)."""
        deadlines = Deadlines(self, connection, opened_by)
        self._push(deadlines.first(trio.current_time()), deadlines)
        return deadlines

    def leave(self, deadlines: Deadlines) -> None:
        """Let go of ``deadlines``' connection (its entry is dropped as it comes up)."""
        if deadlines.conn is None:
            return  # left already: the keeper dropped it, or ended it
        deadlines.conn = None
        self._left += 1
        heap = self._heap
        if self._left == len(heap):
            self._forget()
        elif self._left > _LEFT_SLACK and 2 * self._left > len(heap):
            heap[:] = [entry for entry in heap if entry[2].conn is not None]
            heapq.heapify(heap)
            self._left = 0

    def _forget(self) -> None:
        """Nobody is left to watch: empty the heap, and let the task end."""
        self._heap.clear()
        self._left = 0
        if self._sleep is not None:
            self._sleep.cancel()

    def _push(self, when: float, deadlines: Deadlines) -> None:
        heapq.heappush(self._heap, (when, next(self._order), deadlines))
        sleep = self._sleep
        if sleep is not None and when < sleep.deadline:
            sleep.deadline = when

    def _due(self, now: float) -> None:
        """Look at every connection whose time has come, in the order of their times."""
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, _, deadlines = heapq.heappop(heap)
            if deadlines.conn is None:
                self._left -= 1
                continue
            try:
                again = deadlines.look(now)
            except Exception as exc:  # one connection's failure stays its own
                logger.exception("watching a connection's deadlines failed; aborting it")
                again = None
                conn = deadlines.conn
                if conn is not None:
                    try:
                        conn.abort(DisconnectReason.ABORTED, exc)
                    except Exception:
                        logger.exception("aborting the connection failed too")
            if again is None:
                deadlines.conn = None
            else:
                heapq.heappush(heap, (again, next(self._order), deadlines))
        if self._left == len(heap):
            self._forget()

    async def run(self) -> None:
        """Look at connections as their times come, until none is left (or the run ends)."""
        self.running = True
        heap = self._heap
        try:
            while heap:
                with trio.CancelScope(deadline=heap[0][0]) as sleep:
                    self._sleep = sleep
                    await trio.sleep_forever()
                self._sleep = None
                self._due(trio.current_time())
        finally:
            self.running = False
            self._sleep = None


_KEEPER: trio.lowlevel.RunVar[Keeper] = trio.lowlevel.RunVar("trio_reactive_keeper")


def keeper() -> Keeper:
    """The keeper of this trio run's connections, its task started if it is not running.

    A system task: it never keeps the run alive, and ends with it.
    """
    try:
        current = _KEEPER.get()
    except LookupError:
        current = Keeper()
        _KEEPER.set(current)
    if not current.running:
        current.running = True
        trio.lowlevel.spawn_system_task(current.run, name="trio_reactive deadline keeper")
    return current


def check_heartbeat(plan: Plan, config: Config) -> None:
    """Refuse a heartbeat on a stage whose codec reserves no frame for it, naming the stage."""
    if config.heartbeat_interval is None:
        return
    for stage in plan.stages.values():
        codec = stage.side.codec
        if codec.heartbeat is None or stage.mirror.heartbeat is None:
            name = "the service's stage" if stage.name is None else f"stage {stage.name!r}"
            raise ConfigError(
                f"heartbeat_interval: {name} uses the {codec.name} codec, which has no frame "
                "to spare for a heartbeat (fixed-size records and raw streams have none): use "
                "TCP keepalive (keepalive=True, keepalive_idle=...) or idle_timeout instead"
            )
