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
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
from typing_extensions import TypeAliasType

from ._typing import In, Out
from .errors import ProtocolDefinitionError

if TYPE_CHECKING:
    from .engine.peer import Peer

__all__ = ["Kind", "Processor", "adapt", "check_signature", "per_message"]

F = TypeVar("F", bound=Callable[..., Any])

Processor = TypeAliasType(
    "Processor",
    Callable[["Peer[Out]", AsyncIterator[In]], AsyncIterator[Out]]
    | Callable[["Peer[Out]", AsyncIterator[In]], Awaitable[None]]
    | Callable[["Peer[Out]", In], Out | Iterable[Out] | None]
    | Callable[["Peer[Out]", In], Awaitable[Out | Iterable[Out] | None]],
    type_params=(In, Out),
)
"""A processor, in one of four shapes: an async generator ``(peer, messages)`` whose yields
are sent; a coroutine ``(peer, messages)`` replying with ``peer.send``; a sync function
``(peer, message)`` returning a reply, replies or ``None``; an ``async def (peer, message)``
marked with :func:`per_message`.  Checked when the service is built.

``Processor[In, Out]`` receives ``In`` and sends ``Out`` through a ``Peer[Out]``: a server's
processor for a ``Protocol[ClientMsg, ServerMsg]`` is a ``Processor[ClientMsg, ServerMsg]``, a
client's a ``Processor[ServerMsg, ClientMsg]``; the entry points infer both from the
protocol, so a handler that returns or sends the wrong message is a type error."""

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
    """Classify a processor once, when the service is built, and refuse one that cannot work.

    A processor is called with two positional arguments, ``(peer, messages)`` or ``(peer,
    message)``; one that cannot take them is refused here, with what to change, instead of
    failing at every message later.
    """
    if isinstance(processor, Adapted):
        return processor
    if not callable(processor):
        raise ProtocolDefinitionError(f"a processor must be callable, got {processor!r}")
    target = getattr(processor, "__call__", processor)  # noqa: B004 - callable objects too
    if inspect.isasyncgenfunction(processor) or inspect.isasyncgenfunction(target):
        adapted = Adapted(Kind.RESPONSIVE, processor)
    else:
        is_coroutine = inspect.iscoroutinefunction(processor) or inspect.iscoroutinefunction(
            target
        )
        if getattr(processor, _PER_MESSAGE, False):
            adapted = Adapted(Kind.ASYNC_HANDLER if is_coroutine else Kind.HANDLER, processor)
        elif is_coroutine:
            adapted = Adapted(Kind.UNRESPONSIVE, processor)
        else:
            adapted = Adapted(Kind.HANDLER, processor)
    check_signature(adapted)
    return adapted


#: Second-parameter names that say "one message", for an ``async def`` taken as a stream.
_ONE_MESSAGE_NAMES = frozenset(
    {"message", "msg", "request", "req", "command", "cmd", "event", "item", "frame", "packet"}
)


def _name(function: Callable[..., Any]) -> str:
    return getattr(function, "__qualname__", None) or repr(function)


def _parameters(function: Callable[..., Any]) -> inspect.Signature | None:
    """The signature, annotations resolved where possible (``None``: not introspectable)."""
    try:
        return inspect.signature(function, eval_str=True)
    except (NameError, TypeError, SyntaxError):
        pass
    try:
        return inspect.signature(function)
    except (TypeError, ValueError):
        return None  # a builtin without a signature: trust it


def _is_stream_annotation(annotation: Any) -> bool | None:
    """Whether an annotation says "a stream of messages" (``None``: it says nothing)."""
    if annotation is inspect.Parameter.empty or annotation is Any:
        return None
    text = annotation if isinstance(annotation, str) else repr(annotation)
    if "AsyncIter" in text or "AsyncGenerator" in text or "MessageStream" in text:
        return True
    if isinstance(annotation, str):
        return None  # an unresolved name: too little to go on
    return False


def check_signature(adapted: Adapted) -> None:
    """Refuse a processor that cannot be called as its kind is, saying what to change."""
    function = adapted.function
    signature = _parameters(function)
    if signature is None:
        return
    name = _name(function)
    stream = adapted.kind in (Kind.RESPONSIVE, Kind.UNRESPONSIVE)
    shape = "(peer, messages)" if stream else "(peer, message)"
    try:
        bound = signature.bind(object(), object())
    except TypeError as exc:
        raise ProtocolDefinitionError(
            f"processor {name}{signature} cannot be called as {shape} ({exc}): a processor "
            f"takes exactly two positional parameters, the peer and "
            f"{'the stream of messages' if stream else 'one message'}"
        ) from None
    second = [
        signature.parameters[key]
        for key in bound.arguments
        if signature.parameters[key].kind is not inspect.Parameter.VAR_POSITIONAL
    ]
    if len(second) < 2:
        return  # (*args) or (peer, *rest): nothing to read from a name
    parameter = second[1]
    says_stream = _is_stream_annotation(parameter.annotation)
    if adapted.kind is Kind.UNRESPONSIVE and (
        says_stream is False or (says_stream is None and parameter.name in _ONE_MESSAGE_NAMES)
    ):
        raise ProtocolDefinitionError(
            f"processor {name}{signature} looks like a per-message handler (its second "
            f"parameter is {parameter.name!r}), but an async def is given the stream of "
            f"messages unless marked: decorate it with @trio_reactive.per_message to be "
            f"called once per message, or take `messages` and iterate with `async for`"
        )
    if not stream and says_stream:
        kind = "a sync function" if adapted.kind is Kind.HANDLER else "an @per_message handler"
        raise ProtocolDefinitionError(
            f"processor {name}{signature} takes a stream ({parameter.name!r}), but {kind} is "
            f"called once per message: make it an async def (an async generator yields "
            f"replies) without @per_message to be given the stream"
        )
