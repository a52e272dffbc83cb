"""Framers: where one message ends and the next begins, with no I/O.

A framer is fed the byte stream in whatever chunks the network delivers and returns the complete
frames (payloads without their delimiters) found so far, keeping a partial frame for the next
call.  Each enforces a hard ``max_message_size``: an oversize frame raises
:class:`~trio_reactive.errors.FrameTooLarge` as soon as it is seen, never buffering the excess.

Hot paths split with C-level operations (``bytes.split``, slicing by a fixed stride,
``struct.unpack_from`` with offsets); Python loops run once per *frame*, never per byte.

Every ``feed`` records what it examined (``examined``: the kept partial plus the new chunk) and
where the new chunk starts in it (``chunk_start``), and ``offset_after(data, count)`` finds where
the first ``count`` frames of ``data`` end.  Together they let the engine hand the exact bytes a
stage did not consume to the next stage's framer.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Protocol

from ..errors import ConfigError, EncodeError, FrameTooLarge

__all__ = ["FixedFramer", "Framer", "LengthPrefixedFramer", "LineFramer"]

_LENGTH = struct.Struct("<I")
MAX_U32 = 0xFFFFFFFF
#: The fewest frames of one length worth handling as a run (``LengthPrefixedFramer.feed_run``).
RUN_MINIMUM = 8


class Framer(Protocol):
    """What every framer provides (see the module docstring)."""

    max_message_size: int
    examined: bytes
    chunk_start: int

    def feed(self, data: bytes | bytearray) -> list[bytes]:
        """Return the frames completed by ``data``; keep the partial one."""
        ...

    def frame(self, payload: bytes) -> bytes:
        """Delimit one payload for the wire."""
        ...

    def frame_all(self, payloads: Iterable[bytes]) -> bytes:
        """Delimit many payloads into one buffer (one ``send_all``), checking each fits."""
        ...

    def join(self, payloads: list[bytes]) -> bytes:
        """``frame_all`` for payloads known to fit (a built-in serde made them): no checks."""
        ...

    def offset_after(self, data: bytes, count: int) -> int:
        """Offset in ``data`` (an ``examined`` value) just past its first ``count`` frames."""
        ...

    @property
    def pending(self) -> bytes:
        """The partial frame kept for the next call."""
        ...


def _check_limit(max_message_size: int) -> None:
    if not 1 <= max_message_size <= MAX_U32:
        raise ConfigError(f"max_message_size must be in 1..{MAX_U32}, got {max_message_size}")


class _FramerBase:
    __slots__ = ("_pending", "chunk_start", "examined", "max_message_size")

    def __init__(self, max_message_size: int) -> None:
        _check_limit(max_message_size)
        self.max_message_size = max_message_size
        self._pending = b""
        self.examined = b""
        self.chunk_start = 0

    @property
    def pending(self) -> bytes:
        return self._pending

    def _take(self, data: bytes | bytearray) -> bytes:
        """Join the kept partial frame with ``data`` and remember both for ``offset_after``."""
        pending = self._pending
        joined = pending + data if pending else bytes(data)
        self.examined = joined
        self.chunk_start = len(pending)
        return joined

    def frame_all(self, payloads: Iterable[bytes]) -> bytes:
        frame = self.frame  # type: ignore[attr-defined]
        return b"".join([frame(p) for p in payloads])

    def join(self, payloads: list[bytes]) -> bytes:
        return self.frame_all(payloads)


class LineFramer(_FramerBase):
    """UTF-8 text, one message per line ending in ``\\n``; a ``\\r`` before it is dropped.

    ``max_message_size`` bounds a line's length without its line ending.
    """

    __slots__ = ()

    def feed(self, data: bytes | bytearray) -> list[bytes]:
        joined = self._take(data)
        limit = self.max_message_size
        lines = joined.split(b"\n")
        tail = lines.pop()
        # A line can only be too long when the examined bytes are; skip the scan otherwise.
        if len(joined) > limit and lines and max(map(len, lines)) > limit:
            self._raise_on_long_line(lines, limit)
        if len(tail) > limit + tail.endswith(b"\r"):  # a last \r may start a \r\n ending
            self._pending = b""
            raise FrameTooLarge(len(tail), limit, self._strip(lines))
        self._pending = tail
        return self._strip(lines) if b"\r" in joined else lines

    def _raise_on_long_line(self, lines: list[bytes], limit: int) -> None:
        for index, line in enumerate(lines):
            size = len(line) - (1 if line.endswith(b"\r") else 0)
            if size > limit:
                self._pending = b""
                raise FrameTooLarge(size, limit, self._strip(lines[:index]))

    @staticmethod
    def _strip(lines: list[bytes]) -> list[bytes]:
        return [line[:-1] if line.endswith(b"\r") else line for line in lines]

    def frame(self, payload: bytes) -> bytes:
        if b"\n" in payload:
            raise EncodeError(f"a line payload cannot contain a newline: {payload[:48]!r}")
        return payload + b"\n"

    def frame_all(self, payloads: Iterable[bytes]) -> bytes:
        items = payloads if isinstance(payloads, list) else list(payloads)
        if not items:
            return b""
        joined = b"\n".join(items)
        if joined.count(b"\n") != len(items) - 1:  # one C-level count checks every payload
            for payload in items:
                self.frame(payload)
        return joined + b"\n"

    def join(self, payloads: list[bytes]) -> bytes:
        return b"\n".join(payloads) + b"\n" if payloads else b""

    def offset_after(self, data: bytes, count: int) -> int:
        offset = 0
        for _ in range(count):
            offset = data.index(b"\n", offset) + 1
        return offset


class FixedFramer(_FramerBase):
    """Every message is exactly ``size`` bytes: no delimiter at all."""

    __slots__ = ("size",)

    def __init__(self, size: int, max_message_size: int) -> None:
        super().__init__(max_message_size)
        if size < 1:
            raise ConfigError(f"fixed frame size must be at least 1 byte, got {size}")
        if size > max_message_size:
            raise ConfigError(
                f"fixed frame size {size} exceeds max_message_size={max_message_size}"
            )
        self.size = size

    def feed(self, data: bytes | bytearray) -> list[bytes]:
        joined = self._take(data)
        size = self.size
        end = len(joined) - len(joined) % size
        self._pending = joined[end:]
        if size == 1:
            return [joined[i : i + 1] for i in range(end)]
        return [joined[i : i + size] for i in range(0, end, size)]

    def feed_block(self, data: bytes | bytearray) -> bytes:
        """``feed``, with the complete records returned as one block instead of one per frame.

        The bookkeeping is ``feed``'s: ``examined`` starts with the block, so ``offset_after``
        and ``chunk_start`` mean the same, and the partial record is kept for the next call.
        """
        joined = self._take(data)
        end = len(joined) - len(joined) % self.size
        self._pending = joined[end:]
        return joined[:end]

    def frame(self, payload: bytes) -> bytes:
        if len(payload) != self.size:
            raise EncodeError(f"fixed frame must be {self.size} bytes, got {len(payload)}")
        return payload

    def frame_all(self, payloads: Iterable[bytes]) -> bytes:
        items = payloads if isinstance(payloads, list) else list(payloads)
        joined = b"".join(items)
        if len(joined) != len(items) * self.size or (items and max(map(len, items)) != self.size):
            for payload in items:
                self.frame(payload)
        return joined

    def join(self, payloads: list[bytes]) -> bytes:
        return b"".join(payloads)

    def offset_after(self, data: bytes, count: int) -> int:
        return count * self.size


class LengthPrefixedFramer(_FramerBase):
    """A u32 little-endian length (excluding itself), then that many payload bytes."""

    __slots__ = ()

    def feed(self, data: bytes | bytearray) -> list[bytes]:
        return self._frames(self._take(data), 0)

    def _frames(self, joined: bytes, position: int) -> list[bytes]:
        """The payloads of the frames of ``joined`` from ``position`` on; keep the partial one."""
        limit = self.max_message_size
        unpack_from = _LENGTH.unpack_from
        frames: list[bytes] = []
        append = frames.append
        available = len(joined)
        while available - position >= 4:
            (size,) = unpack_from(joined, position)
            if size > limit:
                self._pending = b""
                raise FrameTooLarge(size, limit, frames)
            end = position + 4 + size
            if end > available:
                break
            append(joined[position + 4 : end])
            position = end
        self._pending = joined[position:]
        return frames

    def feed_run(self, data: bytes | bytearray) -> tuple[int, int, list[bytes]]:
        """``feed``, with the frames of a leading run of one length left in ``examined``.

        Returns ``(stride, count, frames)``: the first ``count`` frames of ``examined`` are
        ``stride`` bytes each, prefix included, and are not sliced; ``frames`` are the payloads
        of the frames after them, as ``feed`` gives them.  A read of many messages of one
        fixed-size class is such a run, which a serde can decode as one block.

        The run is found without a Python step per frame: one stride slice per prefix byte
        gives that byte of every candidate frame, and its leading run of equal bytes
        (``lstrip``) how many frames agree.  A run shorter than ``RUN_MINIMUM`` frames is not
        one (``count`` is 0): below that, slicing costs less than looking.

        The bookkeeping is ``feed``'s (``examined``, ``chunk_start``, the partial frame kept),
        and so is an oversize frame's :class:`FrameTooLarge`, the run's frames sliced into its
        ``.frames`` before the others.
        """
        joined = self._take(data)
        stride = count = 0
        if len(joined) >= RUN_MINIMUM * 4:  # every frame has its 4-byte prefix
            (size,) = _LENGTH.unpack_from(joined, 0)
            stride = size + 4
            whole = len(joined) // stride
            if whole >= RUN_MINIMUM and size <= self.max_message_size:
                end = whole * stride
                count = whole
                for byte in range(4):
                    column = joined[byte:end:stride]
                    count = min(count, len(column) - len(column.lstrip(column[:1])))
                    if count < RUN_MINIMUM:
                        count = 0
                        break
        try:
            frames = self._frames(joined, count * stride)
        except FrameTooLarge as exc:
            if count:
                run = range(0, count * stride, stride)
                exc.frames[:0] = [joined[start + 4 : start + stride] for start in run]
            raise
        return stride, count, frames

    def frame(self, payload: bytes) -> bytes:
        return _LENGTH.pack(len(payload)) + payload

    def frame_all(self, payloads: Iterable[bytes]) -> bytes:
        pack = _LENGTH.pack
        parts: list[bytes] = []
        for payload in payloads:
            parts.append(pack(len(payload)))
            parts.append(payload)
        return b"".join(parts)

    def offset_after(self, data: bytes, count: int) -> int:
        offset = 0
        for _ in range(count):
            (size,) = _LENGTH.unpack_from(data, offset)
            offset += 4 + size
        return offset
