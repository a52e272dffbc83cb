"""The engine: one TCP connection, owned by a nursery, moving batches.

Three tasks per connection::

    reader ──(decoded batches)──► processor (the main task) ──(encoded replies)──► writer

* The **reader** decodes a whole ``receive_some`` at once.  A sync per-message handler runs right
  there, inline, with no task hop; other processor shapes get the batch through
  :class:`~trio_reactive._queue.BatchQueue`.
* The **main task** runs the stages of the service one after another, then closes.
* The **writer** takes everything queued and writes it with one ``send_all``.  When nothing is
  queued and the socket is free, a sync handler's replies are written by the reader itself,
  saving the hop to the writer for a lone message.

Nothing here awaits once per message: waits happen per network read, per queue drain, or on the
slow path of a full queue.

Stage transitions keep every byte: each batch remembers the bytes it was decoded from, so when a
stage ends the unconsumed remainder (the rest of the current batch, queued batches, a batch the
reader holds) is re-framed by the next stage's codec.
"""

from __future__ import annotations

import logging
import operator
import os
from collections import deque
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from typing import Any

import attrs
import trio

from ._callbacks import EventSink
from ._inbound import Batch, MessageStream
from ._queue import BatchQueue
from ._retry import Outcome, wait_for_room
from .composite import CompiledStage
from .config import Config, Strategy
from .errors import ConnectionClosed, DecodeError, EncodeError, FrameTooLarge, StageError
from .events import (
    Connected,
    Disconnected,
    DisconnectReason,
    InputError,
    PeerArrived,
    PeerLeft,
    ProcessorError,
    ServiceTerminating,
    StageStats,
)
from .peer import Peer
from .processor import Adapted, Kind

__all__ = ["Connection"]

logger = logging.getLogger("trio_reactive")

_NO_GOTO: Any = object()
#: Most bytes handed to one ``send_all``: bounds the copy made to coalesce a backlog.
_MAX_WRITE = 1 << 22
#: How long a graceful close of the stream (e.g. a TLS close_notify) may take.
_CLOSE_TIMEOUT = 1.0
_DISCONNECT_EVENT_TIMEOUT = 5.0


