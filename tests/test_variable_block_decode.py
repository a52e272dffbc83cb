"""The variable codec's decoder against the generic one: ``decode_many(framer.feed(data))``.

``VariableDecoder`` leaves a read's leading run of frames of one length unsliced
(``LengthPrefixedFramer.feed_run``) and decodes a run of one fixed-size class as one block
(``VariableSerde.decode_run``).  Whatever the stream (runs, mixed classes, damaged payloads,
garbage, empty and oversize frames) and however it is cut into reads, it must give what the
generic ``Decoder`` gives, read by read, with the same framer bookkeeping and the same
``FrameTooLarge``.
"""

from __future__ import annotations

import functools
import itertools
import struct
from typing import Annotated, Any

import attrs
import construct as c
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.chunks import reads
from tests.models import CLIENT, RICH, SERVER, Move, Ping, Point, Quit
from tests.strategies import strategy_for, variants
from tests.test_binary_serdes import (
    CALLS,
    NESTED,
    Checked,
    Counted,
    Exotic,
    checkeds,
    exotics,
)
from trio_reactive.errors import DecodeError, FrameTooLarge
from trio_reactive.wire.binary.tagged import TaggedSerde
from trio_reactive.wire.binary.variable import VariableSerde
from trio_reactive.wire.codec import Decoder, VariableBinary, VariableDecoder
from trio_reactive.wire.framing import RUN_MINIMUM, LengthPrefixedFramer
from trio_reactive.wire.prefix import MAX_U32

PROPERTY = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@attrs.frozen
class Switches:
    """Flat but for its bools: a block reads them with ``struct``'s ``?`` when all are 0 or 1."""

    on: bool
    n: Annotated[int, c.Int16ul]
    off: bool


@attrs.frozen
class Tally:
    """Fixed-size and the same size as ``Ping`` and ``Checked``: a run of one length, three tags."""

    n: Annotated[int, c.Int32ul]


#: Protocol sides, each with a strategy per message class: fixed-size classes alone (flat,
#: converted, bools, validated), several classes of one size, and sides mixing fixed- and
#: variable-size classes.
SIDES: dict[str, dict[type, st.SearchStrategy[Any]]] = {
    "Move": {Move: strategy_for(Move)},
    "Ping": {Ping: strategy_for(Ping)},
    "Switches": {Switches: strategy_for(Switches)},
    "Checked": {Checked: checkeds},
    "Counted": {Counted: st.builds(Counted, st.integers(0, 255).filter(lambda n: n != 13))},
    "Quit": {Quit: st.just(Quit())},
    "same size": {Ping: strategy_for(Ping), Checked: checkeds, Tally: strategy_for(Tally)},
    "client": {cls: strategy_for(cls) for cls in variants(CLIENT)},
    "server": {cls: strategy_for(cls) for cls in variants(SERVER)},
    "exotic": {Exotic: exotics, Checked: checkeds, Quit: st.just(Quit())},
    "rich": {cls: strategy_for(cls) for cls in variants(RICH)},
    "nested": {cls: checkeds if cls is Checked else strategy_for(cls) for cls in variants(NESTED)},
}


@functools.cache
def serde_for(side: str) -> VariableSerde:
    classes = tuple(SIDES[side])
    return VariableSerde(classes, classes)


def decoders(side: str, limit: int) -> tuple[Decoder, Decoder]:
    """The codec's own decoder, and the generic one over the same serde (both drop the
    zero-length frames the codec reserves for heartbeats)."""
    classes = tuple(SIDES[side])
    ours = VariableBinary().compile(classes, classes).decoder(limit)
    return ours, Decoder(LengthPrefixedFramer(limit, skip_empty=True), serde_for(side))


def key(serde: TaggedSerde, item: Any) -> Any:
    """A message by its bytes (a NaN read twice is not equal to itself), an error by its text."""
    if isinstance(item, DecodeError):
        return ("error", item.reason, item.frame)
    return (type(item), serde.encode(item))


