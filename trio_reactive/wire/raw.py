"""The raw codec's pieces: the byte stream itself, cut into chunks, as messages.

Some protocols are not split into messages: an HTTP body, a file transfer, a proxied stream.
Their messages here are the bytes as they arrive, as ``bytes`` chunks of at most
``max_message_size`` (a read is one chunk unless it is longer).  What is sent is written as it
is.  The chunking is a framer like the others, so the decoder's hand-over bookkeeping is the
same: a raw stage reports exactly the bytes it did not consume, and takes the bytes another
stage left.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .errors import EncodeError
from .framing import FramerBase
from .prefix import MAX_U32

__all__ = ["ChunkFramer", "RawSerde"]


class ChunkFramer(FramerBase):
    """Every read is its own frame, cut at ``max_message_size``; nothing is ever kept."""

    __slots__ = ()

    def __init__(self, max_message_size: int = MAX_U32) -> None:
        super().__init__(max_message_size)

    def feed(self, data: bytes | bytearray) -> list[bytes]:
        chunk = bytes(data)
        self._new_at = 0
        self.region = chunk
        self.end = len(chunk)
        limit = self.max_message_size
        if len(chunk) <= limit:
            return [chunk] if chunk else []
        return [chunk[i : i + limit] for i in range(0, len(chunk), limit)]

    def frame(self, payload: bytes) -> bytes:
        return payload

    def join(self, payloads: list[bytes]) -> bytes:
        return b"".join(payloads)

    def frame_all(self, payloads: Iterable[bytes]) -> bytes:
        return b"".join(payloads)

    def offset_after(self, data: bytes, count: int) -> int:
        return min(len(data), count * self.max_message_size)


_BYTES_LIKE = (bytes, bytearray, memoryview)


class RawSerde:
    """A chunk is its own payload: ``bytes`` in, ``bytes`` out (``bytearray`` and
    ``memoryview`` accepted when sending)."""

    def decode(self, payload: bytes) -> bytes:
        return payload

    def decode_many(self, payloads: list[bytes]) -> list[Any]:
        return payloads

    def encode(self, message: Any) -> bytes:
        if type(message) is bytes:
            return message
        if isinstance(message, _BYTES_LIKE):
            return bytes(message)
        raise EncodeError(f"the raw codec sends bytes, not {type(message).__name__}")

    def encode_many(self, messages: Sequence[Any]) -> list[bytes]:
        encode = self.encode
        return [encode(message) for message in messages]
