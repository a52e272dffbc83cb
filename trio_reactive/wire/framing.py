"""Framers: where one message ends and the next begins, with no I/O.

A framer is fed the byte stream in whatever chunks the network delivers and returns the complete
frames (payloads without their delimiters) found so far, keeping a partial frame for the next
call.  Each enforces a hard ``max_message_size``: an oversize frame raises
:class:`~trio_reactive.wire.errors.FrameTooLarge` as soon as it is seen, never buffering the
excess.

Costs are linear in the bytes fed, however they are cut.  The partial frame is kept as a list of
the pieces that make it, and a piece that completes no frame is only appended (after a check
that needs the piece alone: a newline in it, a length reached); the pieces are joined once, by
the read that completes a frame (``python -m benchmarks.codecs --large`` measures it).

Hot paths split with C-level operations (``bytes.split``, slicing by a fixed stride,
``struct.unpack_from`` with offsets); Python loops run once per *frame*, never per byte.

For a stage hand-over the decoder needs the bytes the frames came from: after each ``feed``,
``region`` holds the bytes framed (the joined partial and the read, or nothing when no frame
completed) and ``end`` where its last complete frame ends, and ``offset_after`` finds where
the first frames of such bytes end.  ``region`` and ``end`` are the built-in framers' own
(:class:`FramerBase`), read by the decoders only.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from .errors import ConfigError, DecodeError, EncodeError, FrameTooLarge
from .prefix import LENGTH, MAX_U32, PREFIX_SIZE

__all__ = ["FixedFramer", "Framer", "FramerBase", "LengthPrefixedFramer", "LineFramer"]

#: The fewest frames of one length worth handling as a run (``LengthPrefixedFramer.feed_run``).
RUN_MINIMUM = 8


class Framer(Protocol):
    """What every framer provides (see the module docstring)."""

    max_message_size: int

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
        """Offset in ``data``, bytes this framer framed, just past their first ``count`` frames."""
        ...

    @property
    def pending(self) -> bytes:
        """The partial frame kept for the next call."""
        ...


def _check_limit(max_message_size: int) -> None:
    if not 1 <= max_message_size <= MAX_U32:
        raise ConfigError(f"max_message_size must be in 1..{MAX_U32}, got {max_message_size}")


class FramerBase:
    """What the built-in framers share: the partial frame as unjoined pieces, and the hand-over
    bookkeeping of the last feed that decoders use (see the module docstring)."""

    __slots__ = ("_kept", "_kept_size", "_new_at", "end", "max_message_size", "region")

    def __init__(self, max_message_size: int) -> None:
        _check_limit(max_message_size)
        self.max_message_size = max_message_size
        self._kept: list[bytes] = []
        self._kept_size = 0
        self._new_at = 0
        #: The bytes the last ``feed`` framed, or ``b""`` when it completed no frame.
        self.region = b""
        #: Where the last complete frame of ``region`` ends (all of it after an overflow).
        self.end = 0

    @property
    def pending(self) -> bytes:
        kept = self._kept
        return kept[0] if len(kept) == 1 else b"".join(kept)

    @property
    def examined(self) -> bytes:
        """The partial frame kept before the last ``feed``, then what it was fed.

        The engine's former hand-over bookkeeping, with ``chunk_start`` (where the fed bytes
        begin in it); :meth:`~trio_reactive.wire.decoder.Decoder.unconsumed` replaces both.
        """
        return self.region or self.pending

    @property
    def chunk_start(self) -> int:
        return self._new_at

    def _keep(self, data: bytes | bytearray) -> list[bytes]:
        """``data`` completes no frame: one more piece of the partial frame, not joined."""
        self._new_at = self._kept_size
        self._kept.append(bytes(data))
        self._kept_size += len(data)
        self.region = b""
        self.end = 0
        return []

    def _joined(self, data: bytes | bytearray) -> bytes:
        """``data`` completes a frame: the partial frame's pieces and ``data``, joined once."""
        kept = self._kept
        self._new_at = self._kept_size
        if kept:
            kept.append(bytes(data))
            joined = b"".join(kept)
        else:
            joined = bytes(data)
        self.region = joined
        return joined

    def _rest(self, joined: bytes, end: int) -> None:
        """The frames of ``joined`` end at ``end``: what follows is the new partial frame."""
        self.end = end
        if not end:  # nothing framed after all (a prefix read whose payload is yet to come)
            self.region = b""
        tail = joined[end:] if 0 < end < len(joined) else (joined if not end else b"")
        self._kept = [tail] if tail else []
        self._kept_size = len(tail)

    def _overflow(self, size: int, frames: list[bytes], joined: bytes | None) -> FrameTooLarge:
        """Past ``frames`` the input cannot be framed: all of it is left for a hand-over."""
        if joined is None:
            joined = b"".join(self._kept)
            self.region = joined
        self.end = len(joined)
        self._kept = []
        self._kept_size = 0
        return FrameTooLarge(size, self.max_message_size, frames)

    def flush(self) -> tuple[list[bytes], DecodeError | None]:
        """The input has ended: the frames the partial frame still makes, and what is left.

        The leftover bytes of an incomplete frame come back as a :class:`DecodeError` saying so;
        either way the framer keeps nothing.  ``region`` and ``end`` cover those bytes.
        """
        rest = self.pending
        self.region = rest
        self.end = len(rest)
        self._kept = []
        self._kept_size = 0
        if not rest:
            return [], None
        return self._flush(rest)

    def _flush(self, rest: bytes) -> tuple[list[bytes], DecodeError | None]:
        return [], DecodeError(f"the input ended inside a frame ({len(rest)} bytes)", rest)

    def feed(self, data: bytes | bytearray) -> list[bytes]:
        raise NotImplementedError

    def frame(self, payload: bytes) -> bytes:
        raise NotImplementedError

    def frame_all(self, payloads: Iterable[bytes]) -> bytes:
        frame = self.frame
        return b"".join([frame(p) for p in payloads])

    def join(self, payloads: list[bytes]) -> bytes:
        return self.frame_all(payloads)

    def offset_after(self, data: bytes, count: int) -> int:
        raise NotImplementedError


