"""One connection, owned by a nursery: its state, its task, and the requests to end it.

The path of a message, in the order it meets the engine's files:

1. this module's task reads the stream (``receive_some``) — or an outside readiness source
   hands it the bytes — and :mod:`.inbound` decodes the whole read into a batch;
2. a sync handler runs over it right here (:mod:`.inline`); other processors get it through a
   bounded queue in a task of their own (:mod:`.streamed`);
3. every reply, ``send`` and error-hook reply goes through the one :mod:`.outbox`, in order,
   written at once when the socket is free or by the outbox's writer task otherwise;
4. bad input and raising processors are handled by :mod:`.policies`; why the connection ended
   is decided once, in :mod:`.lifecycle`.

The connection's task runs its stages one after another (:mod:`.stages`), then closes.  It
ends in one way only, the graceful close of :mod:`.closing`, or an abort that drops
everything.  ``Connected`` and ``Disconnected`` fire exactly once, when they happen.
"""

from __future__ import annotations

import logging
from typing import Any

import trio

from ..config import Config
from ..errors import StageError
from ..events import Connected, DisconnectReason
from ..stage import CompiledStage, Plan
from . import closing
from .budget import Budget
from .callbacks import EventSink
from .errors import BROKEN
from .inbound import Inbound
from .lazy import Latch
from .lifecycle import Lifecycle
from .outbox import Outbox
from .peer import Peer
from .policies import Policies
from .poller import Poller
from .senders import put_slow
from .sources import PolledSource, StreamSource
from .stages import NO_GOTO, Visit, run_stages
from .watchdog import Deadlines, check_heartbeat, keeper

__all__ = ["Connection"]

logger = logging.getLogger("trio_reactive")


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
        "__weakref__", "_aborted", "_deadlines", "_opened_by", "_scope", "bytes_in", "close_now",
        "close_started", "close_timeout", "closed", "closes_on_end_of_input", "closing", "config",
        "dropped_in", "emit", "goto_key", "inbound", "input_over", "lifecycle", "messages_in",
        "now", "outbox", "peer", "plan", "policies", "read_at", "reading", "receive", "reported",
        "saw_end_of_input", "source", "stage", "stage_over", "stream", "task", "visit",
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
        #: The stage ``goto`` chose during this stage, and this stage's visit (see
        #: :mod:`.stages`).
        self.goto_key: Any = NO_GOTO
        self.visit: Visit | None = None
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
                    await run_stages(self)
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

    def goto(self, key: Any) -> None:
        if key not in self.plan.stages:
            stages = list(self.plan.stages)
            raise StageError(f"no stage {key!r} in this service (it has {stages})")
        self.goto_key = key
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


def _is_cancelled(exc: BaseException) -> bool:
    if isinstance(exc, BaseExceptionGroup):
        return all(_is_cancelled(inner) for inner in exc.exceptions)
    return isinstance(exc, trio.Cancelled)
