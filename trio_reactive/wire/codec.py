"""Codecs: a framer plus a serde, chosen at run time by a value.

``Textual()``, ``FixedBinary()`` and ``VariableBinary()`` describe *how* messages travel; the same
attrs classes work with each.  A codec description is compiled once per protocol side into a
:class:`CompiledCodec` (schemas derived, structs built); each connection then gets its own
stateful :class:`Decoder` and a size-checking :class:`Encoder`, both with batch entry points so
the engine handles a whole network read or a whole queue drain per call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import attrs

from ..errors import ConfigError, EncodeError, FrameTooLarge
from .fixed_serde import FixedSerde, length_prefixed_frames
from .framing import (
    MAX_U32,
    RUN_MINIMUM,
    FixedFramer,
    Framer,
    LengthPrefixedFramer,
    LineFramer,
)
from .json_serde import JsonSerde
from .serde import BatchSerde, Serde, as_batch_serde
from .variable_serde import VariableSerde

__all__ = [
    "Codec",
    "CompiledCodec",
    "Decoded",
    "Decoder",
    "Encoder",
    "FixedBinary",
    "FixedDecoder",
    "FramingEncoder",
    "Textual",
    "VariableBinary",
    "VariableDecoder",
]


class Codec(Protocol):
    """A wire form: builds the compiled codec for one direction pair of a protocol."""

    @property
    def name(self) -> str: ...

    def compile(
        self, decode_types: tuple[type, ...], encode_types: tuple[type, ...]
    ) -> CompiledCodec: ...


class Decoded:
    """What one read decoded: its messages, and the bytes of their frames for a hand-over.

    ``messages`` holds a :class:`~trio_reactive.errors.DecodeError` in place of each bad
    frame.  ``overflow`` is the :class:`~trio_reactive.errors.FrameTooLarge` met after them:
    past it the input cannot be framed by this codec, and the decoder takes no more.  The frame
    bytes are kept by reference (no copy); only :meth:`Decoder.unconsumed` slices them.
    """

    __slots__ = ("_end", "_region", "messages", "overflow")

    def __init__(
        self, messages: list[Any], overflow: FrameTooLarge | None, region: bytes, end: int
    ) -> None:
        self.messages = messages
        self.overflow = overflow
        self._region = region
        self._end = end


class Decoder:
    """Per-connection decoding state: a framer's partial frame and the serde to apply."""

    __slots__ = ("decode_frames", "framer")

    def __init__(self, framer: Framer, serde: BatchSerde) -> None:
        self.framer = framer
        self.decode_frames: Callable[[list[bytes]], list[Any]] = serde.decode_many

    def decode(self, data: bytes | bytearray) -> Decoded:
        """Decode every complete frame in ``data``, as :meth:`decode_batch` does, never raising.

        An oversize frame ends the :class:`Decoded` (its ``overflow``) with the frames before it
        decoded; the bytes from that frame on stay available to :meth:`unconsumed`.
        """
        overflow = None
        try:
            messages = self.decode_batch(data)
        except FrameTooLarge as exc:
            messages = self.decode_frames(exc.frames)
            # A value from now on, like a DecodeError in ``messages``: its traceback would keep
            # the caller's frames (and what they hold) alive for as long as it is kept.
            overflow = exc.with_traceback(None)
        framer = self.framer
        examined = framer.examined
        end = len(examined) if overflow is not None else len(examined) - len(framer.pending)
        return Decoded(messages, overflow, examined, end)

    def unconsumed(self, batches: Sequence[Decoded], consumed: int = 0) -> bytes:
        """The exact bytes read and not consumed, for another codec to frame afresh.

        ``batches``: every :class:`Decoded` of this decoder not yet wholly consumed, oldest
        first, of which the first has had ``consumed`` messages handled.  The result is their
        remaining frames' bytes, then the partial frame this decoder keeps.
        """
        parts = []
        offset_after = self.framer.offset_after
        for index, batch in enumerate(batches):
            region = batch._region
            start = offset_after(region, consumed) if index == 0 and consumed else 0
            if start < batch._end:
                parts.append(region[start : batch._end])
        parts.append(self.framer.pending)
        return b"".join(parts)

    def decode_batch(self, data: bytes | bytearray) -> list[Any]:
        """Decode every complete frame in ``data``; a bad frame yields a DecodeError in its place.

        Raises :class:`~trio_reactive.errors.FrameTooLarge` (with the frames accepted before it in
        ``.frames``) when a frame exceeds the limit.
        """
        return self.decode_frames(self.framer.feed(data))


