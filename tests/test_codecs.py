"""One suite, every codec: the same messages through Textual, FixedBinary and VariableBinary.

Each codec is compiled the way a protocol compiles it (``codec.compile(decode_types,
encode_types)``) and used through the engine's entry points: ``Encoder.encode_batch`` and
``Decoder.decode_batch`` on arbitrary chunks of the byte stream.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.chunks import split_at
from tests.models import CLIENT, RICH, SERVER, Color, Move, Named, Ping, Pong, Quit, Rich
from tests.strategies import messages, variants
from trio_reactive.errors import ConfigError, DecodeError, EncodeError, FrameTooLarge
from trio_reactive.wire.codec import (
    Codec,
    CompiledCodec,
    Decoder,
    Encoder,
    FixedBinary,
    FixedDecoder,
    FramingEncoder,
    Textual,
    VariableBinary,
    VariableDecoder,
)
from trio_reactive.wire.framing import LengthPrefixedFramer

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

CODECS: dict[str, Codec] = {
    "textual": Textual(),
    "fixed": FixedBinary(),
    "variable": VariableBinary(),
}
SIDES: dict[str, Any] = {"CLIENT": CLIENT, "SERVER": SERVER, "RICH": RICH}
#: Which codecs carry which models (the fixed codec needs a fixed size for every field).
CASES = [
    (codec, side) for codec in CODECS for side in SIDES if not (codec == "fixed" and side == "RICH")
]
ALL_CODECS = pytest.mark.parametrize("codec", sorted(CODECS))
ALL_CASES = pytest.mark.parametrize(("codec", "side"), CASES)


@functools.cache
def compiled(codec: str, side: str) -> CompiledCodec:
    """A codec compiled for a peer that both reads and writes ``side`` (a loopback)."""
    classes = variants(SIDES[side])
    return CODECS[codec].compile(classes, classes)


def decode_chunks(decoder: Decoder, chunks: list[bytes]) -> list[Any]:
    out: list[Any] = []
    for chunk in chunks:
        out.extend(decoder.decode_batch(chunk))
    return out


cuts = st.lists(st.integers(0, 4000), max_size=10)


# ---------------------------------------------------------------- round trips


@ALL_CASES
@FAST
@given(data=st.data())
def test_every_variant_round_trips(codec: str, side: str, data: st.DataObject) -> None:
    message = data.draw(messages(SIDES[side]))
    built = compiled(codec, side)
    wire = built.encoder().encode(message)
    assert built.decoder().decode_batch(wire) == [message]
    assert built.serde.decode(built.serde.encode(message)) == message


@ALL_CASES
@FAST
@given(data=st.data())
def test_batches_survive_any_rechunking(codec: str, side: str, data: st.DataObject) -> None:
    batch = data.draw(st.lists(messages(SIDES[side]), max_size=8))
    built = compiled(codec, side)
    encoder = built.encoder()
    wire = encoder.encode_batch(batch)
    assert wire == b"".join(encoder.encode(message) for message in batch)
    assert built.decoder().decode_batch(wire) == batch  # every message in one chunk
    assert decode_chunks(built.decoder(), split_at(wire, data.draw(cuts))) == batch
    ones = [wire[i : i + 1] for i in range(len(wire))]
    assert decode_chunks(built.decoder(), ones) == batch


@ALL_CODECS
def test_every_client_variant_in_one_batch(codec: str) -> None:
    batch = [
        Ping(0),
        Ping(2**32 - 1),
        Move(255, -1.5e300, 0.25, Color.GREEN, True),
        Named("", bytes(8)),
        Named("sixteen bytes!!!", b"\xff" * 8),
        Named("é" * 8, b"12345678"),
        Quit(),
    ]
    built = compiled(codec, "CLIENT")
    assert built.decoder().decode_batch(built.encoder().encode_batch(batch * 3)) == batch * 3


class FixedPing:
    """A hand-written serde for ``Ping`` as 4 bytes: a custom fixed serde."""

    def encode(self, message: Any) -> bytes:
        return int(message.n).to_bytes(4, "little")

    def decode(self, payload: bytes) -> Any:
        return Ping(int.from_bytes(payload, "little"))


def test_decoder_and_encoder_kinds_are_chosen_once_per_codec() -> None:
    """The built-in fixed codec decodes whole blocks, the built-in variable codec decodes runs
    of a fixed-size class as blocks and makes whole frames; custom serdes go the generic way."""
    assert type(compiled("fixed", "CLIENT").decoder()) is FixedDecoder
    assert type(compiled("variable", "CLIENT").decoder()) is VariableDecoder
    assert type(compiled("textual", "CLIENT").decoder()) is Decoder
    assert type(compiled("variable", "CLIENT").encoder()) is FramingEncoder
    assert type(compiled("fixed", "CLIENT").encoder()) is Encoder
    only_variable_sizes = VariableBinary().compile(variants(RICH), (Rich,))
    assert type(only_variable_sizes.encoder()) is Encoder  # no class to make in one pack
    variable = VariableBinary(serde=FixedPing()).compile((Ping,), (Ping,))
    assert type(variable.encoder()) is Encoder
    assert variable.encoder().encode_batch([Ping(1)]) == b"\x04\x00\x00\x00\x01\x00\x00\x00"
    custom = FixedBinary(serde=FixedPing(), size=4).compile((Ping,), (Ping,))
    decoder = custom.decoder()
    assert type(decoder) is Decoder
    assert decoder.decode_batch(custom.encoder().encode_batch([Ping(1), Ping(2)]) + b"\x03") == [
        Ping(1),
        Ping(2),
    ]


@ALL_CASES
@FAST
@given(data=st.data())
def test_decoder_reports_exactly_the_bytes_not_consumed(
    codec: str, side: str, data: st.DataObject
) -> None:
    """``Decoder.unconsumed``, as a stage hand-over uses it, after any reads and any handling.

    The stream is read in arbitrary chunks; the batches from some read on are left unhandled
    but for the first ``k`` messages of that read.  A fresh decoder fed the reported bytes
    gives back exactly the messages not handled.
    """
    built = compiled(codec, side)
    sent = data.draw(st.lists(messages(SIDES[side]), max_size=8))
    wire = built.encoder().encode_batch(sent)
    decoder = built.decoder()
    batches = [decoder.decode(chunk) for chunk in split_at(wire, data.draw(cuts))]
    decoded = [message for batch in batches for message in batch.messages]
    assert decoded == sent
    first = data.draw(st.integers(0, len(batches)))
    handled_before = sum(len(batch.messages) for batch in batches[:first])
    rest = batches[first:]
    k = data.draw(st.integers(0, len(rest[0].messages))) if rest else 0
    remaining = built.decoder().decode_batch(decoder.unconsumed(rest, k))
    assert remaining == sent[handled_before + k :]


@ALL_CODECS
def test_decoder_keeps_the_bytes_of_an_oversize_frame_for_a_hand_over(codec: str) -> None:
    """Past a frame over the limit the bytes are not this codec's: another stage may take them."""
    built = compiled(codec, "CLIENT")
    ping = built.encoder().encode_batch([Ping(1)])
    blob = bytes(range(11, 256)) * 40  # no newline: one long line for the textual codec
    decoder = built.decoder(len(ping) + 4)
    batch = decoder.decode(ping + blob)
    if codec == "fixed":  # a fixed record has no length to exceed: the blob is records
        assert batch.overflow is None
        return
    assert batch.overflow is not None
    assert batch.messages == [Ping(1)]
    assert decoder.unconsumed([batch], 1) == blob
    assert decoder.unconsumed([batch], 0) == ping + blob