def keys(serde: TaggedSerde, items: list[Any]) -> list[Any]:
    return [key(serde, item) for item in items]


def frame(payload: bytes) -> bytes:
    return struct.pack("<I", len(payload)) + payload


# ---------------------------------------------------------------- streams


@st.composite
def streams(draw: st.DrawFn, side: str) -> bytes:
    """Frames of ``side``: runs of one class or one message, mixed stretches, damaged frames.

    Damage keeps the framing (a payload with a byte changed, random or empty payloads) or
    breaks it (a byte changed anywhere, an oversize prefix); the stream may end in the middle
    of a frame.
    """
    serde = serde_for(side)
    strategies = list(SIDES[side].values())
    frames: list[bytes] = []
    for _ in range(draw(st.integers(0, 3))):
        shape = draw(st.sampled_from(["one message", "one class", "mixed"]))
        if shape == "one message":
            message = draw(st.one_of(strategies))
            messages = [message] * draw(st.integers(1, 3 * RUN_MINIMUM))
        else:
            pick = st.one_of(
                strategies if shape == "mixed" else [draw(st.sampled_from(strategies))]
            )
            messages = draw(st.lists(pick, max_size=3 * RUN_MINIMUM))
        frames += [frame(serde.encode(message)) for message in messages]
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(frames)))
        damage = draw(st.sampled_from(["payload", "tag", "random", "empty"]))
        if damage in ("payload", "tag") and any(len(f) > 4 for f in frames):
            bad = bytearray(draw(st.sampled_from([f for f in frames if len(f) > 4])))
            where = 4 if damage == "tag" else draw(st.integers(4, len(bad) - 1))
            bad[where] = draw(st.integers(0, 255))
            frames.insert(at, bytes(bad))
        elif damage == "empty":
            frames[at:at] = [frame(b"")] * draw(st.integers(1, RUN_MINIMUM + 1))
        else:
            frames.insert(at, frame(draw(st.binary(max_size=24))))
    stream = bytearray(b"".join(frames))
    if stream and draw(st.booleans()):  # break the framing itself
        for _ in range(draw(st.integers(1, 2))):
            stream[draw(st.integers(0, len(stream) - 1))] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        at = draw(st.integers(0, len(stream)))
        stream[at:at] = struct.pack("<I", draw(st.sampled_from([200, 2**20, MAX_U32])))
    return bytes(stream) + draw(st.binary(max_size=6))  # maybe a partial frame at the end


def decode_like_the_engine(decoder: Decoder, chunk: bytes | bytearray) -> tuple[Any, ...]:
    """What the engine keeps of one read: the messages, and the oversize frame if any."""
    try:
        return (decoder.decode_batch(chunk), None)
    except FrameTooLarge as exc:
        return (decoder.decode_frames(exc.frames), (exc.size, exc.limit, exc.frames))


# ---------------------------------------------------------------- the properties


@pytest.mark.parametrize("side", sorted(SIDES))
@PROPERTY
@given(data=st.data())
def test_variable_decoder_is_the_generic_one_under_any_rechunking(
    side: str, data: st.DataObject
) -> None:
    serde = serde_for(side)
    limit = data.draw(st.sampled_from([MAX_U32, 4096, 64, 12]))
    ours, generic = decoders(side, limit)
    assert isinstance(ours, VariableDecoder)
    for chunk in reads(data, data.draw(streams(side))):
        mine, theirs = decode_like_the_engine(ours, chunk), decode_like_the_engine(generic, chunk)
        assert keys(serde, mine[0]) == keys(serde, theirs[0])
        assert mine[1] == theirs[1]
        for attribute in ("region", "end", "pending"):
            assert getattr(ours.framer, attribute) == getattr(generic.framer, attribute)
        if mine[1] is not None:
            return  # the engine closes a stream after an oversize frame


