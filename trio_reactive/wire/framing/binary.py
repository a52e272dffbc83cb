"""The binary codecs' framers: records of one size, and u32-length-prefixed frames."""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import ConfigError, DecodeError, EncodeError, FrameTooLarge
from ..prefix import LENGTH, MAX_U32, PREFIX_SIZE
from .base import RUN_MINIMUM, FramerBase

__all__ = ["FixedFramer", "LengthPrefixedFramer"]


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

    def lone(self, data: bytes | bytearray) -> bytes | None:
        if self._kept or len(data) != self.size or type(data) is not bytes:
            return None
        return data

    def feed_block(self, data: bytes | bytearray) -> bytes:
        """``feed``, with the complete records returned as one block instead of one per frame."""
        if not self._kept and data and not len(data) % self.size and type(data) is bytes:
            self._new_at = 0  # whole records and nothing kept (the usual read): as it is
            self.region = data
            self.end = len(data)
            return data
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
    """A u32 little-endian length (excluding itself), then that many payload bytes.

    ``skip_empty`` drops zero-length frames instead of delivering empty payloads: for a serde
    no message of which encodes to zero bytes, where an empty frame is free to mean "still
    here" (a heartbeat).  A skipped frame goes with the frame before it, as a skipped empty
    line does (see :meth:`offset_after`).
    """

    __slots__ = ("_need", "skip_empty")

    def __init__(self, max_message_size: int = MAX_U32, *, skip_empty: bool = False) -> None:
        super().__init__(max_message_size)
        #: The bytes the partial frame needs in all, once its prefix is in (else 0).
        self._need = 0
        self.skip_empty = skip_empty

    def lone(self, data: bytes | bytearray) -> bytes | None:
        if self._kept or len(data) <= PREFIX_SIZE or type(data) is not bytes:
            return None
        (size,) = LENGTH.unpack_from(data)
        if size + PREFIX_SIZE != len(data) or size > self.max_message_size:
            return None
        return data[PREFIX_SIZE:]

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
        skip_empty = self.skip_empty
        while available - position >= PREFIX_SIZE:
            (size,) = unpack_from(joined, position)
            if size > limit:
                self._need = 0
                raise self._overflow(size, frames, joined)
            end = position + PREFIX_SIZE + size
            if end > available:
                need = end - position
                break
            if size or not skip_empty:
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
            if whole >= RUN_MINIMUM and size <= self.max_message_size and size:
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
        offset = self._past_empty(data, 0)
        for _ in range(count):
            (size,) = LENGTH.unpack_from(data, offset)
            offset = self._past_empty(data, offset + PREFIX_SIZE + size)
        return offset

    def _past_empty(self, data: bytes, offset: int) -> int:
        """``offset`` moved past the skipped zero-length frames that start there."""
        if self.skip_empty:
            while len(data) - offset >= PREFIX_SIZE and not LENGTH.unpack_from(data, offset)[0]:
                offset += PREFIX_SIZE
        return offset

