"""A connection's stages, one after another: entering each, its events, choosing the next.

Each stage is entered (its codec takes over the input and the output), reported with
``PeerArrived``, run (:mod:`.inline` for a sync handler, :mod:`.streamed` otherwise) and left
with ``PeerLeft`` and its statistics.  The next stage is the one ``peer.goto`` chose, or the
router's choice; with none, the connection ends, and why is decided here.  The next stage gets
every byte read but not handled (:meth:`Inbound.unconsumed`), framed afresh by its own codec.

A stage is left once, when it ends or when the connection starts to close, whichever comes
first (:func:`leave_stage`): a close that runs while the stage's processor still runs (see
:mod:`.closing`) leaves it before it closes, so that each stage's ``PeerArrived`` ...
``PeerLeft`` come between ``Connected`` and ``Disconnected`` on every connection.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import trio

from ..errors import StageError
from ..events import DisconnectReason, PeerArrived, PeerLeft, StageStats
from .inline import InlineStage
from .streamed import run_streamed_stage

if TYPE_CHECKING:
    from ..stage import CompiledStage
    from ..wire.codec import CompiledCodec
    from .connection import Connection

__all__ = ["NO_GOTO", "Visit", "leave_stage", "run_stages"]

logger = logging.getLogger("trio_reactive")

#: ``Connection.goto_key`` while no ``goto`` was called in the current stage.
NO_GOTO: Any = object()

#: A stage's visit, until its ``PeerLeft``: when it began, and the connection's counters then
#: (messages in and out, bytes in and out).
Visit = tuple[float, int, int, int, int]


async def run_stages(conn: Connection) -> None:
    """Run the connection's stages, from its initial one, until one ends it or it closes."""
    stage = conn.stage
    leftover = b""
    while True:
        _enter(conn, stage)
        first = conn.inbound.decode(leftover) if leftover else None
        visit = (
            trio.current_time(),
            conn.messages_in,
            conn.messages_out,
            conn.bytes_in,
            conn.bytes_out,
        )
        await conn.emit(PeerArrived(conn.peer, stage.name))
        conn.visit = visit
        try:
            if stage.processor.kind.inline:
                with conn.reading:
                    await InlineStage(conn, stage).run(first)
            else:
                await run_streamed_stage(conn, stage, first)
        finally:
            stats = await leave_stage(conn)
        if conn.closing or stats is None:
            return
        following = _next_stage(conn, stats)
        if following is None:
            return
        leftover = conn.inbound.unconsumed()
        stage = following
        await trio.lowlevel.checkpoint()  # transitions can always be cancelled


def _enter(conn: Connection, stage: CompiledStage) -> None:
    limit = conn.config.max_message_size
    conn.stage = stage
    conn.inbound.enter(stage.side.codec.decoder(limit))
    conn.outbox.use(stage.side.codec.encoder(limit), _frame_counter(stage.mirror))
    conn.stage_over = conn.closing
    conn.saw_end_of_input = False
    conn.goto_key = NO_GOTO
    conn.reading = trio.CancelScope()


async def leave_stage(conn: Connection) -> StageStats | None:
    """Report ``PeerLeft`` for the current stage, once; return its statistics (None if it was
    left already, by a close that began inside it)."""
    visit = conn.visit
    if visit is None:
        return None
    conn.visit = None
    started, messages_in, messages_out, bytes_in, bytes_out = visit
    stats = StageStats(
        conn.messages_in - messages_in,
        conn.messages_out - messages_out,
        conn.bytes_in - bytes_in,
        conn.bytes_out - bytes_out,
        trio.current_time() - started,
    )
    with trio.CancelScope(shield=True):
        await conn.emit(PeerLeft(conn.peer, conn.stage.name, stats))
    return stats


def _next_stage(conn: Connection, stats: StageStats) -> CompiledStage | None:
    """The stage to go on with, or None after deciding why the connection ends."""
    key = conn.goto_key
    inbound = conn.inbound
    ended_by_peer = inbound.eof and (conn.stage.processor.kind.inline or conn.saw_end_of_input)
    if key is NO_GOTO:
        router = conn.plan.router
        key = router(conn.peer) if router is not None else None
        idle = not (stats.messages_in or stats.messages_out or inbound.unhandled())
        if key is not None and inbound.eof and idle:
            key = None  # input is over and the stage did nothing: moving on could only loop
    if key is None:
        ended = DisconnectReason
        conn.end(ended.PEER_CLOSED if ended_by_peer else ended.PROCESSOR_ENDED)
        return None
    stage = conn.plan.stages.get(key)
    if stage is None:
        error = StageError(f"{conn.peer!r}: no stage {key!r} in this service")
        logger.error("%s; closing the connection", error)
        conn.end(DisconnectReason.STAGE_ERROR, error)
    return stage


@functools.lru_cache(maxsize=64)
def _frame_counter(mirror: CompiledCodec) -> Callable[[bytes], int]:
    """How many whole frames a prefix of what this end wrote holds (the other end's codec);
    one per codec, shared by every connection."""

    def count(data: bytes) -> int:
        return len(mirror.decoder().decode(data).messages)

    return count