@pytest.mark.parametrize("side", sorted(SIDES))
@PROPERTY
@given(data=st.data())
def test_random_bytes_decode_as_the_generic_decoder_does(side: str, data: st.DataObject) -> None:
    """Garbage, and garbage made of frames of one length: runs of anything at all, their
    tags mostly this side's (so that a fixed-size class meets payloads of other sizes)."""
    serde = serde_for(side)
    ours, generic = decoders(side, data.draw(st.sampled_from([MAX_U32, 40])))
    if data.draw(st.booleans()):
        size = data.draw(st.integers(0, 20))
        payloads = (
            st.builds(
                lambda tag, body: bytes([tag]) + body,
                st.integers(0, len(SIDES[side])),
                st.binary(min_size=size - 1, max_size=size - 1),
            )
            if size
            else st.just(b"")
        )
        chosen = data.draw(st.lists(payloads, max_size=4 * RUN_MINIMUM))
        stream = b"".join(map(frame, chosen))
    else:
        stream = data.draw(st.binary(max_size=400))
    for chunk in reads(data, stream):
        mine, theirs = decode_like_the_engine(ours, chunk), decode_like_the_engine(generic, chunk)
        assert keys(serde, mine[0]) == keys(serde, theirs[0])
        assert mine[1] == theirs[1]
        if mine[1] is not None:
            return


same_length_payloads = st.integers(0, 6).flatmap(
    lambda size: st.lists(st.binary(min_size=size, max_size=size), max_size=4 * RUN_MINIMUM)
)


@PROPERTY
@given(
    payloads=st.lists(st.binary(max_size=6), max_size=12) | same_length_payloads,
    tail=st.lists(st.binary(max_size=6), max_size=4),
    cuts=st.lists(st.integers(0, 400), max_size=6),
    limit=st.sampled_from([MAX_U32, 5, 3]),
)
def test_feed_run_is_feed(
    payloads: list[bytes], tail: list[bytes], cuts: list[int], limit: int
) -> None:
    """The run and the frames after it are ``feed``'s frames; the bookkeeping is ``feed``'s.

    A small ``limit`` makes some payloads oversize, in a run or after it.
    """
    stream = b"".join(map(frame, payloads + tail))
    chunks = [stream[a:b] for a, b in itertools.pairwise(sorted({0, len(stream), *cuts}))]
    run_framer, framer = LengthPrefixedFramer(limit), LengthPrefixedFramer(limit)
    for chunk in chunks:
        try:
            expected: Any = framer.feed(chunk)
        except FrameTooLarge as exc:
            expected = (exc.size, exc.frames)
        try:
            buffer, stride, count, rest = run_framer.feed_run(chunk)
        except FrameTooLarge as exc:
            got: Any = (exc.size, exc.frames)
        else:
            assert count == 0 or count >= RUN_MINIMUM
            run = [buffer[s + 4 : s + stride] for s in range(0, count * stride, stride or 1)]
            assert all(len(payload) == stride - 4 for payload in run)
            got = run + rest
        assert got == expected
        for attribute in ("region", "end", "pending"):
            assert getattr(run_framer, attribute) == getattr(framer, attribute)
        if isinstance(expected, tuple):
            return


# ---------------------------------------------------------------- examples


def run_of(serde: VariableSerde, messages: list[Any]) -> bytes:
    return b"".join(frame(serde.encode(message)) for message in messages)


def decode_one_read(cls: type, data: bytes | bytearray) -> list[Any]:
    """``data`` read by a fresh decoder of the variable codec for ``cls`` alone."""
    return VariableBinary().compile((cls,), (cls,)).decoder().decode_batch(data)


