"""What the reader hands on: decoded batches, and the message stream a processor iterates."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import DecodeError, FrameTooLarge
from .wire.framing import Framer

if TYPE_CHECKING:
    from .connection import Connection

__all__ = ["Batch", "MessageStream"]


class Batch:
    """Messages decoded from one read, and the bytes they came from (for stage transitions)."""

    __slots__ = ("chunk_start", "data", "framer", "messages", "overflow")

    def __init__(
        self,
        messages: list[Any],
        data: bytes,
        chunk_start: int,
        framer: Framer,
        overflow: FrameTooLarge | None,
    ) -> None:
        self.messages = messages
        self.data = data
        self.chunk_start = chunk_start
        self.framer = framer
        self.overflow = overflow


class MessageStream:
    """The messages of one stage, as a stream processor iterates them.

    Its position lives in the connection, so it is cancel-safe: a timeout around ``anext``
    (``with trio.move_on_after(...)``) loses no message, and iteration can go on afterwards.
    It ends at a transition, a close, or the end of input; bad frames are reported and skipped.
    """

    __slots__ = ("_conn", "_serial")

    def __init__(self, connection: Connection) -> None:
        self._conn = connection
        self._serial = connection._stage_serial

    def __aiter__(self) -> MessageStream:
        return self

    async def __anext__(self) -> Any:
        conn = self._conn
        while True:
            if conn._stage_ending or conn._stage_serial != self._serial:
                raise StopAsyncIteration
            batch = conn._current
            messages = batch.messages
            index = conn._consumed
            if index < len(messages):
                message = messages[index]
                conn._consumed = index + 1
                if type(message) is DecodeError:
                    await conn._reject(message)
                    continue
                conn.messages_in += 1
                return message
            if batch.overflow is not None:
                await conn._on_overflow(batch.overflow)
                raise StopAsyncIteration
            if not await conn._next_batch():
                raise StopAsyncIteration