class LineFramer(FramerBase):
    """UTF-8 text, one message per line ending in ``\\n`` (or ``\\r\\n``).

    ``max_message_size`` bounds a line's length without its line ending.  By default a frame
    is the line without its ending and empty lines are skipped, as line protocols do;
    ``keep_endings`` delivers every line with its ending (so an empty line is ``b"\\r\\n"`` or
    ``b"\\n"``, never skipped), and then each payload to send must end in ``\\n`` itself.
    ``deliver_last_line`` makes a last line that the input ends without a newline a frame,
    instead of reporting it.
    """

    __slots__ = ("deliver_last_line", "keep_endings", "skip_empty")

    def __init__(
        self,
        max_message_size: int = MAX_U32,
        *,
        keep_endings: bool = False,
        skip_empty: bool = True,
        deliver_last_line: bool = False,
    ) -> None:
        super().__init__(max_message_size)
        self.keep_endings = keep_endings
        self.skip_empty = skip_empty and not keep_endings
        self.deliver_last_line = deliver_last_line

    def feed(self, data: bytes | bytearray) -> list[bytes]:
        limit = self.max_message_size
        if b"\n" not in data:
            size = self._kept_size + len(data)
            if size > limit + data.endswith(b"\r"):  # a last \r may start a \r\n ending
                raise self._overflow(size, [], None)
            return self._keep(data)
        joined = self._joined(data)
        lines = joined.split(b"\n")
        tail = lines.pop()
        # A line can only be too long when the joined bytes are; skip the scan otherwise.
        if len(joined) > limit and max(map(len, lines)) > limit:
            self._raise_on_long_line(lines, limit, joined)
        if len(tail) > limit + tail.endswith(b"\r"):
            raise self._overflow(len(tail), self._frames(lines, joined), joined)
        self._rest(joined, len(joined) - len(tail))
        return self._frames(lines, joined)

    def _raise_on_long_line(self, lines: list[bytes], limit: int, joined: bytes) -> None:
        for index, line in enumerate(lines):
            size = len(line) - (1 if line.endswith(b"\r") else 0)
            if size > limit:
                raise self._overflow(size, self._frames(lines[:index], joined), joined)

    def _frames(self, lines: list[bytes], joined: bytes) -> list[bytes]:
        """The frames of complete ``lines`` (split off their ``\\n``), as the options want them."""
        if self.keep_endings:
            return [line + b"\n" for line in lines]
        if b"\r" in joined:
            lines = [line[:-1] if line.endswith(b"\r") else line for line in lines]
        if self.skip_empty and b"" in lines:
            lines = [line for line in lines if line]
        return lines

    def _flush(self, rest: bytes) -> tuple[list[bytes], DecodeError | None]:
        if self.deliver_last_line:  # as it is: with no newline to strip or keep
            return ([rest] if self.keep_endings else self._frames([rest], rest)), None
        reason = f"the input ended inside a line: {len(rest)} bytes with no newline after them"
        return [], DecodeError(reason, rest)

    def frame(self, payload: bytes) -> bytes:
        if self.keep_endings:
            if not payload or payload.find(b"\n") != len(payload) - 1:
                raise EncodeError(
                    f"a kept-ending line payload must end in its one newline: {payload[:48]!r}"
                )
            return payload
        if b"\n" in payload:
            raise EncodeError(f"a line payload cannot contain a newline: {payload[:48]!r}")
        return payload + b"\n"

    def frame_all(self, payloads: Iterable[bytes]) -> bytes:
        items = payloads if isinstance(payloads, list) else list(payloads)
        if not items:
            return b""
        if self.keep_endings:
            return b"".join([self.frame(payload) for payload in items])
        joined = b"\n".join(items)
        if joined.count(b"\n") != len(items) - 1:  # one C-level count checks every payload
            for payload in items:
                self.frame(payload)
        return joined + b"\n"

    def join(self, payloads: list[bytes]) -> bytes:
        if self.keep_endings:
            return b"".join(payloads)
        return b"\n".join(payloads) + b"\n" if payloads else b""

    def offset_after(self, data: bytes, count: int) -> int:
        """Where the first ``count`` frames of ``data`` end.

        A skipped empty line goes with the frame before it: the offset is past the empty lines
        that follow the last of the ``count`` frames, as it is past those between them.
        """
        if not count:
            return 0
        offset = 0
        empty = self._empty_line
        for _ in range(count):
            start = offset
            offset = data.index(b"\n", offset) + 1
            while empty(data, start, offset):
                start = offset
                offset = data.index(b"\n", offset) + 1
        while True:
            stop = data.find(b"\n", offset) + 1
            if not (stop and empty(data, offset, stop)):
                return offset
            offset = stop

    def _empty_line(self, data: bytes, start: int, stop: int) -> bool:
        """Whether ``data[start:stop]``, a line with its ``\n``, is one this framer skips."""
        size = stop - start
        return self.skip_empty and (size == 1 or (size == 2 and data[start] == 13))


