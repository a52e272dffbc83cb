"""What every framer provides, and what the built-in ones share (see the package docstring)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Protocol

from ..errors import ConfigError, DecodeError, FrameTooLarge
from ..prefix import MAX_U32

__all__ = ["RUN_MINIMUM", "Framer", "FramerBase"]

#: The fewest frames of one length worth handling as a run (``LengthPrefixedFramer.feed_run``).
RUN_MINIMUM = 8


class Framer(Protocol):
    """What every framer provides (see the package docstring)."""

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


class FramerBase(ABC):
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

    def lone(self, data: bytes | bytearray) -> bytes | None:
        """The payload when ``data`` is exactly one whole frame and nothing is kept (the read
        of a request/response peer), else None: ``feed`` it then.  Only a look: the framer
        is left as it is (nothing kept before, nothing after; ``region`` and ``end`` still
        describe the last ``feed``).  A framer with no such shortcut always says None."""
        return None

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

    @abstractmethod
    def feed(self, data: bytes | bytearray) -> list[bytes]:
        """The frames ``data`` completes; the partial one is kept."""

    @abstractmethod
    def frame(self, payload: bytes) -> bytes:
        """One payload, delimited for the wire."""

    def frame_all(self, payloads: Iterable[bytes]) -> bytes:
        frame = self.frame
        return b"".join([frame(p) for p in payloads])

    def join(self, payloads: list[bytes]) -> bytes:
        return self.frame_all(payloads)

    @abstractmethod
    def offset_after(self, data: bytes, count: int) -> int:
        """Where the first ``count`` frames of ``data`` end."""


