"""Codecs: how messages travel, chosen at run time by a value.

``Textual()``, ``FixedBinary()``, ``VariableBinary()`` and ``Raw()`` describe *how* messages
travel; the same attrs classes work with each of the first three.  A codec description is
compiled once per protocol side into a :class:`CompiledCodec` (schemas derived, structs built),
which makes each connection its own stateful :class:`~.decoder.Decoder` and a size-checking
:class:`~.encoder.Encoder`.  Each built-in codec picks its own decoder and encoder kinds here;
a user serde goes with the codec's framer through the plain ones.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import attrs

from .binary.fixed import FixedSerde
from .binary.tagged import fixed_size_frames, length_prefixed_frames
from .binary.variable import VariableSerde
from .decoder import Decoded, Decoder, FixedDecoder, VariableDecoder
from .encoder import Encoder, FramingEncoder
from .errors import ConfigError, EncodeError, ProtocolDefinitionError
from .framing import FixedFramer, FramerBase, LengthPrefixedFramer, LineFramer
from .json.serde import JsonSerde
from .prefix import MAX_U32, PREFIX_SIZE
from .raw import ChunkFramer, RawSerde
from .serde import BatchSerde, Serde, as_batch_serde

__all__ = [
    "Codec",
    "CompiledCodec",
    "Decoded",
    "Decoder",
    "Encoder",
    "FixedBinary",
    "FixedDecoder",
    "FramingEncoder",
    "Raw",
    "Serde",
    "Textual",
    "VariableBinary",
    "VariableDecoder",
]


class Codec(Protocol):
    """A wire form: builds the compiled codec for one direction pair of a protocol."""

    @property
    def name(self) -> str:
        """A short name for logs and reports (``"textual"``, ``"fixed"``, ...)."""
        ...

    def compile(
        self, decode_types: tuple[type, ...], encode_types: tuple[type, ...]
    ) -> CompiledCodec:
        """Build this wire form for a side that decodes ``decode_types`` and encodes
        ``encode_types`` (done once per protocol side; connections share the result)."""
        ...


@attrs.frozen
class CompiledCodec:
    """A codec built for one protocol side: what makes each connection's decoder and encoder.

    Both factories take the connection's ``max_message_size``.  ``heartbeat`` is the frame
    this wire form reserves for "still here": bytes every decoder of it drops before any
    message is made (an empty line, a zero-length frame), or None where no bytes are free
    for it (fixed-size records, a raw stream, a custom serde that may read anything).
    """

    name: str
    serde: BatchSerde
    make_decoder: Callable[[int], Decoder]
    make_encoder: Callable[[int], Encoder]
    heartbeat: bytes | None = None

    def decoder(self, max_message_size: int = MAX_U32) -> Decoder:
        return self.make_decoder(max_message_size)

    def encoder(self, max_message_size: int = MAX_U32) -> Encoder:
        return self.make_encoder(max_message_size)


#: Per message class, one step from a message to its whole frame (see ``Encoder.frames``).
Frames = Mapping[type, Callable[[Any], bytes]]


def _no_frames(limit: int) -> Frames:
    return {}


def framed(
    name: str,
    serde: BatchSerde,
    inbound: Callable[[int], FramerBase],
    outbound: Callable[[int], FramerBase],
    *,
    trusted: bool = False,
    frames: Callable[[int], Frames] = _no_frames,
) -> CompiledCodec:
    """A codec that is a framer per direction plus a serde, through the plain decoder/encoder.

    The outbound framer never limits (the encoder does, saying which message is too large).
    ``frames`` gives the encoder's one-step frames for a message size limit.
    """
    return CompiledCodec(
        name,
        serde,
        lambda limit: Decoder(inbound(limit), serde),
        lambda limit: Encoder(
            outbound(MAX_U32), serde, limit, trusted=trusted, frames=frames(limit)
        ),
    )


def _per_limit(make: Callable[[int], Frames]) -> Callable[[int], Frames]:
    """``make`` once per message size limit: every connection's encoder shares the result."""
    return functools.lru_cache(maxsize=8)(make)