def test_a_run_is_found_and_decoded_as_one_block() -> None:
    framer = LengthPrefixedFramer(MAX_U32)
    serde = serde_for("same size")
    stream = run_of(serde, [Ping(n) for n in range(20)] + [Tally(1)] * 3) + frame(b"") * 2
    buffer, stride, count, frames = framer.feed_run(stream + b"\x05\x00")
    assert (stride, count) == (9, 23)  # one length: Ping and Tally alike
    assert frames == [b"", b""]
    assert framer.pending == b"\x05\x00"
    out = serde.decode_run(buffer, stride, count)
    assert out == [Ping(n) for n in range(20)] + [Tally(1)] * 3  # a block, then slices


def test_a_run_at_the_end_of_the_read_and_a_short_read() -> None:
    serde = serde_for("Ping")
    ours, generic = decoders("Ping", MAX_U32)
    stream = run_of(serde, [Ping(n) for n in range(RUN_MINIMUM)])
    assert ours.decode_batch(stream) == [Ping(n) for n in range(RUN_MINIMUM)]
    assert ours.decode_batch(stream[:-1]) == generic.decode_batch(stream[:-1])
    assert ours.framer.pending == generic.framer.pending == stream[-9:-1]


def test_bad_frames_in_a_run_are_reported_in_place_and_built_once() -> None:
    serde = serde_for("Counted")
    good = frame(serde.encode(Counted(1)))
    bad = good[:-1] + bytes([13])  # the validator refuses it
    messages = [good] * 5 + [bad] + [good] * 5 + [bad] + [good] * 5
    CALLS.clear()
    out = decode_one_read(Counted, b"".join(messages))
    five = [Counted] * 5
    assert [type(m) for m in out] == [*five, DecodeError, *five, DecodeError, *five]
    assert CALLS.count(1) == 15  # each good frame built once
    assert out[5] == serde.decode_many([bad[4:]])[0]


def test_bool_bytes_in_a_run() -> None:
    serde = serde_for("Switches")
    messages = [Switches(True, n, n % 2 == 0) for n in range(12)]
    stream = bytearray(run_of(serde, messages))
    assert decode_one_read(Switches, stream) == messages
    stride = len(stream) // 12
    stream[3 * stride - 1] = 2  # the last byte of the third frame: its `off` flag
    out = decode_one_read(Switches, stream)
    assert out[:2] == messages[:2] and out[3:] == messages[3:]
    assert isinstance(out[2], DecodeError)
    assert out[2].reason == "Switches.off: 2 is not a valid bool (0 or 1)"


def test_a_run_of_empty_frames() -> None:
    """Zero-length frames are the codec's heartbeats: dropped, never decoded as a run."""
    ours, generic = decoders("Ping", MAX_U32)
    stream = frame(b"") * (RUN_MINIMUM + 2) + frame(serde_for("Ping").encode(Ping(3)))
    out = ours.decode_batch(stream)
    assert out == generic.decode_batch(stream) == [Ping(3)]


def test_an_oversize_frame_after_a_run_keeps_the_run_in_its_frames() -> None:
    serde = serde_for("Ping")
    pings = [Ping(n) for n in range(RUN_MINIMUM + 1)]
    decoder = VariableBinary().compile((Ping,), (Ping,)).decoder(16)
    with pytest.raises(FrameTooLarge) as info:
        decoder.decode_batch(run_of(serde, pings) + frame(bytes(17)))
    assert info.value.size == 17
    assert decoder.decode_frames(info.value.frames) == pings
    assert decoder.framer.pending == b""


def test_the_variable_codec_chooses_its_decoder() -> None:
    """The block decoder needs a fixed-size class; a custom serde goes the generic way."""
    assert type(VariableBinary().compile((Ping, Point), (Ping,)).decoder()) is VariableDecoder
    only_variable = variants(RICH)[:1]
    assert type(VariableBinary().compile(only_variable, only_variable).decoder()) is Decoder
    with pytest.raises(TypeError):
        VariableDecoder(LengthPrefixedFramer(8), VariableSerde(only_variable, only_variable))
    with pytest.raises(TypeError):
        VariableDecoder(LengthPrefixedFramer(8), object())  # type: ignore[arg-type]
