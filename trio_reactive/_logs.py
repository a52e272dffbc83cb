"""Logging that an attacker cannot turn into a flood.

A server under attack repeats the same failure many times a second (``accept()`` out of file
descriptors, one bad frame after another).  Each repetition is worth nothing once the first has
been seen, but every line costs disk, and a flood hides the lines that matter.  A
:class:`RateLimitedLog` writes the first line of each kind, drops the repeats for ``interval``
seconds, and says on the next line it writes how many it dropped, so nothing is hidden silently.

It is cheap enough for a hot error path: a repeat inside the interval costs one clock read and
one dict look-up, no formatting.  With ``interval=math.inf`` it logs each kind once for its
lifetime ("once per connection" is one instance per connection).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from typing import Any

import trio

__all__ = ["RateLimitedLog"]


class RateLimitedLog:
    """Log through ``logger`` at most one line of each kind per ``interval`` seconds.

    ``clock`` defaults to trio's, so tests with the autojump clock see the limit exactly.  Kinds
    should come from a small set (a format string, an errno, an error class), as each one is
    remembered.
    """

    __slots__ = ("_clock", "_kinds", "interval", "logger")

    def __init__(
        self,
        logger: logging.Logger,
        interval: float = 10.0,
        *,
        clock: Callable[[], float] = trio.current_time,
    ) -> None:
        self.logger = logger
        self.interval = interval
        self._clock = clock
        #: key -> [time the last line was written, repeats dropped since then]
        self._kinds: dict[Hashable, list[Any]] = {}

    def log(
        self, level: int, message: str, *args: Any, key: Hashable = None, **kwargs: Any
    ) -> bool:
        """Write ``message % args`` unless a line of its kind was written within the interval.

        The kind is ``key``, or the ``message`` format itself when there is none.  Returns
        whether the line was written; one that follows dropped repeats ends with
        ``(N similar lines suppressed)``.
        """
        kind_key = message if key is None else key
        now = self._clock()
        kind = self._kinds.get(kind_key)
        if kind is not None and now - kind[0] < self.interval:
            kind[1] += 1
            return False
        suppressed = 0 if kind is None else kind[1]
        self._kinds[kind_key] = [now, 0]
        if suppressed:
            message = f"{message} ({suppressed} similar lines suppressed)"
        self.logger.log(level, message, *args, **kwargs)
        return True

    def error(self, message: str, *args: Any, key: Hashable = None, **kwargs: Any) -> bool:
        return self.log(logging.ERROR, message, *args, key=key, **kwargs)

    def warning(self, message: str, *args: Any, key: Hashable = None, **kwargs: Any) -> bool:
        return self.log(logging.WARNING, message, *args, key=key, **kwargs)

    def suppressed(self, key: Hashable) -> int:
        """How many lines of kind ``key`` were dropped since the last one written."""
        kind = self._kinds.get(key)
        return 0 if kind is None else int(kind[1])