@pytest.mark.parametrize("side", sorted(SIDES))
@FAST
@given(data=st.data())
def test_variable_frames_made_in_one_step_are_prefix_and_payload(
    side: str, data: st.DataObject
) -> None:
    built = compiled("variable", side)
    batch = data.draw(st.lists(messages(SIDES[side]), max_size=8))
    framer = LengthPrefixedFramer(2**16)
    assert built.encoder().encode_batch(batch) == framer.join(built.serde.encode_many(batch))


@ALL_CODECS
def test_encoding_a_foreign_message_is_refused(codec: str) -> None:
    encoder = compiled(codec, "SERVER").encoder()
    with pytest.raises(EncodeError, match="Ping"):
        encoder.encode(Ping(1))
    with pytest.raises(EncodeError, match="Ping"):
        encoder.encode_batch([Pong(1, 2), Ping(1)])


# ---------------------------------------------------------------- max_message_size


BIG = Named("a" * 16, b"12345678")


def payload_size(codec: str, message: Any) -> int:
    built = compiled(codec, "CLIENT")
    return len(built.serde.encode(message))


@pytest.mark.parametrize("codec", ["textual", "variable"])
def test_frames_exactly_at_the_limit_pass_and_one_over_fail(codec: str) -> None:
    built = compiled(codec, "CLIENT")
    size = payload_size(codec, BIG)
    small = built.encoder().encode(Ping(1))
    wire = built.encoder(size).encode_batch([BIG, BIG])
    assert built.decoder(size).decode_batch(small + wire) == [Ping(1), BIG, BIG]

    with pytest.raises(EncodeError, match=f"max_message_size={size - 1}"):
        built.encoder(size - 1).encode_batch([Ping(1), BIG])
    with pytest.raises(EncodeError, match=f"max_message_size={size - 1}"):
        built.encoder(size - 1).encode(BIG)

    decoder = built.decoder(size - 1)
    with pytest.raises(FrameTooLarge) as info:
        decoder.decode_batch(small + wire)
    # The frames before the oversize one are handed back, still to be decoded.
    assert built.serde.decode_many(info.value.frames) == [Ping(1)]


