"""The shared poller: one task waits on one epoll (or kqueue) for many plain sockets.

With many connections the cost is the wake-up, not the work: a task per connection is a task
switch, a ``wait_readable`` and a scheduler pass per ready socket.  A :class:`Poller` is one
task that awaits readiness of a single epoll descriptor, then serves every ready socket
inline — one non-blocking read each, decoded, handled by a sync handler and answered with a
non-blocking write, with no task switch (``PolledSource.on_readable`` in :mod:`.sources`).
Whatever needs an await (a full queue, an event, a stage change, the end of input) is handed
to the connection's own task, and the socket is not polled again until that task is done.

With one socket watched, epoll's readiness already names it: the round reads it with no
``poll`` (a lone busy connection pays one system call less per read).

Fair: at most one read per ready connection per round, at most ``max_events`` connections a
round, and a trio checkpoint between rounds, so the rest of the program runs.  Isolated: a
connection whose serving raises is aborted and logged; the poller and every other connection go
on.

A server has one poller for its connections; clients share one per trio run.  Where the
system has neither epoll nor kqueue (Windows), or for streams that are not plain sockets (TLS),
each connection reads with its own task instead.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
from typing import Any, Protocol

import trio

__all__ = ["Poller", "Readiness", "client_poller", "poller_available"]

logger = logging.getLogger("trio_reactive")

_kq: Any = select

#: Most connections served in one round before the poller lets other tasks run.
MAX_EVENTS = 256


class Readiness(Protocol):
    """What the poller calls when a watched socket is readable (see :mod:`.sources`)."""

    def on_readable(self) -> None: ...

    def on_failure(self, error: Exception) -> None: ...


def poller_available() -> bool:
    """Whether this system has a readiness API the poller can use."""
    return os.name == "posix" and (hasattr(select, "epoll") or hasattr(select, "kqueue"))


class _Epoll:
    #: Readable means a watched socket is: with one watched, no ``poll`` need say which.  (An
    #: epoll's own readiness is re-checked against its sockets; a kqueue's is not.)
    readable_names_one = True

    def __init__(self) -> None:
        self._epoll = select.epoll()

    def fileno(self) -> int:
        return self._epoll.fileno()

    def add(self, fd: int) -> None:
        try:
            self._epoll.register(fd, select.EPOLLIN)
        except FileExistsError:
            self._epoll.modify(fd, select.EPOLLIN)

    def remove(self, fd: int) -> None:
        with contextlib.suppress(OSError, ValueError):  # closed already: the system dropped it
            self._epoll.unregister(fd)

    def ready(self, limit: int) -> list[int]:
        return [fd for fd, _ in self._epoll.poll(0, limit)]

    def close(self) -> None:
        self._epoll.close()


class _Kqueue:
    """macOS and the BSDs (``select``'s kqueue names exist there only, hence ``_kq``)."""

    readable_names_one = False

    def __init__(self) -> None:
        self._kqueue = _kq.kqueue()

    def fileno(self) -> int:
        return int(self._kqueue.fileno())

    def _control(self, fd: int, flags: int) -> None:
        self._kqueue.control([_kq.kevent(fd, _kq.KQ_FILTER_READ, flags)], 0)

    def add(self, fd: int) -> None:
        self._control(fd, _kq.KQ_EV_ADD)

    def remove(self, fd: int) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._control(fd, _kq.KQ_EV_DELETE)

    def ready(self, limit: int) -> list[int]:
        return [int(event.ident) for event in self._kqueue.control(None, limit, 0)]

    def close(self) -> None:
        self._kqueue.close()


class Poller:
    """See the module docstring.  :meth:`run` is its task; connections :meth:`watch`."""

    def __init__(self, max_events: int = MAX_EVENTS) -> None:
        self._backend = _Epoll() if hasattr(select, "epoll") else _Kqueue()
        self._watched: dict[int, Readiness] = {}
        self._max_events = max_events
        self.running = False
        #: When the current round began (trio's clock), read once a round: a read's time stamp.
        self.round_at = 0.0

    def watch(self, fd: int, reader: Readiness) -> None:
        """Poll ``fd`` and call ``reader`` while it is readable (until :meth:`unwatch`)."""
        self._watched[fd] = reader
        self._backend.add(fd)

    def unwatch(self, fd: int, reader: Readiness) -> None:
        """Stop polling ``fd`` for ``reader`` (a number reused by another socket is kept)."""
        if self._watched.get(fd) is reader:
            del self._watched[fd]
            self._backend.remove(fd)

    async def run(self, task_status: trio.TaskStatus[Poller] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve ready sockets until cancelled."""
        backend = self._backend
        fileno = backend.fileno()
        watched = self._watched
        limit = self._max_events
        ready = backend.ready
        wait_readable = trio.lowlevel.wait_readable
        clock = trio.lowlevel.current_clock().current_time
        self.running = True
        task_status.started(self)
        try:
            while True:
                await wait_readable(fileno)
                self.round_at = clock()
                # A lone watched socket (one busy connection) is read without asking which.
                lone = backend.readable_names_one and len(watched) == 1
                for fd in [*watched] if lone else ready(limit):
                    reader = watched.get(fd)
                    if reader is None:
                        continue
                    try:
                        reader.on_readable()
                    except Exception as exc:  # one connection's failure stays its own
                        logger.exception("serving a ready connection failed; aborting it")
                        self.unwatch(fd, reader)
                        reader.on_failure(exc)
        finally:
            self.running = False
            watched.clear()
            backend.close()


_CLIENT_POLLER: trio.lowlevel.RunVar[Poller] = trio.lowlevel.RunVar("trio_reactive_poller")


def client_poller() -> Poller:
    """The poller this trio run's client connections share, started on first use."""
    try:
        poller = _CLIENT_POLLER.get()
    except LookupError:
        poller = None
    if poller is None or not poller.running:
        poller = Poller()
        _CLIENT_POLLER.set(poller)
        poller.running = True
        trio.lowlevel.spawn_system_task(poller.run, name="trio_reactive client poller")
    return poller
