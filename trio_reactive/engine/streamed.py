"""A stage whose processor runs in a task of its own: stream processors and async handlers.

The connection's task reads and decodes, and queues each batch (the incoming retry policy
applies when the queue is full; the batch waiting for room stays in the cursor's reach, so a
stage change hands it over).  The processor task iterates a
:class:`~trio_reactive.engine.inbound.MessageStream` over the queue.  Reading stops when the
processor ends (its stage is over), at the end of input, or past an oversize frame, which only
a stage change (the next stage framing the bytes afresh) can get past.

The processor shapes:

* responsive (an async generator): each value it yields is sent;
* unresponsive (a coroutine): it sends with ``peer.send``;
* async per-message handler: its reply (a message, an iterable, or None) is sent.

A processor that raises has ended: the processor error policy reports it, and the connection
closes (``PROCESSOR_ERROR``).  ``ConnectionClosed`` out of a processor just ends it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import aclosing
from typing import TYPE_CHECKING, Any

import trio

from .._unwrap import lone_exception
from ..errors import ConnectionClosed
from ..events import DisconnectReason
from ..processor import Adapted, Kind
from ..wire.codec import Decoded
from .inbound import MessageStream
from .policies import collect
from .retry import Outcome, wait_for_room

if TYPE_CHECKING:
    from ..stage import CompiledStage
    from .connection import Connection

__all__ = ["run_streamed_stage"]


async def run_streamed_stage(conn: Connection, stage: CompiledStage, first: Decoded | None) -> None:
    """Run ``stage``'s processor in a task while this task feeds it, until the stage ends."""
    done = trio.Event()
    with lone_exception():  # what the processor raises leaves as itself
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_run_processor, conn, stage.processor, done)
            with conn.reading:
                if first is not None:
                    await _queue(conn, first, 0)
                if first is None or first.overflow is None:
                    await _read_into_queue(conn, done)
                if not (conn.inbound.eof and conn.closes_on_end_of_input):
                    await done.wait()
            if conn.inbound.eof and conn.closes_on_end_of_input:
                # A caller-driven client: report the end now; the caller may still receive
                # what was read before it, and leaves its block in its own time.
                conn.end(DisconnectReason.PEER_CLOSED)
                await conn.close()
            elif conn.closing:
                await conn.close()
                nursery.cancel_scope.cancel()


async def _read_into_queue(conn: Connection, done: trio.Event) -> None:
    inbound = conn.inbound

    def fast(batch: Decoded, size: int) -> bool:
        if not (batch.messages or batch.overflow is not None):
            return True  # no whole frame yet: its bytes wait in the decoder
        weight = len(batch.messages)
        return batch.overflow is None and inbound.queue.put_nowait(batch, weight, size)

    while not (done.is_set() or conn.stage_over):
        read = await conn.source.next(fast)
        if read is None:
            final = inbound.finish() if inbound.eof else None
            if final is not None:
                await _queue(conn, final, 0, closing=True)
            return
        batch, size = read
        await _queue(conn, batch, size)
        if batch.overflow is not None:
            return  # past an oversize frame only a stage change lets reading go on


async def _queue(conn: Connection, batch: Decoded, size: int, *, closing: bool = False) -> None:
    """Queue ``batch`` as the incoming retry policy says (``closing``: the last one, queued
    after the end of input closed the queue)."""
    inbound = conn.inbound
    weight = len(batch.messages) or 1
    if closing:
        inbound.queue.force_closed(batch, weight, size)
        return
    if inbound.queue.put_nowait(batch, weight, size):
        return
    inbound.held = batch
    while inbound.held is batch:
        outcome = await wait_for_room(inbound.queue, conn.config.incoming_retry)
        if inbound.held is not batch or inbound.queue.closed:
            return  # taken by a stage change, or closing
        if outcome is Outcome.ROOM:
            if inbound.queue.put_nowait(batch, weight, size):
                inbound.held = None
        elif outcome is Outcome.DROP:
            inbound.held = None
            conn.count_dropped_in(len(batch.messages))
        else:
            inbound.held = None
            conn.request_close(DisconnectReason.SLOW_PEER)


async def _run_processor(conn: Connection, processor: Adapted, done: trio.Event) -> None:
    peer = conn.peer
    messages = MessageStream(conn)
    try:
        if processor.kind is Kind.RESPONSIVE:
            async with aclosing(processor.function(peer, messages)) as replies:
                async for reply in replies:
                    await conn.send(reply)
        elif processor.kind is Kind.UNRESPONSIVE:
            await processor.function(peer, messages)
        else:
            await _run_async_handler(conn, processor.function, messages)
    except ConnectionClosed:
        pass
    except Exception as exc:
        await conn.policies.processor_error(exc)
        await conn.move_replies()
        conn.request_close(DisconnectReason.PROCESSOR_ERROR, exc)
    finally:
        conn.stage_over = True
        done.set()
        conn.reading.cancel()


async def _run_async_handler(
    conn: Connection, handler: Callable[..., Awaitable[Any]], messages: MessageStream
) -> None:
    peer = conn.peer
    side = conn.stage.side
    outbound = frozenset(side.outbound)
    replies = conn.outbox.replies
    async for message in messages:
        try:
            collect(await handler(peer, message), replies, outbound, side.outbound)
        except Exception as exc:
            await conn.policies.processor_error(exc)
        await conn.move_replies()