def _json_lines(serde: JsonSerde) -> Callable[[int], Frames]:
    """The built-in textual serde's classes, each encoded and ended with its newline."""

    def frames(limit: int) -> Frames:
        return {cls: _line(encode, limit) for cls, encode in serde.payload_encoders.items()}

    return _per_limit(frames)


def _line(encode: Callable[[Any], bytes], limit: int) -> Callable[[Any], bytes]:
    def line(message: Any) -> bytes:
        payload = encode(message)
        if len(payload) > limit:
            raise EncodeError("over the limit")  # the encoder's own way says by how much
        return payload + b"\n"

    return line


def _refuse_bytes_sides(codec: str, *sides: tuple[type, ...]) -> None:
    """A built-in serde carries attrs classes: a side of raw bytes needs another codec."""
    if any(bytes in side for side in sides):
        raise ProtocolDefinitionError(
            f"the {codec} codec's built-in serde carries attrs classes, and a side of this "
            "protocol is bytes: use codec=tr.Raw() for a raw byte stream, or give a serde"
        )


@attrs.frozen
class Textual:
    """Newline-separated UTF-8 text; JSON objects via cattrs + orjson unless ``serde`` is given.

    ``serde_json`` makes the built-in serde write exactly what Rust's ``serde_json`` writes
    for the same types (a fieldless message as ``"Name"``, bytes as arrays of numbers, int
    enums by member name); it reads both forms either way.  ``converter`` gives the built-in
    serde a cattrs converter of your own, e.g. ``make_json_converter()`` with hooks registered
    for your types.
    ``keep_line_endings`` hands a custom serde each line with its ``\\n`` or ``\\r\\n`` (and
    it must end what it encodes with one); otherwise endings are stripped and empty lines
    skipped (``skip_empty_lines``).  A last line the input ends without a newline is reported
    as a decode error, or decoded when ``deliver_last_line``.
    """

    serde: Serde | None = None
    serde_json: bool = False
    converter: Any = None
    keep_line_endings: bool = False
    skip_empty_lines: bool = True
    deliver_last_line: bool = False
    name: str = attrs.field(default="textual", init=False)

    def __attrs_post_init__(self) -> None:
        if self.serde is not None and (self.serde_json or self.converter is not None):
            raise ConfigError("Textual: serde_json= and converter= are for the built-in serde")
        if self.serde_json and self.converter is not None:
            raise ConfigError("Textual: give serde_json=True or a converter, not both")
        if self.serde is None and self.keep_line_endings:
            raise ConfigError("Textual: keep_line_endings needs a serde= that reads whole lines")

    def compile(
        self, decode_types: tuple[type, ...], encode_types: tuple[type, ...]
    ) -> CompiledCodec:
        """Build this wire form for a side that decodes ``decode_types`` and encodes
        ``encode_types`` (done once per protocol side; connections share the result)."""
        if self.serde is None:
            _refuse_bytes_sides(self.name, decode_types, encode_types)
            serde: BatchSerde = JsonSerde(
                decode_types, encode_types, converter=self.converter, serde_json=self.serde_json
            )
        else:
            serde = as_batch_serde(self.serde)

        def lines(limit: int) -> LineFramer:
            return LineFramer(
                limit,
                keep_endings=self.keep_line_endings,
                skip_empty=self.skip_empty_lines,
                deliver_last_line=self.deliver_last_line,
            )

        frames = _json_lines(serde) if isinstance(serde, JsonSerde) else _no_frames
        codec = framed(self.name, serde, lines, lines, trusted=self.serde is None, frames=frames)
        if self.skip_empty_lines and not self.keep_line_endings:
            codec = attrs.evolve(codec, heartbeat=b"\n")
        return codec


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
        """Build this wire form for a side that decodes ``decode_types`` and encodes
        ``encode_types`` (done once per protocol side; connections share the result)."""
        if self.serde is not None:
            size = self.size
            if size is None:
                raise ConfigError("FixedBinary with a custom serde needs size=<record bytes>")
            serde = as_batch_serde(self.serde)
            return framed(
                self.name, serde, lambda n: FixedFramer(size, n), lambda n: FixedFramer(size, n)
            )
        _refuse_bytes_sides(self.name, decode_types, encode_types)
        built = FixedSerde(decode_types, encode_types)
        inbound, outbound = built.decode_size, built.encode_size
        return CompiledCodec(
            self.name,
            built,
            lambda limit: FixedDecoder(FixedFramer(inbound, limit), built),
            lambda limit: Encoder(
                FixedFramer(outbound),
                built,
                limit,
                trusted=True,
                check_sizes=outbound > limit,
                frames=built.payload_encoders if outbound <= limit else {},
            ),
        )


