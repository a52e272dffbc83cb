"""The outbox: every outgoing message of one connection passes here, in the order it was made.

Handler returns, ``peer.send``, ``peer.send_nowait``, a responsive processor's yields and error
hook replies all end up as encoded buffers in one bounded queue, so nothing overtakes anything.
A sync handler's replies are collected in :attr:`Outbox.replies` while it runs; a ``send`` in
the middle of that first moves the collected replies into the queue.

Writing:

* When nothing is queued or being written and the stream is a plain socket, a buffer is written
  at once with one non-blocking ``os.write`` (no scheduler step: most of a lone reply's cost);
  what the kernel does not take is queued.
* Otherwise the writer task, started on first need, takes everything queued and writes it as
  one buffer (at most about 4 MiB a write).

Counting is true: a message is sent once the kernel has taken all its bytes, nothing else is.
On a plain socket the writer writes with non-blocking calls and knows every byte's fate; when a
flush is given up, the whole frames of a partly written buffer are counted by decoding its
written part with the other end's codec.  On other streams (TLS) a buffer counts once
``send_all`` returns.

Error policy: a broken stream (reset, EPIPE) is reported once through ``on_broken``; a flush
gives up only when the peer takes nothing for the no-progress timeout.  A full queue is
:mod:`.senders`' business: the senders waiting for room, in turn, as the retry policy says.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import trio

from ..config import Config, RetryPolicy
from ..errors import ConnectionClosed, EncodeError, QueueFull
from .budget import Share
from .lazy import Lot
from .queue import BatchQueue
from .senders import Waiting, force_waiting, put_slow

__all__ = ["Outbox"]

#: Most bytes handed to one write: bounds the copy made to coalesce a backlog.
_MAX_WRITE = 1 << 22

#: A queued buffer: its bytes, how many were written before it was queued, how many messages
#: it holds, and how to count the whole frames of a prefix of it.
_Item = tuple[bytes, int, int, Callable[[bytes], int]]
_Encoder = Any  # an Encoder of the wire layer: encode(message), encode_batch(messages)


class Outbox:
    """See the module docstring.  ``messages_out``/``bytes_out`` count what the kernel took."""

    __slots__ = (
        "_count_frames", "_encode", "_encode_batch", "_fd", "_flight_written", "_in_flight", "_now",
        "_on_broken", "_progress", "_raw", "_spawn", "_stamp_idle", "_stream", "_writer_running",
        "_writer_scope", "bytes_out", "dropped", "encode_errors", "frames", "last_words",
        "messages_out", "progress_at", "queue", "replies", "turn", "unsent", "waiting",
    )

    def __init__(
        self,
        stream: trio.abc.Stream,
        config: Config,
        on_broken: Callable[[BaseException], None],
        share: Share | None = None,
    ) -> None:
        self._stream = stream
        self.queue: BatchQueue[_Item] = BatchQueue(
            config.outgoing_capacity, config.outgoing_capacity_bytes, share
        )
        self._raw = (
            stream.socket if isinstance(stream, trio.SocketStream) and os.name == "posix" else None
        )
        #: The socket's descriptor for the direct write (-1: none).  Safe to keep as a number:
        #: the connection closes the outbox before it closes the stream, and a closed outbox
        #: writes nothing.
        self._fd = self._raw.fileno() if self._raw is not None else -1
        self._on_broken = on_broken
        #: What the writer is writing; made by the writer when it first runs (most connections'
        #: writes never need it: an idle connection should not hold one).
        self._in_flight: deque[_Item] | None = None
        self._flight_written = 0
        self._progress = Lot()
        self._writer_running = False
        self._writer_scope = trio.CancelScope()
        #: Senders waiting for room, oldest first, and where they wait for their turn: nobody
        #: overtakes them (see :mod:`.senders`).
        self.waiting: list[Waiting] = []  # few: a deque's first block is 600 bytes
        self.turn = Lot()
        self._spawn: Callable[[Callable[[], Awaitable[None]]], None] | None = None
        self._encode: Callable[[Any], bytes] = _no_stage
        self._encode_batch: Callable[[Sequence[Any]], bytes] = _no_stage
        self._count_frames: Callable[[bytes], int] = len
        #: The stage encoder's one-step frames (``Encoder.frames``), for a lone reply.
        self.frames: Mapping[type, Callable[[Any], bytes]] = {}
        #: A sync handler's replies, collected while it runs (see the module docstring).
        self.replies: list[Any] = []
        #: Replies that could not be encoded, for the connection to report.
        self.encode_errors: list[EncodeError] = []
        #: While set, a full queue still takes what is sent (a goodbye while shutting down).
        self.last_words = False
        self.messages_out = self.bytes_out = self.dropped = self.unsent = 0
        #: When bytes last reached the kernel, or the outbox last went from idle to busy: what
        #: the idle and write timeouts measure from (stamped per write, never per message).
        self._now = trio.lowlevel.current_clock().current_time  # trio's clock, minus a lookup
        self.progress_at = self._now()
        #: Whether a write that leaves the outbox idle is stamped too: only the idle timeout
        #: and the heartbeat look at an idle outbox's stamp (the write timeout does not).
        self._stamp_idle = config.idle_timeout is not None or config.heartbeat_interval is not None

    # ------------------------------------------------------------------ set-up

    def start(self, spawn: Callable[[Callable[[], Awaitable[None]]], None]) -> None:
        """Give the outbox a nursery to start its writer in (when first needed)."""
        self._spawn = spawn
        if self.queue.weight:
            self._start_writer()

    def use(self, encoder: _Encoder, count_frames: Callable[[bytes], int]) -> None:
        """Encode with ``encoder`` from now on (a stage was entered)."""
        self._encode = encoder.encode
        self._encode_batch = encoder.encode_batch
        self.frames = encoder.frames
        self._count_frames = count_frames

    # ------------------------------------------------------------------ state

    @property
    def closed(self) -> bool:
        return self.queue.closed

    @property
    def pending(self) -> int:
        """Messages queued or being written, not yet wholly taken by the kernel."""
        return self.queue.weight

    @property
    def pending_bytes(self) -> int:
        """Bytes queued or being written, not yet taken by the kernel."""
        return self.queue.size - self._flight_written

    @property
    def capacity(self) -> int:
        return self.queue.capacity

    @property
    def has_room(self) -> bool:
        return self.queue.has_room

    @property
    def idle(self) -> bool:
        """Nothing is queued or being written (a heartbeat, which weighs nothing, included)."""
        queue = self.queue
        return not (queue.weight or queue.size or self._in_flight)

    # ------------------------------------------------------------------ putting

    def encode(self, message: Any) -> bytes:
        return self._encode(message)

    def put(self, data: bytes, count: int) -> bool:
        """Queue (or write at once) ``count`` messages encoded as ``data``; False when full.

        A closed outbox takes nothing: callers check :attr:`closed` to tell full from closed.
        Replies a handler has collected so far go first, and nothing overtakes a sender
        already waiting for room.
        """
        if self.replies:
            self._force_replies()
        if self.waiting:
            if not self.last_words:
                return False
            force_waiting(self)
        return self.offer(data, count, force=self.last_words)

    def offer(self, data: bytes, count: int, *, force: bool = False) -> bool:
        """:meth:`put` without the collected replies; ``force`` ignores the capacity."""
        queue = self.queue
        if queue.closed:
            return False
        written = 0
        if not (queue.weight or queue.size or self._in_flight):
            if self._fd >= 0:
                try:
                    written = os.write(self._fd, data)
                except OSError:
                    pass  # would block, or broken: the writer meets the error and reports it
                else:
                    self.bytes_out += written
                    if written == len(data):
                        self.messages_out += count
                        if self._stamp_idle:
                            self.progress_at = self._now()
                        return True
            self.progress_at = self._now()  # idle until now: no write is late yet
        item = (data, written, count, self._count_frames)
        if not queue.put_nowait(item, count, len(data) - written):
            # Taken in part, it must go on whatever the capacity, to keep the stream whole.
            if not (written or force):
                return False
            queue.force(item, count, len(data) - written)
        if not self._writer_running:
            self._start_writer()
        return True

    def heartbeat(self, data: bytes) -> None:
        """Write ``data``, a heartbeat frame, if nothing else is queued (when something is,
        the peer has bytes coming anyway).  It is no message: it counts in ``bytes_out`` only,
        and weighs nothing against the capacity."""
        if not self.queue.closed and self.idle:
            self.offer(data, 0, force=True)

    def send_nowait(self, message: Any) -> None:
        """Queue one message or raise :class:`QueueFull` / :class:`ConnectionClosed` at once."""
        data = self._encode(message)
        if not self.put(data, 1):
            if self.queue.closed:
                raise ConnectionClosed("the connection is closed")
            raise QueueFull(f"outgoing queue full ({self.queue.capacity} messages)")

    async def send(self, message: Any, policy: RetryPolicy, on_slow: Callable[[], None]) -> None:
        """Queue one message; when the queue is full, follow ``policy`` (see
        :func:`.senders.put_slow`)."""
        data = self._encode(message)
        if not self.put(data, 1):
            await put_slow(self, data, 1, policy, on_slow)

    def take_replies(self) -> tuple[bytes, int] | None:
        """The collected replies, encoded into one buffer (None if there are none).

        A reply that cannot be encoded is left out and kept in :attr:`encode_errors`; the
        others still go, in order.
        """
        replies = self.replies
        if not replies:
            return None
        encoded: tuple[bytes, int] | None
        try:
            encoded = self._encode_batch(replies), len(replies)
        except EncodeError:
            data, count = self._encode_each(replies)
            encoded = (data, count) if count else None
        replies.clear()  # the same list: a running handler loop appends to it
        return encoded

    def _force_replies(self) -> None:
        encoded = self.take_replies()
        if encoded is not None:
            self.offer(*encoded, force=True)

    def _encode_each(self, replies: list[Any]) -> tuple[bytes, int]:
        encoded = []
        for reply in replies:
            try:
                encoded.append(self._encode(reply))
            except EncodeError as exc:
                self.encode_errors.append(exc)
        return b"".join(encoded), len(encoded)

    # ------------------------------------------------------------------ writing

    def _start_writer(self) -> None:
        if self._spawn is not None and not self._writer_running:
            self._writer_running = True
            self._spawn(self._write_loop)

    async def _write_loop(self) -> None:
        try:
            with self._writer_scope:
                while True:
                    items = await self.queue.take_all(hold=True)
                    if not items:
                        return
                    flight = self._in_flight
                    if flight is None:
                        flight = self._in_flight = deque()
                    flight.extend(items)
                    while flight:
                        await self._write_group(flight)
                    await trio.lowlevel.checkpoint()
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
            self._on_broken(exc)
        finally:
            self._writer_running = False
            self._progress.unpark_all()

    async def _write_group(self, flight: deque[_Item]) -> None:
        """Write the first in-flight buffers, joined (at most about 4 MiB), to the end."""
        parts: list[bytes] = []
        size = 0
        for data, start, _, _ in flight:
            if parts and size + len(data) - start > _MAX_WRITE:
                break
            part = data[start:] if start else data
            parts.append(part)
            size += len(part)
        buffer = parts[0] if len(parts) == 1 else b"".join(parts)
        sock = self._raw
        if sock is None:
            await self._stream.send_all(buffer)
            self._advance(len(buffer))
            return
        view = memoryview(buffer)
        position = 0
        while position < size:
            try:
                written = os.write(sock.fileno(), view[position:])
            except BlockingIOError:
                await trio.lowlevel.wait_writable(sock)
                continue
            position += written
            self._advance(written)

    def _advance(self, written: int) -> None:
        """``written`` more bytes of the in-flight buffers reached the kernel."""
        self.bytes_out += written
        self.progress_at = self._now()
        written += self._flight_written
        flight = self._in_flight
        assert flight is not None  # the writer is writing
        while flight:
            data, start, count, _ = flight[0]
            left = len(data) - start
            if written < left:
                break
            written -= left
            flight.popleft()
            self.messages_out += count
            self.queue.release(count, left)
        self._flight_written = written
        if self._progress:
            self._progress.unpark_all()

    # ------------------------------------------------------------------ closing

    def close(self) -> None:
        """Take nothing more; what is queued is still written (see :meth:`flush`)."""
        if self.replies:
            self._force_replies()
        force_waiting(self)
        self.queue.close()

    async def flush(self, no_progress: float) -> bool:
        """Wait until all is written; give up (False) once the peer takes nothing for
        ``no_progress`` seconds, or the stream broke."""
        while not self.idle:
            if not self._writer_running and self._spawn is not None:
                self._start_writer()
            mark = self.bytes_out
            with trio.move_on_after(no_progress):
                while self.bytes_out == mark and not self.idle and self._writer_running:
                    await self._progress.park()
            if self.bytes_out == mark and not self.idle:
                return False
        return True

    def abandon(self) -> int:
        """Stop writing now; count every message not wholly taken by the kernel as unsent."""
        self.queue.close()
        self._writer_scope.cancel()
        flight = self._in_flight or deque()
        items = [*flight, *self.queue.take_all_held()]
        self.queue.clear()
        unsent = 0
        for index, (data, start, count, count_frames) in enumerate(items):
            done = start + (self._flight_written if index == 0 and flight else 0)
            whole = min(count, count_frames(data[:done])) if done else 0
            self.messages_out += whole
            unsent += count - whole
        flight.clear()
        self._flight_written = 0
        self.replies.clear()
        self.unsent += unsent
        return unsent

    def release(self) -> None:
        """Let go of the stream and the callbacks (the connection has ended)."""
        self.abandon()
        self._on_broken = _ignore
        self._spawn = None
        self._encode = self._encode_batch = _no_stage
        self.frames = {}
        self._count_frames = len


def _ignore(error: BaseException) -> None:
    return None


def _no_stage(*_: Any) -> bytes:
    raise ConnectionClosed("the connection has no stage to encode with")
