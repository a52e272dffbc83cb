"""A sync handler's stage, run in the connection's own task: read, decode, handle, reply.

This is the fast path.  Per read: one receive, one decode of the whole read, the handler over
every message, one encode of every reply and one non-blocking write — no coroutine per message,
and in the common case (:meth:`InlineStage.handle_at_once`) none per read beyond the receive.

Memory stays bounded in the middle of a read: the handler runs over a batch in slices, each
sized so that its replies fit the room left in the outbox (judged from the reply bytes per
message seen so far).  When the outbox is full the outgoing retry policy applies before the
next slice, which is backpressure on the peer.

The handler stops at the message that ends the stage (``peer.goto`` or ``peer.close``): the
rest of the read is left in the cursor for the next stage.  A bad frame or a raising handler
stops the loop too, to be reported (an await) before it goes on from the next message.
"""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Any

from ..errors import DecodeError
from ..wire.codec import Decoded
from .policies import collect

if TYPE_CHECKING:
    from ..stage import CompiledStage
    from .connection import Connection

__all__ = ["InlineStage"]


class InlineStage:
    """The sync handler of one stage of one connection (see the module docstring)."""

    __slots__ = (
        "_capacity",
        "_conn",
        "_declared",
        "_frames",
        "_handled",
        "_handler",
        "_held",
        "_outbound",
        "_per_message",
        "_trouble",
    )

    def __init__(self, connection: Connection, stage: CompiledStage) -> None:
        self._conn = connection
        self._handler = stage.processor.function
        self._declared = stage.side.outbound
        self._outbound = stage.side.sends
        self._frames = connection.outbox.frames
        self._capacity = connection.config.outgoing_capacity_bytes
        #: Reply bytes per handled message, from the last slice with replies (None: unknown).
        self._per_message: float | None = None
        self._handled = 0
        self._trouble: Exception | None = None
        self._held: tuple[bytes, int] | None = None

    async def run(self, first: Decoded | None) -> None:
        """Handle ``first`` (bytes the last stage left), then every read, until the stage ends."""
        conn = self._conn
        if first is not None:
            await self.handle(first)
        inbound = conn.inbound
        fast = self.handle_at_once
        while not conn.stage_over:
            read = await conn.source.next(fast)
            if read is None:
                final = inbound.finish() if inbound.eof else None
                if final is not None:
                    await self.handle(final)
                return
            batch = read[0]
            if inbound.batch is not batch:  # the stage ended before it was offered
                inbound.make_current(batch)
            await self.handle(batch, started=True)

    def handle_at_once(self, batch: Decoded, size: int = 0) -> bool:
        """Handle a whole read and hand its replies to the outbox with no await at all.

        True when that worked: every message decoded, the handler neither raised nor ended the
        stage, and the outbox took the replies.  Otherwise the cursor, the collected replies and
        what stopped the handler are left for :meth:`handle` to go on from: nothing is handled
        or sent twice.  This is the stage's fast path for its source (``size``, the read's
        length, is not needed here).
        """
        conn = self._conn
        inbound = conn.inbound
        inbound.batch = batch
        inbound.consumed = 0
        messages = batch.messages
        count = len(messages)
        outbox = conn.outbox
        if count == 1 and batch.overflow is None:
            reply = self._handle_lone(messages[0])
            if reply is not None:
                # A lone reply (ping-pong's every one) is framed in one step where it can be.
                frame = self._frames.get(type(reply))
                if frame is None or outbox.replies:
                    outbox.replies.append(reply)
                else:
                    try:
                        data = frame(reply)
                    except Exception:
                        outbox.replies.append(reply)  # the batch way reports what is wrong
                    else:
                        self._per_message = len(data)
                        if outbox.offer(data, 1):
                            return not outbox.encode_errors
                        self._held = (data, 1)
                        return False
            elif self._trouble is not None:
                return False
        else:
            if batch.overflow is not None or count > self._slice():
                return False
            trouble = self._run_slice(count)
            if trouble is not None:
                self._trouble = trouble
                return False
        if conn.stage_over:
            return False
        encoded = outbox.take_replies()
        if encoded is None:
            return not outbox.encode_errors
        self._learn(encoded[0])
        if outbox.encode_errors or not outbox.offer(*encoded):
            self._held = encoded
            return False
        return True

    def _handle_lone(self, message: Any) -> Any:
        """:meth:`_run_slice` for a read of one message, minus the slicing: it always fits.

        Returns the handler's reply when it is one message this side sends, for the caller to
        frame, and nothing is left to report; else None, with anything else it returned
        collected, and what needs reporting (a bad frame, a raise) in ``_trouble``.
        """
        if type(message) is DecodeError:
            self._trouble = message
            reply = None
        else:
            conn = self._conn
            try:
                reply = self._handler(conn.peer, message)
                if reply is not None and type(reply) not in self._outbound:
                    collect(reply, conn.outbox.replies, self._outbound, self._declared)
                    reply = None
            except Exception as exc:
                self._trouble = exc
                reply = None
            if conn.stage_over and reply is not None:
                conn.outbox.replies.append(reply)
                reply = None
            conn.messages_in += 1  # a bad frame is reported, not counted as a message
        self._handled = 1
        self._conn.inbound.consumed = 1
        return reply

    async def handle(self, batch: Decoded, *, started: bool = False) -> None:
        """Handle ``batch`` from the cursor on, with every await the slow cases need."""
        conn = self._conn
        inbound = conn.inbound
        if not started:
            inbound.make_current(batch)
        messages = batch.messages
        while True:
            await self._settle()
            if conn.stage_over:
                return
            left = len(messages) - inbound.consumed
            if not left:
                break
            self._trouble = self._run_slice(min(left, self._slice()))
        if batch.overflow is not None:
            await conn.policies.overflow(batch.overflow)
            await self._settle()

    async def _settle(self) -> None:
        """Report what stopped the handler, then queue the replies collected so far."""
        conn = self._conn
        outbox = conn.outbox
        trouble = self._trouble
        if trouble is not None:
            self._trouble = None
            if type(trouble) is DecodeError:
                await conn.policies.input_error(trouble)
            else:
                await conn.policies.processor_error(trouble)
        held = self._held
        if held is None:
            held = outbox.take_replies()
            if held is not None:
                self._learn(held[0])
        self._held = None
        if outbox.encode_errors:
            await conn.policies.encode_errors()
        if held is not None and not outbox.offer(*held):
            await conn.put_slow(*held)

    def _slice(self) -> int:
        """How many messages the next slice may handle: what fits the outbox's room."""
        per_message = self._per_message
        if per_message is None:
            return 1
        if not per_message:
            return 1 << 30
        room = self._capacity - self._conn.outbox.pending_bytes
        return max(1, int(room / per_message))

    def _learn(self, data: bytes) -> None:
        if self._handled:
            self._per_message = len(data) / self._handled

    def _run_slice(self, limit: int) -> Exception | None:
        """Hand up to ``limit`` messages from the cursor to the handler, collecting replies.

        Stops early at a message that ends the stage, or that needs reporting: a bad frame or
        an exception, returned, counted as handled, for the caller to report.  The loop does
        nothing per message but call the handler and keep its reply; where it stopped is read
        once from the list iterator.
        """
        conn = self._conn
        inbound = conn.inbound
        messages = inbound.batch.messages
        start = inbound.consumed
        stop = min(start + limit, len(messages))
        remaining = iter(messages if not start and stop == len(messages) else messages[start:stop])
        handler = self._handler
        peer = conn.peer
        outbound = self._outbound
        replies: list[Any] = conn.outbox.replies
        append = replies.append
        trouble: Exception | None = None
        try:
            for message in remaining:
                if type(message) is DecodeError:
                    trouble = message
                    break
                reply = handler(peer, message)
                if reply is not None:
                    if type(reply) in outbound:
                        append(reply)
                    else:
                        collect(reply, replies, outbound, self._declared)
                if conn.stage_over:
                    break
        except Exception as exc:
            trouble = exc
        consumed = stop - operator.length_hint(remaining)
        self._handled = consumed - start
        # A bad frame is consumed and reported, not counted as a message (as a stream does).
        conn.messages_in += self._handled - (type(trouble) is DecodeError)
        inbound.consumed = consumed
        return trouble
