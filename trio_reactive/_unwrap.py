"""Exceptions that stay themselves across the nurseries inside public calls.

Trio wraps whatever leaves a nursery in an :class:`ExceptionGroup`, even a lone exception.  A
nursery inside ``async with connect(...)``, ``run_client`` or ``run_processor`` is an
implementation detail: a caller who writes ``except ValueError`` or ``except ConnectionClosed``
around the call must see the exception their own code (or the library) raised, not a group of
one.  Several exceptions at once are a real group and stay one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import NoReturn

__all__ = ["lone_exception", "unwrap", "unwrapped"]


def unwrap(error: BaseException) -> BaseException:
    """The exception a group of one stands for; else ``error`` itself.

    One level only: each of our nurseries adds one level, and a group the caller's own code
    raised inside it must come out as that group.
    """
    if isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        return error.exceptions[0]
    return error


def _reraise(error: BaseException) -> NoReturn:
    """Raise ``error`` without chaining the group it came out of as its ``__context__``.

    The group holds ``error`` itself, so keeping it as the context would print the same
    traceback twice; the error's own context (from the caller's code) is kept as it was.
    """
    context = error.__context__
    try:
        raise error
    finally:
        error.__context__ = context
        del error, context


@contextmanager
def lone_exception() -> Iterator[None]:
    """Around an internal nursery: let a lone exception out as itself, keep real groups."""
    try:
        yield
    except BaseExceptionGroup as group:
        error = unwrap(group)
        if error is group:
            raise
        _reraise(error)


async def unwrapped(function: Callable[[], Awaitable[None]]) -> None:
    """Run a task whose own nursery would wrap a lone exception, and let it out as itself."""
    with lone_exception():
        await function()