def test_fixed_record_larger_than_the_limit_is_a_config_error() -> None:
    built = compiled("fixed", "CLIENT")
    record = built.serde.decode_size  # type: ignore[attr-defined]
    assert len(built.encoder().encode(Quit())) == record
    wire = built.encoder(record).encode_batch([BIG, Quit()])
    assert built.decoder(record).decode_batch(wire) == [BIG, Quit()]
    with pytest.raises(ConfigError, match="exceeds max_message_size"):
        built.decoder(record - 1)
    with pytest.raises(EncodeError, match=f"max_message_size={record - 1}"):
        built.encoder(record - 1).encode(Quit())


# ---------------------------------------------------------------- hostile input


@ALL_CODECS
@settings(max_examples=80, deadline=None)
@given(chunks=st.lists(st.binary(max_size=48), max_size=10))
def test_random_bytes_yield_only_messages_decode_errors_or_frame_too_large(
    codec: str, chunks: list[bytes]
) -> None:
    built = compiled(codec, "CLIENT")
    classes = variants(CLIENT)
    decoder = built.decoder(40)
    for chunk in chunks:
        try:
            out = decoder.decode_batch(chunk)
        except FrameTooLarge as exc:
            assert exc.size > 40
            out = built.serde.decode_many(exc.frames)
            decoder = built.decoder(40)  # the engine closes the stream; start afresh
        for item in out:
            assert isinstance(item, DecodeError) or type(item) in classes


def garbage_frame(codec: str, side: str, garbage: bytes) -> bytes:
    """``garbage`` framed so that the framer accepts it and only the serde can object."""
    if codec == "textual":
        return b"!" + garbage.replace(b"\n", b"") + b"\n"  # never empty: that is skipped
    if codec == "variable":  # never empty: a zero-length frame is a heartbeat, dropped
        return LengthPrefixedFramer(2**16).frame(garbage or b"\xff")
    record = compiled(codec, side).serde.decode_size  # type: ignore[attr-defined]
    return (garbage + bytes(record))[:record]


@ALL_CODECS
@FAST
@given(garbage=st.binary(max_size=40), data=st.data())
def test_valid_frames_after_garbage_still_decode(
    codec: str, garbage: bytes, data: st.DataObject
) -> None:
    built = compiled(codec, "CLIENT")
    valid = data.draw(st.lists(messages(CLIENT), min_size=1, max_size=3))
    wire = garbage_frame(codec, "CLIENT", garbage) + built.encoder().encode_batch(valid)
    out = decode_chunks(built.decoder(), split_at(wire, data.draw(cuts)))
    assert len(out) == 1 + len(valid)
    assert out[1:] == valid
    if isinstance(out[0], DecodeError):
        assert out[0].reason


BAD_PAYLOADS = {
    "textual": [b"garbage", b'{"Ping":{"n":-1.5}}', b'{"Nope":{}}'],
    "variable": [b"\xff", b"\x00\x01", b"\x03junk"],
    "fixed": [
        b"\xff",
        b"\x04",
        b"\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x09",
    ],
}


@ALL_CODECS
def test_known_bad_payloads_between_good_ones(codec: str) -> None:
    built = compiled(codec, "CLIENT")
    encoder = built.encoder()
    wire = encoder.encode(Ping(1))
    for bad in BAD_PAYLOADS[codec]:
        wire += garbage_frame(codec, "CLIENT", bad) + encoder.encode(Ping(2))
    out = built.decoder().decode_batch(wire)
    assert out[0] == Ping(1)
    for index in range(len(BAD_PAYLOADS[codec])):
        error, good = out[1 + 2 * index : 3 + 2 * index]
        assert isinstance(error, DecodeError), (codec, index, error)
        assert good == Ping(2)


def test_fixed_record_with_a_bad_enum_value_names_the_field() -> None:
    built = compiled("fixed", "CLIENT")
    good = built.serde.encode(Move(1, 2.0, 3.0, Color.RED, False))
    color_at = 1 + 1 + 8 + 4  # tag, player, x, y
    bad = good[:color_at] + b"\x09" + good[color_at + 1 :]
    [error] = built.serde.decode_many([bad])
    assert isinstance(error, DecodeError)
    assert "color" in error.reason