class FixedDecoder(Decoder):
    """The built-in fixed codec's decoder: a read's whole records go to the serde as one block.

    The records are not sliced one by one: ``FixedFramer.feed_block`` hands over the aligned
    block and ``FixedSerde.decode_block`` decodes it with one ``iter_unpack`` (see there), giving
    exactly what ``decode_frames(framer.feed(data))`` would.
    """

    __slots__ = ("_decode_block", "_feed_block")

    def __init__(self, framer: Framer, serde: BatchSerde) -> None:
        if not (isinstance(framer, FixedFramer) and isinstance(serde, FixedSerde)):
            raise TypeError("a FixedDecoder needs a FixedFramer and a FixedSerde")
        super().__init__(framer, serde)
        self._feed_block = framer.feed_block
        self._decode_block = serde.decode_block

    def decode_batch(self, data: bytes | bytearray) -> list[Any]:
        return self._decode_block(self._feed_block(data))


class VariableDecoder(Decoder):
    """The built-in variable codec's decoder: a run of frames of one length is not sliced.

    ``LengthPrefixedFramer.feed_run`` leaves the read's leading run of frames of one length
    where it lies, and ``VariableSerde.decode_run`` decodes it as one block when it is of one
    fixed-size class (see both); the frames after it go the ``Decoder`` way.  The messages are
    exactly what ``decode_frames(framer.feed(data))`` would give, and an oversize frame raises
    the same :class:`~trio_reactive.errors.FrameTooLarge`, with the run in its ``.frames``.
    """

    __slots__ = ("_decode_run", "_feed", "_feed_run", "_run_bytes")

    def __init__(self, framer: Framer, serde: BatchSerde) -> None:
        if not (isinstance(framer, LengthPrefixedFramer) and isinstance(serde, VariableSerde)):
            raise TypeError("a VariableDecoder needs a LengthPrefixedFramer and a VariableSerde")
        if serde.smallest_fixed_frame is None:
            raise TypeError("a VariableDecoder needs a VariableSerde with a fixed-size class")
        super().__init__(framer, serde)
        self._feed = framer.feed
        self._feed_run = framer.feed_run
        self._decode_run = serde.decode_run
        #: A read shorter than this holds no run worth decoding as a block: it is not looked at.
        self._run_bytes = RUN_MINIMUM * serde.smallest_fixed_frame

    def decode_batch(self, data: bytes | bytearray) -> list[Any]:
        if len(data) < self._run_bytes:
            return self.decode_frames(self._feed(data))
        stride, count, frames = self._feed_run(data)
        if not count:
            return self.decode_frames(frames)
        out = self._decode_run(self.framer.examined, stride, count)
        if frames:
            out += self.decode_frames(frames)
        return out


class Encoder:
    """Encodes and frames outgoing messages, refusing any payload over ``max_message_size``.

    What needs checking is decided here, once: a built-in serde (``trusted``) makes payloads
    that fit its framing, and fixed-size records no larger than the limit need no size check.
    """

    __slots__ = (
        "_check_sizes",
        "_encode",
        "_encode_many",
        "_frame",
        "_frame_all",
        "max_message_size",
    )

    def __init__(
        self, framer: Framer, serde: BatchSerde, max_message_size: int, *, trusted: bool = False
    ) -> None:
        self._encode = serde.encode
        self._encode_many = serde.encode_many
        self._frame = framer.frame
        self._frame_all = framer.join if trusted else framer.frame_all
        self._check_sizes = not (
            isinstance(framer, FixedFramer) and framer.size <= max_message_size
        )
        self.max_message_size = max_message_size

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
        framer: LengthPrefixedFramer,
        serde: BatchSerde,
        max_message_size: int,
        frames: Callable[[Sequence[Any]], list[bytes]],
    ) -> None:
        super().__init__(framer, serde, max_message_size, trusted=True)
        self._frames = frames
        self._frame_limit = max_message_size + _PREFIX

    def encode_batch(self, messages: Sequence[Any]) -> bytes:
        try:
            frames = self._frames(messages)
        except Exception:
            return super().encode_batch(messages)  # raises the EncodeError naming the message
        if frames and max(map(len, frames)) > self._frame_limit:
            return super().encode_batch(messages)  # raises for the message over the limit
        return b"".join(frames)