class Connection:
    """One connection's engine state; the public face of it is :class:`~trio_reactive.Peer`."""

    def __init__(
        self,
        stream: trio.abc.Stream,
        *,
        address: Any,
        stages: dict[Any, CompiledStage],
        initial: Any,
        router: Callable[[Peer], Any] | None,
        config: Config,
        emit: EventSink,
    ) -> None:
        self.stream = stream
        self.config = config
        self._stages = stages
        self._initial = initial
        self._router = router
        self._emit = emit
        self.peer = Peer(self, address)
        self.inbound: BatchQueue[Batch] = BatchQueue(
            config.incoming_capacity, config.incoming_capacity_bytes
        )
        self.outbound: BatchQueue[bytes] = BatchQueue(
            config.outgoing_capacity, config.outgoing_capacity_bytes
        )
        self.stage_key: Any = None
        self.closing = False
        self.messages_in = self.messages_out = self.bytes_in = self.bytes_out = 0
        self.dropped_in = self.dropped_out = 0
        self.reason: DisconnectReason | None = None
        self.error: BaseException | None = None
        self._eof = False
        self._goto: Any = _NO_GOTO
        self._stage_ending = False
        self._stage_done = trio.Event()
        self._stage_entered = trio.Event()
        self._gate: trio.Event | None = None
        self._in_hand: Batch | None = None
        self._backlog: deque[Batch] = deque()
        self._closed = trio.Event()
        self._writer_done = trio.Event()
        # Who writes to the socket: the writer task while it holds taken buffers, or a sync
        # handler's replies written straight from the reader when nothing else is pending.
        self._writer_holds = False
        self._direct_sending = False
        self._write_idle = trio.lowlevel.ParkingLot()
        self._direct_send_allowed = config.outgoing_retry.strategy is Strategy.WAIT
        # A plain TCP socket on a POSIX system can be written without a scheduler step.
        self._raw_socket = (
            stream.socket if isinstance(stream, trio.SocketStream) and os.name == "posix" else None
        )
        self._unsent = 0
        self._reader_scope = trio.CancelScope()
        self._writer_scope = trio.CancelScope()
        self._process_scope = trio.CancelScope()
        self._main_task: trio.lowlevel.Task | None = None
        self._stage: CompiledStage = stages[initial]
        self._stage_serial = 0
        self._enter(self._stage, b"")

    # ------------------------------------------------------------------ lifecycle

    async def run(self) -> None:
        """Run every stage, then flush and close; fire the connection events exactly once."""
        self._main_task = trio.lowlevel.current_task()
        await self._emit(Connected(self.peer))
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._write_loop)
                nursery.start_soon(self._read_loop)
                with self._process_scope:
                    await self._run_stages()
                await self._close(self.config.flush_timeout)
        except BaseException as exc:
            # Cancelled from outside (the server's nursery) or an engine failure: abort.
            self._set_reason(DisconnectReason.ABORTED, None if _is_cancelled(exc) else exc)
            raise
        finally:
            if not self._closed.is_set():
                with trio.CancelScope(shield=True):
                    await trio.aclose_forcefully(self.stream)
                self._closed.set()
            self.closing = True
            self.stage_key = None
            if self.reason is None:
                self.reason = (
                    DisconnectReason.PEER_CLOSED if self._eof else DisconnectReason.PROCESSOR_ENDED
                )
            with trio.move_on_after(_DISCONNECT_EVENT_TIMEOUT) as scope:
                scope.shield = True
                await self._emit(Disconnected(self.peer, self.reason, self.error))
            self.peer.session.clear()

    def _set_reason(self, reason: DisconnectReason, error: BaseException | None = None) -> None:
        if self.reason is None:
            self.reason = reason
            self.error = error

    def _request_close(self, reason: DisconnectReason, error: BaseException | None = None) -> None:
        """End the current stage and the connection after it; no more input is delivered."""
        self._set_reason(reason, error)
        self._stage_ending = True
        self._stage_done.set()
        self.inbound.close()  # wakes a processor waiting for input

    def close_soon(self) -> None:
        """Graceful close from anywhere, without waiting: see :meth:`Peer.close`."""
        self._request_close(DisconnectReason.CLOSED)

    async def flush_and_close(self, timeout: float | None = None) -> int:  # noqa: ASYNC109
        self._request_close(DisconnectReason.CLOSED)
        if trio.lowlevel.current_task() is not self._main_task:
            self._process_scope.cancel()
        await self._close(self.config.flush_timeout if timeout is None else timeout)
        return self._unsent

    async def shutdown(self, grace: float) -> None:
        """The service is terminating: tell the logic, let it flush within ``grace``, close."""
        self._set_reason(DisconnectReason.SHUTDOWN)
        await self._emit(ServiceTerminating(self.peer))
        await self.flush_and_close(grace)

    def abort(
        self,
        reason: DisconnectReason = DisconnectReason.ABORTED,
        error: BaseException | None = None,
    ) -> None:
        self._request_close(reason, error)
        self._unsent += self.outbound.clear()
        self.outbound.close()
        self._reader_scope.cancel()
        self._writer_scope.cancel()
        self._process_scope.cancel()

    async def _close(self, timeout: float) -> None:  # noqa: ASYNC109
        """Flush what is queued within ``timeout``, then close the stream (idempotent)."""
        if self.closing:
            await self._closed.wait()
            return
        self.closing = True
        self.inbound.close()
        self.outbound.close()
        try:
            with trio.move_on_after(timeout):
                await self._writer_done.wait()
                while self._direct_sending:
                    await self._write_idle.park()
            self._reader_scope.cancel()
            self._unsent += self.outbound.clear()
            self._writer_scope.cancel()
            with trio.move_on_after(_CLOSE_TIMEOUT) as scope:
                scope.shield = True
                await self.stream.aclose()
        finally:
            self._closed.set()

    # ------------------------------------------------------------------ stages

    def _enter(self, stage: CompiledStage, leftover: bytes) -> None:
        """Make ``stage`` current and decode ``leftover`` (bytes the last stage did not use)."""
        side = stage.side
        limit = self.config.max_message_size
        self._stage = stage
        self._stage_serial += 1
        self.stage_key = stage.key
        self._decoder = side.codec.decoder(limit)
        encoder = side.codec.encoder(limit)
        self.encode: Callable[[Any], bytes] = encoder.encode
        self._encode_batch = encoder.encode_batch
        self._outbound_types = frozenset(side.outbound)
        self._inline = stage.processor.kind.inline
        self._goto = _NO_GOTO
        self._stage_ending = False
        self._stage_done = trio.Event()
        self._current = self._decode(leftover)
        self._consumed = 0
        self._backlog.clear()
        entered, self._stage_entered = self._stage_entered, trio.Event()
        entered.set()

    async def _run_stages(self) -> None:
        stage = self._stage
        while True:
            started = trio.current_time()
            before = (self.messages_in, self.messages_out, self.bytes_in, self.bytes_out)
            await self._emit(PeerArrived(self.peer, stage.key))
            try:
                if self._inline:
                    await self._run_inline_stage()
                else:
                    await self._run_stream_stage(stage.processor)
            finally:
                stats = StageStats(
                    self.messages_in - before[0],
                    self.messages_out - before[1],
                    self.bytes_in - before[2],
                    self.bytes_out - before[3],
                    trio.current_time() - started,
                )
                with trio.CancelScope(shield=True):
                    await self._emit(PeerLeft(self.peer, stage.key, stats))
            if self.reason is not None or self._idle_after_eof(stats):
                return
            following = self._next_stage()
            if following is None:
                return
            self._enter(following, self._take_unconsumed())
            stage = following
            await trio.lowlevel.checkpoint()  # transitions can always be cancelled

    def _idle_after_eof(self, stats: StageStats) -> bool:
        """Input has ended and the stage did nothing: moving on could only loop, so stop."""
        if not self._eof or stats.messages_in or stats.messages_out:
            return False
        current = self._current
        unread = current.data[current.framer.offset_after(current.data, self._consumed) :]
        return not (unread or self._backlog or self.inbound.weight)

    def _next_stage(self) -> CompiledStage | None:
        key = self._goto
        if key is _NO_GOTO:
            key = self._router(self.peer) if self._router is not None else None
        if key is None:
            return None
        stage = self._stages.get(key)
        if stage is None:
            error = StageError(f"{self.peer!r}: no stage {key!r} in this service")
            logger.error("%s; closing the connection", error)
            self._set_reason(DisconnectReason.STAGE_ERROR, error)
        return stage

    def goto(self, key: Any) -> None:
        if key not in self._stages:
            raise StageError(f"no stage {key!r} in this service (it has {list(self._stages)})")
        self._goto = key
        self._stage_ending = True

    def _take_unconsumed(self) -> bytes:
        """The exact bytes read but not consumed by the stage that just ended."""
        current = self._current
        parts = [current.data[current.framer.offset_after(current.data, self._consumed) :]]
        pending = [*self._backlog, *self.inbound.take_all_nowait()]
        self._backlog.clear()
        if self._in_hand is not None:
            pending.append(self._in_hand)
            self._in_hand = None
        parts.extend(batch.data[batch.chunk_start :] for batch in pending)
        return b"".join(parts)

    async def _run_inline_stage(self) -> None:
        """A sync handler stage: the reader runs it; here we only replay unread input."""
        current = self._current
        if current.messages or current.overflow is not None:
            gate = self._gate = trio.Event()
            try:
                await self._handle_current()
            finally:
                self._gate = None
                gate.set()
        if not (self._stage_ending or self._eof):
            await self._stage_done.wait()

    async def _run_stream_stage(self, processor: Adapted) -> None:
        peer = self.peer
        messages = MessageStream(self)
        try:
            if processor.kind is Kind.RESPONSIVE:
                async with aclosing(processor.function(peer, messages)) as replies:
                    async for reply in replies:
                        data = self.encode(reply)
                        if self.outbound.put_nowait(data, 1, len(data)):
                            self.messages_out += 1
                        else:
                            await self.queue_outgoing_slow(data, 1)
            elif processor.kind is Kind.UNRESPONSIVE:
                await processor.function(peer, messages)
            else:
                await self._run_async_handler(processor.function, messages)
        except ConnectionClosed:
            pass
        except Exception as exc:
            replies_on_error: list[Any] = []
            await self._processor_error(exc, replies_on_error)
            await self._emit_replies(replies_on_error)
            self._request_close(DisconnectReason.PROCESSOR_ERROR, exc)

    async def _run_async_handler(
        self, handler: Callable[..., Awaitable[Any]], messages: MessageStream
    ) -> None:
        peer = self.peer
        async for message in messages:
            replies: list[Any] = []
            try:
                self._collect(await handler(peer, message), replies)
            except Exception as exc:
                await self._processor_error(exc, replies)
            if replies:
                await self._emit_replies(replies)

    # ------------------------------------------------------------------ inbound

    def _decode(self, data: bytes | bytearray) -> Batch:
        decoder = self._decoder
        overflow = None
        try:
            messages = decoder.decode_batch(data)
        except FrameTooLarge as exc:
            messages = decoder.decode_frames(exc.frames)
            overflow = exc
        framer = decoder.framer
        return Batch(messages, framer.examined, framer.chunk_start, framer, overflow)

    async def _read_loop(self) -> None:
        receive_some = self.stream.receive_some
        size = self.config.receive_size
        with self._reader_scope:
            try:
                while True:
                    data = await receive_some(size)
                    if self.closing:
                        return
                    if not data:
                        break
                    self.bytes_in += len(data)
                    batch = self._decode(data)
                    entered = self._stage_entered
                    if not self._inline:
                        await self._deliver_queued(batch)
                    elif self._gate is not None:
                        await self._deliver_inline(batch)
                    elif (rest := self._handle_at_once(batch)) is not None:
                        await self._handle_current(*rest)
                        await self._after_inline_batch()
                    if self.reason is not None:
                        return
                    if batch.overflow is not None:
                        # Past an oversize frame only a transition (which re-frames the
                        # bytes in the next stage's codec) lets reading go on.
                        await entered.wait()
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
                if not self.closing:
                    self.abort(DisconnectReason.RESET, exc)
                return
            except ConnectionClosed:
                return
            self._eof = True
            self.inbound.close()
            if self._inline:
                self._stage_done.set()

    async def _deliver_inline(self, batch: Batch) -> None:
        if self._gate is not None:
            self._in_hand = batch
            await self._gate.wait()
            if self._in_hand is not batch:
                return  # a transition took it, to replay it in the next stage
            self._in_hand = None
        self._current = batch
        self._consumed = 0
        await self._handle_current()
        await self._after_inline_batch()

    async def _after_inline_batch(self) -> None:
        """A sync handler's batch is done: if the stage ends, hand over and wait for the next."""
        if self._stage_ending and self.reason is None:
            entered = self._stage_entered
            self._stage_done.set()
            await entered.wait()

    def _handle_at_once(self, batch: Batch) -> tuple[list[Any], Exception | None] | None:
        """Handle a batch and write the replies with no await at all, in the common case.

        That is: every message decoded, the handler neither raised nor ended the stage, and the
        replies went out in one non-blocking write on a plain socket with nothing else queued.
        Then None.  Otherwise the replies collected so far and what stopped the handler, for
        :meth:`_handle_current` to go on from (a reply that cannot be encoded, too): nothing is
        handled or sent twice.  A request costs no coroutine at all this way, and as few calls
        as the shared pieces allow: this runs once per request under a ping-pong load.
        """
        self._current = batch
        self._consumed = 0
        replies: list[Any] = []
        trouble = self._run_handler(replies)
        if trouble is not None or self._stage_ending or batch.overflow is not None:
            return replies, trouble
        if not replies:
            return None
        sock = self._raw_socket
        if sock is None or not self._may_write_directly():
            return replies, None
        try:
            data = self._encode_batch(replies)
        except EncodeError:
            return replies, None
        if self._write_without_waiting(sock, data, len(replies)):
            return None
        return replies, None

    async def _handle_current(
        self, replies: list[Any] | None = None, trouble: Exception | None = None
    ) -> None:
        """Run the sync handler over the current batch, inline; stop at a transition.

        ``replies`` and ``trouble``: what :meth:`_handle_at_once` left, when it began the batch.
        """
        batch = self._current
        if replies is None:
            replies = []
            trouble = self._run_handler(replies)
        while trouble is not None:
            if type(trouble) is DecodeError:
                await self._input_error(trouble, replies)
            else:
                await self._processor_error(trouble, replies)
            if self._stage_ending:
                break
            trouble = self._run_handler(replies)
        if replies:
            await self._emit_replies(replies, direct=True)
        overflow = batch.overflow
        if (
            overflow is not None
            and self._consumed == len(batch.messages)
            and not self._stage_ending
        ):
            await self._on_overflow(overflow)

    def _run_handler(self, replies: list[Any]) -> Exception | None:
        """Hand the current batch's messages to the sync handler until one needs an await.

        Runs from ``_consumed`` to the end of the batch, or up to a message that ends the stage
        (the handler called ``goto`` or ``close``), or to one that needs reporting: a bad frame
        or an exception, returned, counted as consumed, for the caller to report.  The loop
        does nothing per message but call the handler and keep its reply; where it stopped is
        read once from the list iterator.
        """
        messages = self._current.messages
        start = self._consumed
        remaining = iter(messages[start:] if start else messages)
        handler = self._stage.processor.function
        peer = self.peer
        outbound_types = self._outbound_types
        append = replies.append
        trouble: Exception | None = None
        try:
            for message in remaining:
                if type(message) is DecodeError:
                    trouble = message
                    break
                reply = handler(peer, message)
                if reply is not None:
                    if type(reply) in outbound_types:
                        append(reply)
                    else:
                        self._collect(reply, replies)
                if self._stage_ending:
                    break
        except Exception as exc:
            trouble = exc
        consumed = len(messages) - operator.length_hint(remaining)
        self.messages_in += consumed - start
        self._consumed = consumed
        return trouble

    async def _deliver_queued(self, batch: Batch) -> None:
        weight = len(batch.messages) or 1
        if self.inbound.put_nowait(batch, weight, len(batch.data)):
            return
        self._in_hand = batch
        try:
            while True:
                outcome = await wait_for_room(self.inbound, self.config.incoming_retry)
                if self._in_hand is not batch or self.inbound.closed:
                    return  # taken by a transition, or closing
                if outcome is Outcome.ROOM:
                    if self.inbound.put_nowait(batch, weight, len(batch.data)):
                        return
                elif outcome is Outcome.DROP:
                    self._count_drop("in", len(batch.messages))
                    return
                else:
                    self._request_close(DisconnectReason.SLOW_PEER)
                    return
        finally:
            if self._in_hand is batch:
                self._in_hand = None

    async def _next_batch(self) -> bool:
        """Make the next decoded batch current; False once input has ended."""
        if self._backlog:
            self._current = self._backlog.popleft()
            self._consumed = 0
            return True
        batches = await self.inbound.take_all()  # cancelled: nothing is taken
        if not batches:
            return False
        self._current = batches[0]
        self._consumed = 0
        self._backlog.extend(batches[1:])
        return True

    # ------------------------------------------------------------------ errors

    def _collect(self, reply: Any, replies: list[Any]) -> None:
        """Add a handler's reply (a message, an iterable of messages, or None) to ``replies``.

        Anything else (a message this side does not send, a string) is an :class:`EncodeError`
        for the processor error policy, never a crash.
        """
        if reply is None:
            return
        if type(reply) in self._outbound_types:
            replies.append(reply)
            return
        if not isinstance(reply, (str, bytes, bytearray)) and not attrs.has(type(reply)):
            try:
                replies.extend(reply)
                return
            except TypeError:
                pass
        sends = ", ".join(cls.__name__ for cls in self._stage.side.outbound)
        raise EncodeError(
            f"a handler returned {reply!r}: expected one of the messages this side sends "
            f"({sends}), an iterable of them, or None"
        )

    def _reply_from_hook(
        self, hook: Callable[[Any], Any] | None, error: Any, replies: list[Any]
    ) -> None:
        if hook is None:
            return
        try:
            reply = hook(error)
        except Exception:
            logger.exception("%r: error hook raised for %r", self.peer, error)
            return
        if reply is not None:
            replies.append(reply)

    async def _input_error(self, error: Exception, replies: list[Any]) -> None:
        logger.debug("%r: undecodable input: %s", self.peer, error)
        await self._emit(InputError(self.peer, error))
        self._reply_from_hook(self._stage.side.input_error, error, replies)
        if self.config.close_on_input_error:
            self._request_close(DisconnectReason.INPUT_ERROR, error)

    async def _processor_error(self, error: Exception, replies: list[Any]) -> None:
        logger.warning("%r: processor raised %r", self.peer, error, exc_info=error)
        await self._emit(ProcessorError(self.peer, error))
        self._reply_from_hook(self._stage.side.processor_error, error, replies)
        if self.config.close_on_processor_error:
            self._request_close(DisconnectReason.PROCESSOR_ERROR, error)

    async def _reject(self, error: DecodeError) -> None:
        """A bad frame met by a stream processor: report it and send the hook's reply."""
        replies: list[Any] = []
        await self._input_error(error, replies)
        await self._emit_replies(replies)

    async def _on_overflow(self, error: FrameTooLarge) -> None:
        """An oversize frame: the stream cannot be trusted past it, so always close."""
        replies: list[Any] = []
        await self._input_error(error, replies)
        await self._emit_replies(replies)
        self._request_close(DisconnectReason.FRAME_TOO_LARGE, error)

    # ------------------------------------------------------------------ outbound

    async def _emit_replies(self, replies: list[Any], *, direct: bool = False) -> None:
        """Encode replies into one buffer and queue it; isolate a reply that cannot encode.

        ``direct``: the caller may write the buffer itself when nothing else is pending (see
        :meth:`_send_directly`).
        """
        if not replies:
            return
        try:
            data = self._encode_batch(replies)
            count = len(replies)
        except EncodeError:
            encoded = []
            for reply in replies:
                try:
                    encoded.append(self.encode(reply))
                except EncodeError as exc:
                    logger.warning("%r: dropped a reply that cannot be encoded: %s", self.peer, exc)
                    await self._emit(ProcessorError(self.peer, exc))
            data, count = b"".join(encoded), len(encoded)
            if not count:
                return
        if direct and await self._send_directly(data, count):
            return
        if self.outbound.put_nowait(data, count, len(data)):
            self.messages_out += count
        else:
            await self.queue_outgoing_slow(data, count)

    async def _send_directly(self, data: bytes, count: int) -> bool:
        """Write ``data`` from the calling task if the socket is free and nothing is queued.

        A sync handler's replies then skip the hop to the writer task: one scheduler pass less
        per message, which is most of a lone message's cost.  Order is kept because nothing
        older is pending; only the ``wait`` policy allows it, since a full socket blocks here.
        """
        if not self._may_write_directly():
            return False
        if self._raw_socket is not None:
            return self._write_without_waiting(self._raw_socket, data, count)
        self._direct_sending = True
        try:
            await self.stream.send_all(data)
        finally:
            self._direct_sending = False
            if self._write_idle:
                self._write_idle.unpark_all()
        self.messages_out += count
        self.bytes_out += len(data)
        return True

    def _may_write_directly(self) -> bool:
        """Nothing is queued or being written, and the policy lets a writer wait for the socket."""
        return (
            self._direct_send_allowed
            and not self._writer_holds
            and not self._direct_sending
            and not self.outbound.weight
            and not self.outbound.closed
        )

    async def queue_outgoing_slow(self, data: bytes, count: int) -> None:
        """The outgoing queue is full: follow the outgoing retry policy."""
        while True:
            if self.outbound.closed:
                raise ConnectionClosed(f"{self.peer!r} is closed")
            outcome = await wait_for_room(self.outbound, self.config.outgoing_retry)
            if outcome is Outcome.ROOM:
                if self.outbound.put_nowait(data, count, len(data)):
                    self.messages_out += count
                    return
            elif outcome is Outcome.DROP:
                self._count_drop("out", count)
                return
            else:
                self._request_close(DisconnectReason.SLOW_PEER)
                raise ConnectionClosed(f"{self.peer!r}: outgoing queue stayed full")

    def _count_drop(self, direction: str, count: int) -> None:
        """Count dropped messages; warn on the first drop only, so a flood cannot flood logs."""
        if not (self.dropped_in or self.dropped_out):
            logger.warning(
                "%r: queue full, dropping %s messages as the retry policy says (counted in "
                "dropped_in / dropped_out from now on)",
                self.peer,
                direction,
            )
        if direction == "in":
            self.dropped_in += count
        else:
            self.dropped_out += count

    def _write_without_waiting(self, sock: trio.socket.SocketType, data: bytes, count: int) -> bool:
        """One non-blocking write to the socket; what it does not take goes to the writer.

        No scheduler step at all when the kernel takes everything, which it does for a lone
        reply.  The descriptor is read at each call: a closed trio socket reports -1, so a
        write can never reach a descriptor number the system has given to someone else.
        """
        try:
            written = os.write(sock.fileno(), data)
        except BlockingIOError:
            written = 0
        except OSError:
            return False  # let the writer task meet the error and report it
        self.bytes_out += written
        if written < len(data):
            rest = data[written:]
            if not self.outbound.put_nowait(rest, count, len(rest)):
                return False  # closed meanwhile: the caller's normal path reports it
        self.messages_out += count
        return True

    async def _write_loop(self) -> None:
        send_all = self.stream.send_all
        try:
            with self._writer_scope:
                while True:
                    items = await self.outbound.take_all()
                    if not items:
                        return
                    self._writer_holds = True
                    while self._direct_sending:
                        await self._write_idle.park()
                    for data in _coalesce(items):
                        await send_all(data)
                        self.bytes_out += len(data)
                    self._writer_holds = False
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
            if not self.closing:
                self.abort(DisconnectReason.RESET, exc)
        finally:
            self._writer_done.set()


def _is_cancelled(exc: BaseException) -> bool:
    if isinstance(exc, BaseExceptionGroup):
        return all(_is_cancelled(inner) for inner in exc.exceptions)
    return isinstance(exc, trio.Cancelled)


def _coalesce(items: list[bytes]) -> list[bytes]:
    """Join queued buffers into as few writes as possible, each at most about 4 MiB."""
    if len(items) == 1:
        return items
    if sum(map(len, items)) <= _MAX_WRITE:
        return [b"".join(items)]
    writes: list[bytes] = []
    group: list[bytes] = []
    size = 0
    for item in items:
        if group and size + len(item) > _MAX_WRITE:
            writes.append(b"".join(group))
            group, size = [], 0
        group.append(item)
        size += len(item)
    writes.append(b"".join(group))
    return writes
