"""The liveness deadlines of one connection, watched by one task that mostly sleeps.

A connection that is configured with any of them (the server's opening handshake, the idle
timeout, the write timeout) gets a :class:`Watchdog` task.  The hot path pays nothing per
message: a read stamps ``Connection.read_at`` and a write stamps ``Outbox.progress_at``, and the
watchdog sleeps until the earliest deadline those stamps give, looks again when it wakes, and
either sleeps on (something happened meanwhile) or ends the connection.

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
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import trio

from ..errors import ConfigError
from ..events import DisconnectReason

if TYPE_CHECKING:
    from ..config import Config
    from ..stage import Plan
    from .connection import Connection

__all__ = ["Watchdog", "check_heartbeat"]

_Deadline = tuple[float, DisconnectReason | None]


class Watchdog:
    """See the module docstring; :meth:`run` is the task, started by the connection."""

    __slots__ = ("_beat", "_conn", "_idle", "_opened_by", "_silence", "_write")

    def __init__(self, connection: Connection, opened_by: float | None) -> None:
        config = connection.config
        self._conn = connection
        self._opened_by = opened_by
        self._idle = config.idle_timeout
        self._write = config.write_timeout
        self._beat = config.heartbeat_interval
        self._silence = config.heartbeat_timeout

    @staticmethod
    def wanted(connection: Connection, opened_by: float | None) -> bool:
        """Whether any deadline applies (otherwise no task is started)."""
        config = connection.config
        timeouts = (
            opened_by,
            config.idle_timeout,
            config.write_timeout,
            config.heartbeat_interval,
            config.heartbeat_timeout,
        )
        return any(timeout is not None for timeout in timeouts)

    async def run(self) -> None:
        conn = self._conn
        while not conn.closing:
            now = trio.current_time()
            self._heartbeat(now)
            deadline, reason = self._earliest(now)
            if reason is not None and deadline <= now:
                self._expire(reason)
                return
            await trio.sleep_until(deadline)

    def _earliest(self, now: float) -> _Deadline:
        conn = self._conn
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
        if self._idle is not None:
            last = max(conn.read_at, outbox.progress_at)
            candidates.append((last + self._idle, DisconnectReason.IDLE_TIMEOUT))
        if self._write is not None:
            if outbox.idle:
                # Nothing is late; look again by then, when whatever is queued meanwhile
                # (stamped as it is queued) is due at the earliest.
                candidates.append((now + self._write, None))
            else:
                late = outbox.progress_at + self._write
                candidates.append((late, DisconnectReason.WRITE_TIMEOUT))
        if self._beat is not None:
            due = outbox.progress_at + self._beat if outbox.idle else now
            # Not sent (something is queued, or the outbox is closing): look again later.
            candidates.append((due if due > now else now + self._beat, None))
        if self._silence is not None:
            candidates.append((conn.read_at + self._silence, DisconnectReason.HEARTBEAT_TIMEOUT))
        return min(candidates, key=lambda candidate: candidate[0])

    def _heartbeat(self, now: float) -> None:
        """Send the stage's heartbeat frame if nothing was written for the interval."""
        outbox = self._conn.outbox
        if self._beat is not None and outbox.idle and now >= outbox.progress_at + self._beat:
            frame = self._conn.stage.mirror.heartbeat
            assert frame is not None  # checked when the service was set up
            outbox.heartbeat(frame)

    def _expire(self, reason: DisconnectReason) -> None:
        conn = self._conn
        if reason is DisconnectReason.IDLE_TIMEOUT:
            conn.request_close(reason, now=True)
        else:
            conn.abort(reason)


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
