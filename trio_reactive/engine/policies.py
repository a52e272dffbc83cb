"""What happens when something goes wrong on one connection, and never beyond it.

* A bad frame: an :class:`~trio_reactive.events.InputError` event, the protocol's
  ``input_error`` hook may answer, and the connection stays open unless
  ``close_on_input_error``.  The first bad frame of a connection is logged at WARNING (a person
  poking the server by hand sees why a line was refused), the rest at DEBUG, so a peer sending
  garbage cannot flood the log.
* An oversize frame: reported the same way, then the connection closes (``FRAME_TOO_LARGE``):
  the stream cannot be framed past it.
* The processor raised: a :class:`~trio_reactive.events.ProcessorError` event, the
  ``processor_error`` hook may answer, and the connection stays open unless
  ``close_on_processor_error`` (a stream processor that raised has ended, so it closes).

Hook replies join the outbox's collected replies, so they leave in order with the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

from ..errors import EncodeError, FrameTooLarge
from ..events import DisconnectReason, InputError, ProcessorError

if TYPE_CHECKING:
    from .connection import Connection

__all__ = ["Policies", "collect"]

logger = logging.getLogger("trio_reactive")


class Policies:
    """The error policies of one connection (see the module docstring)."""

    __slots__ = ("_conn", "_input_errors")

    def __init__(self, connection: Connection) -> None:
        self._conn = connection
        self._input_errors = 0

    async def input_error(self, error: Exception) -> None:
        conn = self._conn
        self._input_errors += 1
        level = logging.WARNING if self._input_errors == 1 else logging.DEBUG
        if logger.isEnabledFor(level):
            more = " (more bad input from it is logged at DEBUG)" if level > logging.DEBUG else ""
            logger.log(level, "%s: bad input: %s%s", repr(conn.peer), error, more)
        await conn.emit(InputError(conn.peer, error))
        self._reply(conn.stage.side.input_error, error)
        if conn.config.close_on_input_error:
            conn.request_close(DisconnectReason.INPUT_ERROR, error)

    async def overflow(self, error: FrameTooLarge) -> None:
        await self.input_error(error)
        self._conn.request_close(DisconnectReason.FRAME_TOO_LARGE, error)

    async def processor_error(self, error: Exception) -> None:
        conn = self._conn
        logger.warning("%s: processor raised %r", repr(conn.peer), error, exc_info=error)
        await conn.emit(ProcessorError(conn.peer, error))
        self._reply(conn.stage.side.processor_error, error)
        if conn.config.close_on_processor_error:
            conn.request_close(DisconnectReason.PROCESSOR_ERROR, error)

    async def encode_errors(self) -> None:
        """Report replies the outbox could not encode (each was left out, the rest went)."""
        conn = self._conn
        errors = conn.outbox.encode_errors
        while errors:
            error = errors.pop(0)
            logger.warning("%s: dropped a reply that cannot be encoded: %s", repr(conn.peer), error)
            await conn.emit(ProcessorError(conn.peer, error))

    def _reply(self, hook: Callable[[Any], Any] | None, error: Exception) -> None:
        if hook is None:
            return
        conn = self._conn
        try:
            reply = hook(error)
        except Exception:
            logger.exception("%s: error hook raised for %r", repr(conn.peer), error)
            return
        if reply is not None:
            conn.outbox.replies.append(reply)


def collect(
    reply: Any, replies: list[Any], outbound: frozenset[type], declared: tuple[type, ...]
) -> None:
    """Add a handler's reply (a message, an iterable of messages, or None) to ``replies``.

    Anything else (a message this side does not send, a string) is an :class:`EncodeError`
    for the processor error policy, never a crash.
    """
    if reply is None:
        return
    if type(reply) in outbound:
        replies.append(reply)
        return
    if not isinstance(reply, (str, bytes, bytearray)) and not attrs.has(type(reply)):
        try:
            replies.extend(reply)
            return
        except TypeError:
            pass
    sends = ", ".join(cls.__name__ for cls in declared)
    raise EncodeError(
        f"a handler returned {reply!r}: expected one of the messages this side sends "
        f"({sends}), an iterable of them, or None"
    )