class FixedFramer(FramerBase):
    """Every message is exactly ``size`` bytes: no delimiter at all."""

    __slots__ = ("size",)

    def __init__(self, size: int, max_message_size: int = MAX_U32) -> None:
        super().__init__(max_message_size)
        if size < 1:
            raise ConfigError(f"fixed frame size must be at least 1 byte, got {size}")
        if size > max_message_size:
            raise ConfigError(
                f"fixed frame size {size} exceeds max_message_size={max_message_size}"
            )
        self.size = size

    def feed(self, data: bytes | bytearray) -> list[bytes]:
        size = self.size
        block = self.feed_block(data)
        if size == 1:
            return [block[i : i + 1] for i in range(len(block))]
        return [block[i : i + size] for i in range(0, len(block), size)]

    def feed_block(self, data: bytes | bytearray) -> bytes:
        """``feed``, with the complete records returned as one block instead of one per frame."""
        total = self._kept_size + len(data)
        if total < self.size:
            self._keep(data)
            return b""
        joined = self._joined(data)
        end = total - total % self.size
        self._rest(joined, end)
        return joined if end == total else joined[:end]

    def _flush(self, rest: bytes) -> tuple[list[bytes], DecodeError | None]:
        reason = f"the input ended inside a record: {len(rest)} of its {self.size} bytes"
        return [], DecodeError(reason, rest)

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