_PREFIX = 4  # the length prefix of LengthPrefixedFramer


@attrs.frozen
class CompiledCodec:
    """A codec built for one protocol side: what it decodes and what it encodes.

    Framers are per direction: a fixed-size codec's records may differ in size between what a
    side reads and what it writes.
    """

    name: str
    serde: BatchSerde
    inbound_framer: Callable[[int], Framer]
    outbound_framer: Callable[[int], Framer]
    #: The serde is a built-in one, whose payloads always fit the framing.
    trusted: bool = False
    #: What decodes each connection's input: a ``Decoder`` or a faster one made for the codec.
    decoder_type: type[Decoder] = Decoder
    #: Whole length-prefixed frames of many messages, when the codec makes them in one step.
    prefixed_frames: Callable[[Sequence[Any]], list[bytes]] | None = None

    def decoder(self, max_message_size: int = MAX_U32) -> Decoder:
        return self.decoder_type(self.inbound_framer(max_message_size), self.serde)

    def encoder(self, max_message_size: int = MAX_U32) -> Encoder:
        framer = self.outbound_framer(MAX_U32)
        if self.prefixed_frames is not None and isinstance(framer, LengthPrefixedFramer):
            return FramingEncoder(framer, self.serde, max_message_size, self.prefixed_frames)
        return Encoder(framer, self.serde, max_message_size, trusted=self.trusted)


def _custom_or(serde: Serde | None, build: Callable[[], BatchSerde]) -> BatchSerde:
    return build() if serde is None else as_batch_serde(serde)


@attrs.frozen
class Textual:
    """Newline-separated UTF-8 text; JSON objects via cattrs + orjson unless ``serde`` is given."""

    serde: Serde | None = None
    name: str = attrs.field(default="textual", init=False)

    def compile(
        self, decode_types: tuple[type, ...], encode_types: tuple[type, ...]
    ) -> CompiledCodec:
        serde = _custom_or(self.serde, lambda: JsonSerde(decode_types, encode_types))
        return CompiledCodec(self.name, serde, LineFramer, LineFramer, self.serde is None)


@attrs.frozen
class FixedBinary:
    """Every message is one fixed-size record; a struct layout derived from the attrs fields.

    With a custom ``serde``, give ``size``: the record size it reads and writes.
    """

    serde: Serde | None = None
    size: int | None = None
    name: str = attrs.field(default="fixed", init=False)

    def compile(
        self, decode_types: tuple[type, ...], encode_types: tuple[type, ...]
    ) -> CompiledCodec:
        if self.serde is None:
            built = FixedSerde(decode_types, encode_types)
            inbound_size, outbound_size = built.decode_size, built.encode_size
            serde: BatchSerde = built
        else:
            if self.size is None:
                raise ConfigError("FixedBinary with a custom serde needs size=<record bytes>")
            inbound_size = outbound_size = self.size
            serde = as_batch_serde(self.serde)
        return CompiledCodec(
            self.name,
            serde,
            lambda limit: FixedFramer(inbound_size, limit),
            lambda limit: FixedFramer(outbound_size, limit),
            self.serde is None,
            FixedDecoder if self.serde is None else Decoder,
        )


@attrs.frozen
class VariableBinary:
    """A u32 little-endian length prefix, then a binary payload derived from the attrs fields."""

    serde: Serde | None = None
    name: str = attrs.field(default="variable", init=False)

    def compile(
        self, decode_types: tuple[type, ...], encode_types: tuple[type, ...]
    ) -> CompiledCodec:
        if self.serde is not None:
            serde = as_batch_serde(self.serde)
            return CompiledCodec(self.name, serde, LengthPrefixedFramer, LengthPrefixedFramer)
        built = VariableSerde(decode_types, encode_types)
        return CompiledCodec(
            self.name,
            built,
            LengthPrefixedFramer,
            LengthPrefixedFramer,
            trusted=True,
            decoder_type=Decoder if built.smallest_fixed_frame is None else VariableDecoder,
            prefixed_frames=length_prefixed_frames(built),
        )
