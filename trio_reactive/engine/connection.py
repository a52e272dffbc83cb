"""One connection, owned by a nursery: its stages one after another, then a graceful close.

The path of a message, in the order it meets the engine's files:

1. this module's task reads the stream (``receive_some``) — or an outside readiness source
   hands it the bytes — and :mod:`.inbound` decodes the whole read into a batch;
2. a sync handler runs over it right here (:mod:`.inline`); other processors get it through a
   bounded queue in a task of their own (:mod:`.streamed`);
3. every reply, ``send`` and error-hook reply goes through the one :mod:`.outbox`, in order,
   written at once when the socket is free or by the outbox's writer task otherwise;
4. bad input and raising processors are handled by :mod:`.policies`; why the connection ended
   is decided once, in :mod:`.lifecycle`.

A stage ends when its processor calls ``peer.goto`` (or ends, with a router), and the next
stage gets every byte read but not handled (:meth:`Inbound.unconsumed`), framed afresh by its
own codec.  The connection ends in one way only, the graceful close of :mod:`.closing`, or an
abort that drops everything.  ``Connected`` and ``Disconnected`` fire exactly once, when they
happen.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

import trio

from ..config import Config
from ..errors import StageError
from ..events import Connected, DisconnectReason, PeerArrived, PeerLeft, StageStats
from ..stage import CompiledStage, Plan
from ..wire.codec import CompiledCodec
from . import closing
from .budget import Budget
from .callbacks import EventSink
from .errors import BROKEN
from .inbound import Inbound
from .inline import InlineStage
from .lazy import Latch
from .lifecycle import Lifecycle
from .outbox import Outbox
from .peer import Peer
from .policies import Policies
from .poller import Poller
from .senders import put_slow
from .sources import PolledSource, StreamSource
from .streamed import run_streamed_stage
from .watchdog import Deadlines, check_heartbeat, keeper

__all__ = ["Connection"]

logger = logging.getLogger("trio_reactive")

_NO_GOTO: Any = object()


class Connection:
    """One connection's engine; its public face is :class:`~trio_reactive.Peer`.

    ``closes_on_end_of_input``: when the peer's input ends, close at once and report it, even
    though the processor goes on (a caller-driven client, whose caller leaves in its own time).
    ``poller``: read by this shared poller when the stream is a plain socket, instead of by the
    connection's own task.  ``opened_by``: the time (``trio.current_time``) by which a first
    whole message must have arrived (a server's handshake deadline; see :mod:`.watchdog`).
    ``budget``: the server's total of buffered bytes this connection's queues count in (see
    :mod:`.budget`); None for a client.

    Slotted, as an idle connection's own size counts many thousands of times over.
    """

    __slots__ = (
        "__weakref__", "_aborted", "_deadlines", "_goto", "_opened_by", "_scope", "_visit",
        "bytes_in", "close_now", "close_started", "close_timeout", "closed",
        "closes_on_end_of_input", "closing", "config", "dropped_in", "emit", "inbound",
        "input_over", "lifecycle", "messages_in", "now", "outbox", "peer", "plan", "policies",
        "read_at", "reading", "receive", "reported", "saw_end_of_input", "source", "stage",
        "stage_over", "stream", "task",
    )

    def __init__(
        self,
        stream: trio.abc.Stream,
        plan: Plan,
        config: Config,
        emit: EventSink,
        *,
        address: Any = None,
        closes_on_end_of_input: bool = False,
        poller: Poller | None = None,
        opened_by: float | None = None,
        budget: Budget | None = None,
    ) -> None:
        check_heartbeat(plan, config)  # a client's or a harness's plan: refused before any I/O
        self.stream = stream
        self.plan = plan
        self.config = config
        self.emit = emit
        self.closes_on_end_of_input = closes_on_end_of_input
        self.lifecycle = Lifecycle()
        share = None if budget is None else budget.share()
        self.inbound = Inbound(config, share)
        self.outbox = Outbox(stream, config, self._broken, share)
        self.policies = Policies(self)
        self.peer = Peer(self, address)
        self.receive = stream.receive_some
        self.source: StreamSource | PolledSource = StreamSource(self)
        if poller is not None and isinstance(stream, trio.SocketStream):
            self.source = PolledSource(self, poller, stream.socket.fileno())
        self.stage: CompiledStage = plan.stages[plan.initial]
        #: The current stage takes no more input: it ended, moved on, or the connection closes.
        self.stage_over = False
        #: A close was requested (``close_now``: without waiting for the processor to end).
        self.closing = False
        self.close_now = False
        #: The processor of the current stage met the end of input.
        self.saw_end_of_input = False
        self.messages_in = self.bytes_in = self.dropped_in = 0
        #: Trio's clock (``trio.current_time`` without its lookups), and when input was last
        #: read: stamped per read, for the deadline keeper.
        self.now = trio.lowlevel.current_clock().current_time
        self.read_at = self.now()
        self._opened_by = opened_by
        self._deadlines: Deadlines | None = None
        #: Cancelled to stop the current stage's reading (a stage end or a close request).
        self.reading = trio.CancelScope()
        self._goto: Any = _NO_GOTO
        #: The current stage's visit, until its ``PeerLeft``: when it began, and the counters
        #: then (messages in and out, bytes in and out).  None between stages.
        self._visit: tuple[float, int, int, int, int] | None = None
        #: The close's state (see :mod:`.closing`): its no-progress timeout, whether it has
        #: begun, the peer's input being over (EOF, or quiet while closing), the stream closed,
        #: ``Disconnected`` reported.
        self.close_timeout = config.close_timeout
        self.close_started = False
        self.input_over = Latch()
        self.closed = Latch()
        self.reported = False
        self._aborted = False
        #: The connection's own task, once it runs: the one that closes.
        self.task: trio.lowlevel.Task | None = None
        self._scope: trio.CancelScope | None = None

    # ------------------------------------------------------------------ counters

    @property
    def messages_out(self) -> int:
        return self.outbox.messages_out

    @property
    def bytes_out(self) -> int:
        return self.outbox.bytes_out

    @property
    def dropped_out(self) -> int:
        return self.outbox.dropped

    @property
    def reason(self) -> DisconnectReason | None:
        return self.lifecycle.reason

    @property
    def error(self) -> BaseException | None:
        return self.lifecycle.error

    # ------------------------------------------------------------------ running

    async def run(self) -> None:
        """Run every stage, then close; fire the connection events exactly once."""
        self.task = trio.lowlevel.current_task()
        await self.emit(Connected(self.peer))
        try:
            async with trio.open_nursery() as nursery:
                self._scope = nursery.cancel_scope
                self.outbox.start(nursery.start_soon)
                if Deadlines.wanted(self, self._opened_by):
                    self._deadlines = keeper().file(self, self._opened_by)
                try:
                    await self._run_stages()
                except BROKEN as exc:
                    if not self.closing:
                        self.abort(DisconnectReason.RESET, exc)
                if not self._aborted:
                    await self.close()
                nursery.cancel_scope.cancel()
        except BaseException as exc:
            self.end(DisconnectReason.ABORTED, None if _is_cancelled(exc) else exc)
            raise
        finally:
            if self._deadlines is not None:
                self._deadlines.leave()
                self._deadlines = None
            await closing.close_at_once(self)
            with trio.CancelScope(shield=True):
                await closing.report_disconnected(self)
            self._release()

    async def _run_stages(self) -> None:
        stage = self.stage
        leftover = b""
        while True:
            self._enter(stage)
            first = self.inbound.decode(leftover) if leftover else None
            visit = (
                trio.current_time(),
                self.messages_in,
                self.messages_out,
                self.bytes_in,
                self.bytes_out,
            )
            await self.emit(PeerArrived(self.peer, stage.name))
            self._visit = visit
            try:
                if stage.processor.kind.inline:
                    with self.reading:
                        await InlineStage(self, stage).run(first)
                else:
                    await run_streamed_stage(self, stage, first)
            finally:
                stats = await self.leave_stage()
            if self.closing or stats is None:
                return
            following = self._next_stage(stats)
            if following is None:
                return
            leftover = self.inbound.unconsumed()
            stage = following
            await trio.lowlevel.checkpoint()  # transitions can always be cancelled

    def _enter(self, stage: CompiledStage) -> None:
        limit = self.config.max_message_size
        self.stage = stage
        self.inbound.enter(stage.side.codec.decoder(limit))
        self.outbox.use(stage.side.codec.encoder(limit), _frame_counter(stage.mirror))
        self.stage_over = self.closing
        self.saw_end_of_input = False
        self._goto = _NO_GOTO
        self.reading = trio.CancelScope()

    async def leave_stage(self) -> StageStats | None:
        """Report ``PeerLeft`` for the current stage, once; return its statistics (None if it
        was left already).

        The stage is left when it ends, or when the connection starts to close, whichever
        comes first: a close run inside the stage (a caller-driven client's, one requested
        from another task) leaves it before the close, so that every ``PeerLeft`` comes before
        ``Disconnected``, whatever task closes and whatever the processor still does.
        """
        visit = self._visit
        if visit is None:
            return None
        self._visit = None
        started, messages_in, messages_out, bytes_in, bytes_out = visit
        stats = StageStats(
            self.messages_in - messages_in,
            self.messages_out - messages_out,
            self.bytes_in - bytes_in,
            self.bytes_out - bytes_out,
            trio.current_time() - started,
        )
        with trio.CancelScope(shield=True):
            await self.emit(PeerLeft(self.peer, self.stage.name, stats))
        return stats

    def _next_stage(self, stats: StageStats) -> CompiledStage | None:
        """The stage to go on with, or None after deciding why the connection ends."""
        key = self._goto
        ended_by_peer = self.inbound.eof and (
            self.stage.processor.kind.inline or self.saw_end_of_input
        )
        if key is _NO_GOTO:
            router = self.plan.router
            key = router(self.peer) if router is not None else None
            idle = not (stats.messages_in or stats.messages_out or self.inbound.unhandled())
            if key is not None and self.inbound.eof and idle:
                key = None  # input is over and the stage did nothing: moving on could only loop
        if key is None:
            ended = DisconnectReason
            self.end(ended.PEER_CLOSED if ended_by_peer else ended.PROCESSOR_ENDED)
            return None
        stage = self.plan.stages.get(key)
        if stage is None:
            error = StageError(f"{self.peer!r}: no stage {key!r} in this service")
            logger.error("%s; closing the connection", error)
            self.end(DisconnectReason.STAGE_ERROR, error)
        return stage

    def goto(self, key: Any) -> None:
        if key not in self.plan.stages:
            stages = list(self.plan.stages)
            raise StageError(f"no stage {key!r} in this service (it has {stages})")
        self._goto = key
        self.stage_over = True

    def read_failed(self, error: BaseException) -> None:
        """A read broke (reset, I/O error): the connection is over."""
        if not self.closing:
            self.abort(DisconnectReason.RESET, error)

    def input_ended(self) -> None:
        """The peer's input has ended (EOF)."""
        self.inbound.eof = True
        self.inbound.queue.close()
        self.input_over.set()

    # ------------------------------------------------------------------ outbound

    async def send(self, message: Any) -> None:
        await self.outbox.send(message, self.config.outgoing_retry, self._slow_peer)

    async def put_slow(self, data: bytes, count: int) -> None:
        """Queue replies the engine holds (a handler's, a hook's) as the outgoing policy says;
        if that fails they were produced and never written: they count as unsent."""
        await put_slow(
            self.outbox, data, count, self.config.outgoing_retry, self._slow_peer, count_unsent=True
        )

    async def move_replies(self) -> None:
        """Queue the replies collected so far (error hooks, async handlers)."""
        encoded = self.outbox.take_replies()
        if self.outbox.encode_errors:
            await self.policies.encode_errors()
        if encoded is not None and not self.outbox.offer(*encoded):
            await self.put_slow(*encoded)

    def _slow_peer(self) -> None:
        """The outgoing retry policy gave up: a peer that does not read gets no flush."""
        self.abort(DisconnectReason.SLOW_PEER)

    def count_dropped_in(self, count: int) -> None:
        if not self.dropped_in:
            logger.warning(
                "%s: incoming queue full: dropping messages as the retry policy says "
                "(counted in peer.dropped from now on)",
                repr(self.peer),
            )
        self.dropped_in += count

    # ------------------------------------------------------------------ ending

    def end(self, reason: DisconnectReason, error: BaseException | None = None) -> None:
        self.lifecycle.end(reason, error)

    def request_close(
        self,
        reason: DisconnectReason,
        error: BaseException | None = None,
        *,
        now: bool = False,
        timeout: float | None = None,
    ) -> None:
        """End the current stage and then the connection; no more input is delivered.

        ``now``: close without waiting for the processor to end (it is cancelled after).
        ``timeout``: the no-progress timeout of this close, instead of ``close_timeout``.
        """
        self.end(reason, error)
        if timeout is not None:
            self.close_timeout = timeout
        self.closing = True
        self.close_now = self.close_now or now
        self.stage_over = True
        self.inbound.queue.close()
        if now or trio.lowlevel.current_task() is not self.task:
            self.reading.cancel()

    async def close(self) -> None:
        """Close gracefully, in the connection's task (see :func:`.closing.close`)."""
        await closing.close(self)

    async def flush_and_close(self, timeout: float | None = None) -> int:  # noqa: ASYNC109
        """Close now; return how many queued messages did not reach the kernel."""
        return await closing.flush_and_close(self, timeout)

    async def shutdown(self, grace: float | None) -> None:
        """The service is terminating (see :func:`.closing.shutdown`)."""
        await closing.shutdown(self, grace)

    def abort(
        self,
        reason: DisconnectReason = DisconnectReason.ABORTED,
        error: BaseException | None = None,
    ) -> None:
        """Drop everything queued and close now."""
        self.end(reason, error)
        self.closing = self.close_now = self.stage_over = self._aborted = True
        self.outbox.abandon()
        self.inbound.queue.close()
        self.reading.cancel()
        if self._scope is not None:
            self._scope.cancel()

    def _broken(self, error: BaseException) -> None:
        """The stream broke under the writer (reset, EPIPE)."""
        if not self.closing:
            self.abort(DisconnectReason.RESET, error)

    def _release(self) -> None:
        """Let go of every buffer and break every reference cycle: a finished connection is
        freed by reference counting alone, its peer too once nobody holds it."""
        self.inbound.release()
        self.outbox.release()
        self.peer._release()
        del self.policies, self.source
        self.task = None
        self._scope = None


@functools.lru_cache(maxsize=64)
def _frame_counter(mirror: CompiledCodec) -> Callable[[bytes], int]:
    """How many whole frames a prefix of what this end wrote holds (the other end's codec);
    one per codec, shared by every connection."""

    def count(data: bytes) -> int:
        return len(mirror.decoder().decode(data).messages)

    return count


def _is_cancelled(exc: BaseException) -> bool:
    if isinstance(exc, BaseExceptionGroup):
        return all(_is_cancelled(inner) for inner in exc.exceptions)
    return isinstance(exc, trio.Cancelled)