class LengthPrefixedFramer(FramerBase):
    """A u32 little-endian length (excluding itself), then that many payload bytes."""

    __slots__ = ("_need",)

    def __init__(self, max_message_size: int = MAX_U32) -> None:
        super().__init__(max_message_size)
        #: The bytes the partial frame needs in all, once its prefix is in (else 0).
        self._need = 0

    def feed(self, data: bytes | bytearray) -> list[bytes]:
        if self._kept and self._kept_size + len(data) < (self._need or PREFIX_SIZE):
            return self._keep(data)
        return self._frames(self._joined(data), 0)

    def _frames(self, joined: bytes, position: int) -> list[bytes]:
        """The payloads of the frames of ``joined`` from ``position`` on; keep the partial one."""
        limit = self.max_message_size
        unpack_from = LENGTH.unpack_from
        frames: list[bytes] = []
        append = frames.append
        available = len(joined)
        need = 0
        while available - position >= PREFIX_SIZE:
            (size,) = unpack_from(joined, position)
            if size > limit:
                self._need = 0
                raise self._overflow(size, frames, joined)
            end = position + PREFIX_SIZE + size
            if end > available:
                need = end - position
                break
            append(joined[position + PREFIX_SIZE : end])
            position = end
        self._need = need
        self._rest(joined, position)
        return frames

    def feed_run(self, data: bytes | bytearray) -> tuple[bytes, int, int, list[bytes]]:
        """``feed``, with the frames of a leading run of one length left unsliced.

        Returns ``(buffer, stride, count, frames)``: the first ``count`` frames of ``buffer``
        are ``stride`` bytes each, prefix included, and are not sliced; ``frames`` are the
        payloads of the frames after them, as ``feed`` gives them.  A read of many messages of
        one fixed-size class is such a run, which a serde can decode as one block.

        The run is found without a Python step per frame: one stride slice per prefix byte
        gives that byte of every candidate frame, and its leading run of equal bytes
        (``lstrip``) how many frames agree.  A run shorter than ``RUN_MINIMUM`` frames is not
        one (``count`` is 0): below that, slicing costs less than looking.

        An oversize frame raises ``feed``'s :class:`FrameTooLarge`, the run's frames sliced
        into its ``.frames`` before the others.
        """
        if self._kept and self._kept_size + len(data) < (self._need or PREFIX_SIZE):
            return b"", 0, 0, self._keep(data)
        joined = self._joined(data)
        stride = count = 0
        if len(joined) >= RUN_MINIMUM * PREFIX_SIZE:
            (size,) = LENGTH.unpack_from(joined, 0)
            stride = size + PREFIX_SIZE
            whole = len(joined) // stride
            if whole >= RUN_MINIMUM and size <= self.max_message_size:
                end = whole * stride
                count = whole
                for byte in range(PREFIX_SIZE):
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
                exc.frames[:0] = [joined[start + PREFIX_SIZE : start + stride] for start in run]
            raise
        return joined, stride, count, frames

    def _flush(self, rest: bytes) -> tuple[list[bytes], DecodeError | None]:
        self._need = 0
        if len(rest) < PREFIX_SIZE:
            reason = f"the input ended inside a length prefix: {len(rest)} of its 4 bytes"
        else:
            (size,) = LENGTH.unpack_from(rest, 0)
            got = len(rest) - PREFIX_SIZE
            reason = f"the input ended inside a frame: {got} of its {size} payload bytes"
        return [], DecodeError(reason, rest)

    def frame(self, payload: bytes) -> bytes:
        return LENGTH.pack(len(payload)) + payload

    def frame_all(self, payloads: Iterable[bytes]) -> bytes:
        pack = LENGTH.pack
        parts: list[bytes] = []
        for payload in payloads:
            parts.append(pack(len(payload)))
            parts.append(payload)
        return b"".join(parts)

    def offset_after(self, data: bytes, count: int) -> int:
        offset = 0
        for _ in range(count):
            (size,) = LENGTH.unpack_from(data, offset)
            offset += PREFIX_SIZE + size
        return offset
