"""Calling the user's event callback: sync or async, and never able to break the engine."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ..events import Event

__all__ = ["EventSink", "make_event_sink"]

logger = logging.getLogger("trio_reactive")

EventSink = Callable[[Event], Awaitable[None]]


def make_event_sink(on_event: Callable[[Event], Any] | None) -> EventSink:
    """Wrap a sync or async callback so that its failures are logged, never raised."""

    async def ignore(event: Event) -> None:
        return None

    if on_event is None:
        return ignore

    async def sink(event: Event) -> None:
        try:
            result = on_event(event)
            if inspect.isawaitable(result):
                await result
        except Exception:
            logger.exception("on_event callback raised for %r", event)

    return sink
