"""How a connection ends: the one graceful close, the ways to ask for it, and its report.

The close is one sequence, :func:`close`, run in the connection's own task (other tasks ask
for it and wait): flush what is queued (giving up only when the peer takes nothing for
``close_timeout``), shut the write side, read and drop the peer's input until its EOF (bounded
by ``close_timeout``, or until it has been quiet for ``close_quiet``), close the stream.  It
never closes with unread input in a way that makes the kernel reset the connection and
destroy replies already written.

A TLS stream has no write side to shut alone: the peer learns of the close only from the
close_notify that closing the stream sends.  So a TLS close drains as long as the peer is
still sending when the flush is over (it sent during the close, or its bytes wait unread in
the socket), with the same bounds, and only then closes.  A peer that is not sending is closed
at once: with no input unread the close resets nothing, and waiting for its quiet would hold
every idle peer's close (a client leaving its block, say) for ``close_quiet``.

The events keep one order on every connection, server's or client's: ``Connected``, each
stage's ``PeerArrived`` ... ``PeerLeft``, ``Disconnected``.  A close is often run while a stage
is still current (a caller-driven client leaving its block or finding the server gone, a close
requested from another task while the processor runs): the close then leaves the stage first,
so its ``PeerLeft`` is never reported after ``Disconnected``.

Kept apart from :mod:`.connection` (the connection's task) and :mod:`.stages`: this is the
only code that closes a stream gracefully, and the only code that reports ``Disconnected``
(exactly once).
"""

from __future__ import annotations

import contextlib
import math
import select
from typing import TYPE_CHECKING, Any

import trio

from ..events import Disconnected, DisconnectReason, ServiceTerminating
from .errors import BROKEN
from .lifecycle import State
from .stages import leave_stage

if TYPE_CHECKING:
    from .connection import Connection

__all__ = ["close", "close_at_once", "flush_and_close", "report_disconnected", "shutdown"]

#: How long closing the stream itself (a TLS close_notify) may take.
_STREAM_CLOSE_TIMEOUT = 1.0
_DISCONNECT_EVENT_TIMEOUT = 5.0


async def close(conn: Connection) -> None:
    """Flush, shut the write side, drain the peer's input, close (see the module docstring).

    Runs in the connection's task; other tasks request a close and wait for it.
    """
    if conn.close_started:
        await conn.closed.wait()
        return
    conn.close_started = True
    conn.closing = True  # a caller-driven client may still receive what was read
    conn.lifecycle.advance(State.CLOSING)
    conn.inbound.queue.close()
    outbox = conn.outbox
    outbox.close()
    # A close from inside a stage (a processor still running) leaves it first: its PeerLeft
    # comes before Disconnected, whatever task closes.
    await leave_stage(conn)
    read_before = conn.bytes_in
    try:
        async with trio.open_nursery() as nursery:
            if not conn.input_over.is_set():
                nursery.start_soon(_discard_input, conn)
            if not await outbox.flush(conn.close_timeout):
                outbox.abandon()
            elif await _shut_write_side(conn.stream) or _still_sending(conn, read_before):
                conn.lifecycle.advance(State.DRAINING)
                with trio.move_on_after(conn.close_timeout):
                    await conn.input_over.wait()  # the peer's EOF, or a quiet input
            nursery.cancel_scope.cancel()
    finally:
        with (
            trio.CancelScope(shield=True),
            trio.move_on_after(_STREAM_CLOSE_TIMEOUT),
            contextlib.suppress(*BROKEN),
        ):
            await conn.stream.aclose()
        conn.lifecycle.advance(State.CLOSED)
        conn.closed.set()
    await report_disconnected(conn)


async def close_at_once(conn: Connection) -> None:
    """The connection's task is ending without a graceful close (an abort, a cancellation):
    drop what is queued and close the stream now.  Nothing happens if it is closed already."""
    if conn.closed.is_set():
        return
    conn.outbox.abandon()
    with trio.CancelScope(shield=True):
        await trio.aclose_forcefully(conn.stream)
    conn.lifecycle.advance(State.CLOSED)
    conn.closed.set()


