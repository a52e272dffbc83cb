"""Processor shapes, and the one internal form the engine runs.

The logic of a connection is a *processor*.  Four shapes are first-class:

* an async generator ``(peer, messages)``: what it yields is sent (responsive);
* a coroutine function ``(peer, messages)``: it replies with ``peer.send`` (unresponsive);
* a sync function ``(peer, message)`` returning a reply, an iterable of replies or ``None``: the
  fast path, run inline by the engine with no task hop and no await per message;
* an async function ``(peer, message)`` marked with :func:`per_message`.

A sync function is always a per-message handler; an ``async def`` is a stream processor unless
:func:`per_message` says otherwise, since the two cannot be told apart by signature.
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

if TYPE_CHECKING:
    from .engine.peer import Peer

__all__ = ["Kind", "Processor", "adapt", "per_message"]

F = TypeVar("F", bound=Callable[..., Any])

Processor = (
    Callable[["Peer", AsyncIterator[Any]], AsyncIterator[Any]]
    | Callable[["Peer", AsyncIterator[Any]], Awaitable[None]]
    | Callable[["Peer", Any], Any]
)

_PER_MESSAGE = "__trio_reactive_per_message__"


class Kind(enum.Enum):
    RESPONSIVE = "async generator (peer, messages): yields replies"
    UNRESPONSIVE = "coroutine (peer, messages): replies with peer.send"
    HANDLER = "sync handler (peer, message) -> reply | replies | None"
    ASYNC_HANDLER = "async handler (peer, message) -> reply | replies | None"

    @property
    def inline(self) -> bool:
        """Whether the engine runs it inside its reader, with no task hop."""
        return self is Kind.HANDLER


def per_message(function: F) -> F:
    """Mark an ``async def (peer, message)`` as a per-message handler (sync ones need no mark)."""
    setattr(function, _PER_MESSAGE, True)
    return function


@attrs.frozen
class Adapted:
    kind: Kind
    function: Callable[..., Any]


def adapt(processor: Processor) -> Adapted:
    """Classify a processor once, when the service is declared."""
    if isinstance(processor, Adapted):
        return processor
    if not callable(processor):
        raise TypeError(f"a processor must be callable, got {processor!r}")
    target = getattr(processor, "__call__", processor)  # noqa: B004 - callable objects too
    if inspect.isasyncgenfunction(processor) or inspect.isasyncgenfunction(target):
        return Adapted(Kind.RESPONSIVE, processor)
    is_coroutine = inspect.iscoroutinefunction(processor) or inspect.iscoroutinefunction(target)
    if getattr(processor, _PER_MESSAGE, False):
        return Adapted(Kind.ASYNC_HANDLER if is_coroutine else Kind.HANDLER, processor)
    if is_coroutine:
        return Adapted(Kind.UNRESPONSIVE, processor)
    return Adapted(Kind.HANDLER, processor)
