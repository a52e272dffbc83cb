"""Where a connection's bytes come from: its own task reading, or the shared poller.

Both sources give the stage that runs the same thing: each read decoded into a batch, offered
first to the stage's ``fast`` path — a sync function that handles the batch with no await (a
sync handler's :meth:`~trio_reactive.engine.inline.InlineStage.handle_at_once`, or a
stream stage's put into its queue) and says whether it did.  :meth:`next` returns the first
batch that needs the slow path (an await: a full queue, an error to report, a stage change),
or None at the end of input.

* :class:`StreamSource` reads any trio stream with ``receive_some`` in the connection's task.
* :class:`PolledSource` is read by the shared :class:`~trio_reactive.engine.poller.Poller` in
  the poller's task: the connection's task sleeps until a batch needs it, and the fast path
  costs no task switch at all.

Both honour the server's buffer budget (:mod:`.budget`) before each read: while it is spent
and this connection holds buffered bytes, it does not read.  The stream source awaits the
budget; the polled one stops being polled (the poller is level-triggered: a readable socket
left watched would wake it every round) and is watched again when the budget frees.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

import trio

from ..events import DisconnectReason
from ..wire.codec import Decoded
from .errors import BROKEN
from .poller import Poller

if TYPE_CHECKING:
    from .connection import Connection

__all__ = ["Fast", "PolledSource", "StreamSource"]

#: A stage's fast path: handle ``(batch, size_of_the_read)`` with no await, say if it did.
Fast = Callable[[Decoded, int], bool]
_Handoff = tuple[Decoded, int] | None
_NOTHING: _Handoff = (Decoded([], None, b"", 0), -1)


class StreamSource:
    """Reads with ``receive_some`` in the connection's own task (any trio stream)."""

    __slots__ = ("_conn",)

    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    async def next(self, fast: Fast) -> tuple[Decoded, int] | None:
        conn = self._conn
        receive = conn.receive
        size = conn.config.receive_size
        decode = conn.inbound.decode
        share = conn.inbound.share
        while True:
            if share is not None and share.must_wait:
                await share.wait()
            try:
                data = await receive(size)
            except BROKEN as exc:
                conn.read_failed(exc)
                return None
            if not data:
                conn.input_ended()
                return None
            conn.bytes_in += len(data)
            conn.read_at = conn.now()
            batch = decode(data)
            if conn.stage_over or not fast(batch, len(data)):
                return batch, len(data)


class PolledSource:
    """Read by the shared poller; the connection's task waits for what needs it."""

    __slots__ = (
        "_conn",
        "_decode",
        "_failure",
        "_fast",
        "_fd",
        "_handoff",
        "_poller",
        "_share",
        "_size",
        "_waiting",
    )

    def __init__(self, connection: Connection, poller: Poller, fd: int) -> None:
        self._conn = connection
        self._poller = poller
        self._fd = fd
        self._size = connection.config.receive_size
        self._fast: Fast | None = None
        #: The current stage's decoder (read once per stage, not per read).
        self._decode: Callable[[bytes | bytearray], Decoded] = _no_decoder
        self._handoff: _Handoff = _NOTHING
        #: What the fast path raised that is not an ``Exception`` (a ``KeyboardInterrupt``, a
        #: processor's own ``BaseException``): it belongs to the connection's task, not the poller.
        self._failure: BaseException | None = None
        self._waiting = trio.lowlevel.ParkingLot()
        self._share = connection.inbound.share

    async def next(self, fast: Fast) -> tuple[Decoded, int] | None:
        self._fast = fast
        decoder = self._conn.inbound.decoder
        assert decoder is not None  # a stage is running
        self._decode = decoder.decode
        self._handoff = _NOTHING
        self._listen()
        try:
            while self._handoff is _NOTHING and self._failure is None:
                await self._waiting.park()
            failure, self._failure = self._failure, None
            if failure is not None:
                raise failure
        except BaseException:
            # Cancelled (the stage ended, or a close) just as the poller handed a read over:
            # keep it where a stage hand-over finds it.
            handoff = self._handoff
            if handoff is not None and handoff is not _NOTHING:
                self._conn.inbound.held = handoff[0]
            raise
        finally:
            self._poller.unwatch(self._fd, self)
            if self._share is not None:
                self._share.unpause()
            self._fast = None
            self._decode = _no_decoder
            handoff, self._handoff = self._handoff, _NOTHING
        return handoff

    def _listen(self) -> None:
        """Be polled, unless the budget says wait: then be polled again once it frees."""
        if self._fast is None or self._handoff is not _NOTHING or self._failure is not None:
            return  # woken after this read was over
        share = self._share
        if share is not None and share.must_wait:
            share.pause(self._listen)
        else:
            self._poller.watch(self._fd, self)

    def _give(self, handoff: _Handoff) -> None:
        self._poller.unwatch(self._fd, self)
        self._handoff = handoff
        self._waiting.unpark_all()

    def on_readable(self) -> None:
        """One non-blocking read, decoded and offered to the fast path, in the poller's task."""
        conn = self._conn
        share = self._share
        if share is not None and share.held and share.must_wait:  # ``held`` first: no call
            self._poller.unwatch(self._fd, self)
            share.pause(self._listen)
            return
        try:
            data = os.read(self._fd, self._size)
        except BlockingIOError:
            return
        except OSError as exc:
            self._give(None)
            conn.read_failed(exc)
            return
        if not data:
            self._give(None)
            conn.input_ended()
            return
        size = len(data)
        conn.bytes_in += size
        conn.read_at = self._poller.round_at
        batch = self._decode(data)
        fast = self._fast
        try:
            if conn.stage_over or fast is None or not fast(batch, size):
                self._give((batch, size))
        except Exception:
            raise  # the poller aborts this connection alone
        except BaseException as failure:
            self._poller.unwatch(self._fd, self)
            self._failure = failure
            self._waiting.unpark_all()

    def on_failure(self, error: Exception) -> None:
        self._give(None)
        self._conn.abort(DisconnectReason.ABORTED, error)


def _no_decoder(data: bytes | bytearray) -> Decoded:
    raise AssertionError("read outside a stage")
