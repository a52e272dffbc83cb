"""Encoders: outgoing messages to framed bytes, refusing any payload over the limit."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .errors import EncodeError
from .framing import Framer
from .prefix import PREFIX_SIZE
from .serde import BatchSerde

__all__ = ["Encoder", "FramingEncoder"]

_NONE: Mapping[type, Callable[[Any], bytes]] = {}


class Encoder:
    """Encodes and frames outgoing messages, refusing any payload over ``max_message_size``.

    What needs checking is decided by the codec, once: a built-in serde (``trusted``) makes
    payloads that fit its framing, and a codec whose payloads are never over the limit (fixed
    records no larger than it) passes ``check_sizes=False``.
    """

    __slots__ = (
        "_check_sizes",
        "_encode",
        "_encode_many",
        "_frame",
        "_frame_all",
        "frames",
        "max_message_size",
    )

    def __init__(
        self,
        framer: Framer,
        serde: BatchSerde,
        max_message_size: int,
        *,
        trusted: bool = False,
        check_sizes: bool = True,
        frames: Mapping[type, Callable[[Any], bytes]] = _NONE,
    ) -> None:
        self._encode = serde.encode
        self._encode_many = serde.encode_many
        self._frame = framer.frame
        self._frame_all = framer.join if trusted else framer.frame_all
        self._check_sizes = check_sizes
        self.max_message_size = max_message_size
        #: For the classes a codec can, one step from a message to its whole frame, within the
        #: limit: a lone reply's fastest way.  Each may raise anything for a value it cannot
        #: encode (or one over the limit); :meth:`encode` then says what is wrong.
        self.frames = frames

    def encode(self, message: Any) -> bytes:
        """One message, framed, ready for the socket."""
        payload = self._encode(message)
        if len(payload) > self.max_message_size:
            raise EncodeError(self._too_large(message, len(payload)))
        return self._frame(payload)

    def encode_batch(self, messages: Sequence[Any]) -> bytes:
        """Many messages framed into one buffer (one ``send_all``)."""
        payloads = self._encode_many(messages)
        if self._check_sizes and payloads and max(map(len, payloads)) > self.max_message_size:
            for message, payload in zip(messages, payloads, strict=True):
                if len(payload) > self.max_message_size:
                    raise EncodeError(self._too_large(message, len(payload)))
        return self._frame_all(payloads)

    def _too_large(self, message: Any, size: int) -> str:
        return (
            f"{type(message).__name__} encodes to {size} bytes, over "
            f"max_message_size={self.max_message_size}"
        )


class FramingEncoder(Encoder):
    """An encoder whose codec makes each message's whole frame in one step (``frames``).

    The built-in variable codec's frames are a length prefix and a payload: for a fixed-size
    class, one ``pack`` instead of a ``pack`` each and a join.  Anything out of the ordinary (a
    message that cannot be encoded, a frame over the limit) goes the ``Encoder`` way, which
    says what is wrong.
    """

    __slots__ = ("_frame_limit", "_frames")

    def __init__(
        self,
        framer: Framer,
        serde: BatchSerde,
        max_message_size: int,
        frames: Callable[[Sequence[Any]], list[bytes]],
        lone: Mapping[type, Callable[[Any], bytes]] = _NONE,
    ) -> None:
        super().__init__(framer, serde, max_message_size, trusted=True, frames=lone)
        self._frames = frames
        self._frame_limit = max_message_size + PREFIX_SIZE

    def encode_batch(self, messages: Sequence[Any]) -> bytes:
        try:
            frames = self._frames(messages)
        except Exception:
            return super().encode_batch(messages)  # raises the EncodeError naming the message
        if frames and max(map(len, frames)) > self._frame_limit:
            return super().encode_batch(messages)  # raises for the message over the limit
        return b"".join(frames)
