"""The inbound side of the current stage: batches decoded from reads, and a cursor over them.

Bytes come in by reads, each decoded at once into a :class:`~trio_reactive.wire.codec.Decoded`
batch.  A sync handler is run over a batch as soon as it is decoded; for stream processors and
async handlers batches wait in a bounded :class:`~trio_reactive.engine.queue.BatchQueue`.
Either way the cursor (the current batch and how many of its messages were handled) says where
handling stands, and :meth:`Inbound.unconsumed` gives the exact bytes not handled yet, frames
and partial frame alike, for the next stage's codec at a hand-over.

Who reads is not decided here: the connection's own task reads any trio stream; an outside
readiness source may hand bytes in the same way (:meth:`Inbound.decode`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..config import Config
from ..errors import DecodeError
from ..wire.codec import Decoded, Decoder
from .budget import Share
from .queue import BatchQueue

if TYPE_CHECKING:
    from .connection import Connection

__all__ = ["Inbound", "MessageStream"]

_NOTHING = Decoded([], None, b"", 0)


class Inbound:
    """One stage's input: its decoder, the queue, the cursor and the end of input."""

    __slots__ = (
        "_config",
        "backlog",
        "batch",
        "consumed",
        "decoder",
        "eof",
        "held",
        "queue",
        "serial",
        "share",
    )

    def __init__(self, config: Config, share: Share | None = None) -> None:
        self._config = config
        #: The connection's account in its server's buffer budget (None: a client's).
        self.share = share
        self.queue: BatchQueue[Decoded] = BatchQueue(1, 1)
        self.queue.close()
        self.batch = _NOTHING
        self.consumed = 0
        #: Batches taken from the queue after the current one, the next one last (a list: a
        #: deque's first block alone is 600 bytes, held by every idle connection).
        self.backlog: list[Decoded] = []
        #: A decoded batch waiting for room in the queue (the incoming retry policy applies).
        self.held: Decoded | None = None
        self.decoder: Decoder | None = None
        #: The peer's input has ended (EOF read).
        self.eof = False
        #: Counts stage entries, so that an old stage's message stream ends for good.
        self.serial = 0

    def enter(self, decoder: Decoder) -> None:
        """A stage starts: decode with ``decoder``, with a fresh queue and an empty cursor."""
        config = self._config
        self.decoder = decoder
        # Open even after the end of input: the bytes the last stage left go in first; the
        # next read meets the end again and closes it.
        self.queue = BatchQueue(
            config.incoming_capacity, config.incoming_capacity_bytes, self.share
        )
        self.batch = _NOTHING
        self.consumed = 0
        self.backlog.clear()
        self.held = None
        self.serial += 1

    def decode(self, data: bytes | bytearray) -> Decoded:
        assert self.decoder is not None
        return self.decoder.decode(data)

    def finish(self) -> Decoded | None:
        """The input has ended: what the partial frame still makes (a last line, or a
        :class:`~trio_reactive.errors.DecodeError` saying the input ended inside a frame)."""
        if self.decoder is None:
            return None
        final = self.decoder.finish()
        return final if final.messages else None

    def make_current(self, batch: Decoded) -> None:
        self.batch = batch
        self.consumed = 0

    async def next_batch(self) -> bool:
        """Make the next queued batch current; False once input has ended (or the stage)."""
        if self.backlog:
            self.make_current(self.backlog.pop())
            return True
        batches = await self.queue.take_all()  # cancelled: nothing is taken
        if not batches:
            return False
        self.make_current(batches[0])
        if len(batches) > 1:
            self.backlog = batches[:0:-1]
        return True

    def unconsumed(self) -> bytes:
        """The exact bytes read and not handled: what the next stage must frame afresh."""
        if self.decoder is None:
            return b""
        batches = [self.batch, *reversed(self.backlog), *self.queue.take_all_nowait()]
        if self.held is not None:
            batches.append(self.held)
        self.backlog.clear()
        self.held = None
        data = self.decoder.unconsumed(batches, self.consumed)
        self.batch = _NOTHING
        self.consumed = 0
        return data

    def unhandled(self) -> bool:
        """Whether any complete message or byte is still waiting."""
        if self.consumed < len(self.batch.messages) or self.backlog or self.queue.weight:
            return True
        return self.held is not None

    def release(self) -> None:
        """Drop every buffer (the connection has ended)."""
        self.queue.take_all_nowait()
        self.queue.close()
        self.batch = _NOTHING
        self.backlog.clear()
        self.held = None
        self.decoder = None


class MessageStream:
    """The messages of one stage, as a stream processor iterates them.

    Its position lives in the connection, so it is cancel-safe: a timeout around ``anext``
    (``with trio.move_on_after(...)``) loses no message, and iteration can go on afterwards.
    It ends at a transition, a close, or the end of input; bad frames are reported and skipped.
    """

    __slots__ = ("_conn", "_serial")

    def __init__(self, connection: Connection) -> None:
        self._conn = connection
        self._serial = connection.inbound.serial

    def __aiter__(self) -> MessageStream:
        return self

    async def __anext__(self) -> Any:
        conn = self._conn
        inbound = conn.inbound
        while True:
            if conn.stage_over or inbound.serial != self._serial:
                raise StopAsyncIteration
            batch = inbound.batch
            messages = batch.messages
            index = inbound.consumed
            if index < len(messages):
                message = messages[index]
                inbound.consumed = index + 1
                if type(message) is DecodeError:
                    await conn.policies.input_error(message)
                    await conn.move_replies()
                    continue
                conn.messages_in += 1
                return message
            if batch.overflow is not None:
                await conn.policies.overflow(batch.overflow)
                await conn.move_replies()
                raise StopAsyncIteration
            if not await inbound.next_batch():
                if inbound.serial == self._serial and not conn.stage_over:
                    conn.saw_end_of_input = True
                raise StopAsyncIteration
