"""The batch entry points both binary serdes share: a u8 tag, then the message.

:class:`TaggedSerde` holds one decoder and one encoder per message class, indexed by tag, with
the batch loops the engine calls; a failure on the fast path asks the schema what is wrong, so
errors name the class and the field at no cost to good messages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from ..errors import DecodeError, EncodeError
from ..prefix import LENGTH
from .generate import BlockFill, Decode, Encode, flat_encoder
from .schema import SideSchema

__all__ = ["TaggedSerde", "fixed_size_frames", "length_prefixed_frames"]

_REPR_LIMIT = 200


class TaggedSerde:
    """The serde shape shared by the binary codecs: a u8 tag selects a compiled function.

    Decoding indexes a tuple of decoders by the tag byte, encoding looks a dict of encoders up
    by ``type(message)``; neither checks anything a malformed message would not make fail
    anyway.  Only when something fails is the construct schema asked why, so error messages
    name the class, field and problem without costing good messages anything.
    """

    __slots__ = ("_decoders", "_encoders", "decode_schema", "encode_schema")

    def __init__(
        self,
        decode_schema: SideSchema,
        encode_schema: SideSchema,
        decoders: tuple[Decode, ...],
        encoders: dict[type, Encode],
    ) -> None:
        self.decode_schema = decode_schema
        self.encode_schema = encode_schema
        self._decoders = decoders
        self._encoders = encoders

    def decode(self, payload: bytes) -> Any:
        """One message; raises :class:`DecodeError` saying what is wrong where."""
        try:
            return self._decoders[payload[0]](payload)
        except Exception as exc:
            raise self._decode_error(payload, exc) from exc

    def decode_many(self, payloads: list[bytes]) -> list[Any]:
        """Every payload decoded; a bad one yields a :class:`DecodeError` in its place."""
        decoders = self._decoders
        out: list[Any] = []
        append = out.append
        for payload in payloads:
            try:
                append(decoders[payload[0]](payload))
            except Exception as exc:  # a try costs nothing in 3.11 until it catches
                append(self._decode_error(payload, exc))
        return out

    def encode(self, message: Any) -> bytes:
        """One payload; raises :class:`EncodeError` naming the message and the field."""
        try:
            return self._encoders[type(message)](message)
        except Exception as exc:
            raise self._encode_error(message, exc) from exc

    @property
    def payload_encoders(self) -> Mapping[type, Encode]:
        """Each class's payload encoder (raising anything for a value it cannot encode)."""
        return self._encoders

    def encode_many(self, messages: Sequence[Any]) -> list[bytes]:
        """Every payload; raises :class:`EncodeError` for the first message that cannot be."""
        encoders = self._encoders
        try:
            return [encoders[type(message)](message) for message in messages]
        except Exception:
            encode = self.encode  # find the culprit and say what is wrong with it
            return [encode(message) for message in messages]

    def fill_reporting(
        self,
        out: list[Any],
        fill: BlockFill,
        source: Iterator[Any],
        block: bytes,
        payload_at: Callable[[int], bytes],
    ) -> None:
        """Run ``fill`` over the whole block; a record it fails on becomes a DecodeError.

        The error takes the record's place (``payload_at(i)`` is the payload of the block's
        record ``i``), and filling goes on from where ``source`` stopped, just past it: nothing
        is decoded twice.
        """
        first = len(out)
        while True:
            try:
                fill(out, source, block)
                return
            except Exception as exc:
                out.append(self._decode_error(payload_at(len(out) - first), exc))

    def _decode_error(self, payload: bytes, exc: Exception) -> DecodeError:
        try:
            reason = self.decode_schema.why_undecodable(payload)
        except Exception as failure:  # the explanation must never be what raises
            reason = f"{type(failure).__name__}: {failure}"
        return DecodeError(reason or f"{type(exc).__name__}: {exc}", payload)

    def _encode_error(self, message: Any, exc: Exception) -> EncodeError:
        shown = repr(message)
        if len(shown) > _REPR_LIMIT:
            shown = shown[:_REPR_LIMIT] + "..."
        if type(message) not in self._encoders:
            reason = (
                f"{type(message).__qualname__} is not a message of this protocol side "
                f"(it has {self.encode_schema.names()})"
            )
        else:
            reason = self.encode_schema.why_unencodable(message) or f"{type(exc).__name__}: {exc}"
        return EncodeError(f"cannot encode {shown}: {reason}")


def length_prefixed_frames(serde: TaggedSerde) -> Callable[[Sequence[Any]], list[bytes]] | None:
    """Frames of a u32-length-prefixed stream, one per message, each made in one step.

    For a serde of a variable schema, whose fixed-size classes encode with :func:`flat_encoder`
    unpadded: their frames are one ``pack`` of length, tag and fields (about 70 ns a message
    less than packing the length apart and joining); any other class's payload gets its length
    put in front (about as fast as framing it apart, plus one copy of the payload).  None when
    no class has a fixed size: nothing to gain.  The frames raise like ``encode_many``'s fast
    path (``KeyError`` for a foreign class, whatever a field makes fail): ask it why.
    """
    if serde.encode_schema.record_size is not None:
        raise ValueError("fixed records are padded: they are not framed with a length prefix")
    if all(record.fixed_size is None for record in serde.encode_schema.records):
        return None
    framed = {cls: encode for cls, (encode, _) in fixed_size_frames(serde).items()}
    for record in serde.encode_schema.records:
        if record.cls not in framed:
            framed[record.cls] = _with_length(serde.payload_encoders[record.cls])

    def frames(messages: Sequence[Any]) -> list[bytes]:
        return [framed[type(message)](message) for message in messages]

    return frames


def fixed_size_frames(serde: TaggedSerde) -> dict[type, tuple[Encode, int]]:
    """For each fixed-size class of a variable schema: the encoder of its whole u32-prefixed
    frame (one ``pack``), and its payload size (what ``max_message_size`` limits)."""
    return {
        record.cls: (flat_encoder(record, tag, length_prefix=True), 1 + record.fixed_size)
        for tag, record in enumerate(serde.encode_schema.records)
        if record.fixed_size is not None
    }


def _with_length(encode: Encode) -> Encode:
    pack = LENGTH.pack

    def encode_framed(message: Any) -> bytes:
        payload = encode(message)
        return pack(len(payload)) + payload

    return encode_framed