@attrs.frozen
class VariableBinary:
    """A u32 little-endian length prefix, then a binary payload derived from the attrs fields."""

    serde: Serde | None = None
    name: str = attrs.field(default="variable", init=False)

    def compile(
        self, decode_types: tuple[type, ...], encode_types: tuple[type, ...]
    ) -> CompiledCodec:
        """Build this wire form for a side that decodes ``decode_types`` and encodes
        ``encode_types`` (done once per protocol side; connections share the result)."""
        if self.serde is not None:
            serde = as_batch_serde(self.serde)
            return framed(self.name, serde, LengthPrefixedFramer, LengthPrefixedFramer)
        _refuse_bytes_sides(self.name, decode_types, encode_types)
        built = VariableSerde(decode_types, encode_types)
        smallest = built.smallest_fixed_frame
        frames = length_prefixed_frames(built)
        sized = fixed_size_frames(built)

        @_per_limit
        def lone(limit: int) -> Frames:
            return {cls: encode for cls, (encode, size) in sized.items() if size <= limit}

        def decoder(limit: int) -> Decoder:
            # No message encodes to zero bytes: an empty frame is the heartbeat, dropped.
            framer = LengthPrefixedFramer(limit, skip_empty=True)
            if smallest is None:
                return Decoder(framer, built)
            return VariableDecoder(framer, built, smallest)

        def encoder(limit: int) -> Encoder:
            if frames is None:
                return Encoder(LengthPrefixedFramer(), built, limit, trusted=True)
            return FramingEncoder(LengthPrefixedFramer(), built, limit, frames, lone(limit))

        return CompiledCodec(self.name, built, decoder, encoder, heartbeat=bytes(PREFIX_SIZE))


@attrs.frozen
class Raw:
    """No messages at all: the byte stream as ``bytes`` chunks, as they arrive.

    Each read is delivered as one chunk (cut at ``max_message_size`` when longer); what is
    sent is written as it is, and must be bytes.  Both sides of its protocol are ``bytes``:
    ``Protocol(client=bytes, server=bytes, codec=Raw())``.  For a stream that is not split
    into messages, or a stage that takes over the rest of a connection (an HTTP body after
    text headers).
    """

    name: str = attrs.field(default="raw", init=False)

    def compile(
        self, decode_types: tuple[type, ...], encode_types: tuple[type, ...]
    ) -> CompiledCodec:
        """Build this wire form for a side that decodes ``decode_types`` and encodes
        ``encode_types`` (done once per protocol side; connections share the result)."""
        for types in (decode_types, encode_types):
            if types != (bytes,):
                raise ProtocolDefinitionError(
                    f"the Raw codec's messages are bytes chunks: give bytes as both sides of its "
                    f"protocol, not {', '.join(t.__qualname__ for t in types)}"
                )
        return framed(self.name, RawSerde(), ChunkFramer, ChunkFramer, trusted=True)

