"""Server statistics: cumulative counts since the server started, as one typed snapshot.

The counts come from two places only, so they stay right whatever the engine does inside: the
events every connection reports (errors and disconnect reasons), and the per-connection counters
(``messages_in``, ``bytes_out``, ``dropped_in`` ...) read when a connection ends, plus those of
the live connections at the moment a snapshot is taken; the buffered bytes come from the
server's budget counter (:mod:`trio_reactive.engine.budget`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Protocol

import attrs

from .engine.budget import Budget
from .events import Disconnected, DisconnectReason, Event, InputError, ProcessorError

__all__ = ["ServerStats", "StatsRecorder"]

_COUNTERS = ("messages_in", "messages_out", "bytes_in", "bytes_out", "dropped_in", "dropped_out")


class _Counted(Protocol):
    """What a connection exposes to statistics (the engine keeps these names)."""

    @property
    def messages_in(self) -> int: ...
    @property
    def messages_out(self) -> int: ...
    @property
    def bytes_in(self) -> int: ...
    @property
    def bytes_out(self) -> int: ...
    @property
    def dropped_in(self) -> int: ...
    @property
    def dropped_out(self) -> int: ...


@attrs.frozen(kw_only=True)
class ServerStats:
    """What a server has done since it started (``server.stats``, a snapshot).

    Message and byte counts include the connections still open; ``dropped_*`` count messages a
    ``do_not_retry`` policy dropped.  ``disconnects`` maps each
    :class:`~trio_reactive.events.DisconnectReason` seen to how many connections ended so.

    ``buffered_bytes`` is what the connections' queues hold now, ``buffered_bytes_peak`` the
    most they ever held at once, ``reads_paused`` how many times a connection stopped reading
    because the total was over ``Config.server_buffer_budget`` (all 0 without a budget).
    """

    connections_accepted: int = 0
    connections_live: int = 0
    connections_closed: int = 0
    messages_in: int = 0
    messages_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    dropped_in: int = 0
    dropped_out: int = 0
    input_errors: int = 0
    processor_errors: int = 0
    buffered_bytes: int = 0
    buffered_bytes_peak: int = 0
    reads_paused: int = 0
    disconnects: Mapping[DisconnectReason, int] = attrs.field(factory=dict)


class StatsRecorder:
    """Accumulates a server's counts; :meth:`snapshot` turns them into :class:`ServerStats`."""

    def __init__(self) -> None:
        self._closed: Counter[str] = Counter()
        self._disconnects: Counter[DisconnectReason] = Counter()
        self.input_errors = 0
        self.processor_errors = 0

    def record(self, event: Event) -> None:
        """Count one event a connection reported."""
        if isinstance(event, InputError):
            self.input_errors += 1
        elif isinstance(event, ProcessorError):
            self.processor_errors += 1
        elif isinstance(event, Disconnected):
            self._disconnects[event.reason] += 1

    def connection_closed(self, connection: _Counted) -> None:
        """Fold the counters of a connection that has ended into the totals."""
        self._closed["connections"] += 1
        for name in _COUNTERS:
            self._closed[name] += getattr(connection, name)

    def snapshot(
        self, accepted: int, live: Iterable[_Counted], budget: Budget | None = None
    ) -> ServerStats:
        """The totals so far, counting the ``live`` connections as they are now, and what
        ``budget`` counts buffered."""
        live = list(live)

        def total(name: str) -> int:
            counted: int = self._closed[name] + sum(getattr(c, name) for c in live)
            return counted

        return ServerStats(
            connections_accepted=accepted,
            connections_live=len(live),
            connections_closed=self._closed["connections"],
            messages_in=total("messages_in"),
            messages_out=total("messages_out"),
            bytes_in=total("bytes_in"),
            bytes_out=total("bytes_out"),
            dropped_in=total("dropped_in"),
            dropped_out=total("dropped_out"),
            input_errors=self.input_errors,
            processor_errors=self.processor_errors,
            buffered_bytes=0 if budget is None else budget.used,
            buffered_bytes_peak=0 if budget is None else budget.peak,
            reads_paused=0 if budget is None else budget.pauses,
            disconnects=dict(self._disconnects),
        )