async def flush_and_close(conn: Connection, timeout: float | None = None) -> int:  # noqa: ASYNC109
    """Close now; return how many queued messages did not reach the kernel."""
    conn.request_close(DisconnectReason.CLOSED, now=True, timeout=timeout)
    if trio.lowlevel.current_task() is conn.task:
        await close(conn)
    else:
        await conn.closed.wait()
    return conn.outbox.unsent


async def shutdown(conn: Connection, grace: float | None) -> None:
    """The service is terminating: tell the logic, let it flush, close.

    What the ``ServiceTerminating`` callback sends is queued even past a full queue (it is
    the peer's last message), and the callback gets at most ``grace`` seconds.
    """
    conn.end(DisconnectReason.SHUTDOWN)
    conn.stage_over = True  # nothing more is handled: the goodbye is the last message
    conn.inbound.queue.close()
    outbox = conn.outbox
    outbox.last_words = True  # a goodbye sent now goes, even past a full queue
    try:
        with trio.move_on_after(conn.close_timeout if grace is None else grace):
            await conn.emit(ServiceTerminating(conn.peer))
    finally:
        outbox.last_words = False
        outbox.close()  # nothing a processor sends from now on goes after the goodbye
    await flush_and_close(conn, grace)


async def _shut_write_side(stream: trio.abc.Stream) -> bool:
    if not isinstance(stream, trio.abc.HalfCloseableStream):
        return False
    try:
        await stream.send_eof()
    except (*BROKEN, trio.BusyResourceError):
        return False
    return True


def _still_sending(conn: Connection, read_before: int) -> bool:
    """Whether the peer's input is still coming, on a stream whose write side cannot be shut
    (TLS): read while closing (more than ``read_before`` bytes in), or waiting unread."""
    if conn.input_over.is_set():
        return False
    return conn.bytes_in > read_before or _unread_input(conn.stream)


def _unread_input(stream: trio.abc.Stream) -> bool:
    """Whether bytes wait unread in the socket under ``stream`` (a TLS stream wraps one);
    False for a stream over no socket (a memory stream), whose close resets nothing."""
    found: Any = stream
    while found is not None and not isinstance(found, trio.SocketStream):
        found = getattr(found, "transport_stream", None)
    if found is None:
        return False
    fd = found.socket.fileno()
    if fd < 0:
        return False
    if hasattr(select, "poll"):  # no descriptor-number limit, unlike select
        poll = select.poll()
        poll.register(fd, select.POLLIN)
        return bool(poll.poll(0))
    readable, _, _ = select.select([fd], [], [], 0)
    return bool(readable)


async def _discard_input(conn: Connection) -> None:
    """Read and drop the peer's input while closing, until its EOF or until it has been
    quiet for ``close_quiet``: unread input would make the kernel reset the connection when
    it closes, destroying what was written and not yet read by the peer."""
    config = conn.config
    size = config.receive_size
    quiet_for = math.inf if config.close_quiet is None else config.close_quiet
    receive = conn.receive
    try:
        while True:
            with trio.move_on_after(quiet_for) as quiet:
                data = await receive(size)
            if quiet.cancelled_caught or not data:
                break  # a peer that sends nothing more cannot be reset by our close
            conn.bytes_in += len(data)
    except BROKEN:
        pass
    conn.input_over.set()


async def report_disconnected(conn: Connection) -> None:
    """Report ``Disconnected`` once, with the reason decided, then empty the session."""
    if conn.reported:
        return
    conn.reported = True
    lifecycle = conn.lifecycle
    if lifecycle.reason is None:
        lifecycle.end(DisconnectReason.PROCESSOR_ENDED)
    assert lifecycle.reason is not None
    with trio.move_on_after(_DISCONNECT_EVENT_TIMEOUT) as scope:
        scope.shield = True
        await conn.emit(Disconnected(conn.peer, lifecycle.reason, lifecycle.error))
    conn.peer.session.clear()
