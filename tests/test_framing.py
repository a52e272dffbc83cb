"""The three framers: round trips, re-chunking, limits, bounded memory, stage hand-over."""

from __future__ import annotations

import struct
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.chunks import split_at
from trio_reactive.errors import ConfigError, EncodeError, FrameTooLarge
from trio_reactive.wire.framing import (
    MAX_U32,
    FixedFramer,
    Framer,
    LengthPrefixedFramer,
    LineFramer,
)

FAST = settings(max_examples=60, deadline=None)


def feed_chunks(framer: Framer, chunks: list[bytes]) -> list[bytes]:
    frames: list[bytes] = []
    for chunk in chunks:
        frames.extend(framer.feed(chunk))
    return frames


def one_byte_at_a_time(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


line_payloads = st.lists(
    st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"").rstrip(b"\r")), max_size=12
)
cuts = st.lists(st.integers(0, 2000), max_size=12)


# ---------------------------------------------------------------- limits and configuration


@pytest.mark.parametrize("limit", [0, -1, MAX_U32 + 1])
def test_limit_out_of_range_is_a_config_error(limit: int) -> None:
    for make in (LineFramer, LengthPrefixedFramer, lambda n: FixedFramer(1, n)):
        with pytest.raises(ConfigError):
            make(limit)


def test_fixed_size_must_fit_the_limit() -> None:
    assert FixedFramer(8, 8).size == 8
    with pytest.raises(ConfigError, match="exceeds max_message_size"):
        FixedFramer(9, 8)
    with pytest.raises(ConfigError):
        FixedFramer(0, 8)


# ---------------------------------------------------------------- LineFramer


@FAST
@given(line_payloads, cuts)
def test_lines_round_trip_under_any_chunking(payloads: list[bytes], cut: list[int]) -> None:
    framer = LineFramer(64)
    data = framer.frame_all(payloads)
    assert data == b"".join(framer.frame(p) for p in payloads)
    for chunks in ([data], split_at(data, cut), one_byte_at_a_time(data)):
        assert feed_chunks(LineFramer(64, skip_empty=False), chunks) == payloads
        assert feed_chunks(LineFramer(64), chunks) == [p for p in payloads if p]


def test_many_lines_in_one_chunk_and_partial_kept() -> None:
    framer = LineFramer(100, skip_empty=False)
    assert framer.feed(b"a\nbb\n\nccc") == [b"a", b"bb", b""]
    assert framer.pending == b"ccc"
    assert framer.feed(b"c\n") == [b"cccc"]
    assert framer.pending == b""


def test_empty_lines_are_skipped_by_default() -> None:
    framer = LineFramer(100)
    assert framer.feed(b"\n\r\na\n\n\r\nb\r\n\n") == [b"a", b"b"]
    assert framer.feed(b"\r") == []
    assert framer.feed(b"\n") == []
    assert framer.pending == b""


def test_kept_line_endings_are_delivered_and_never_skipped() -> None:
    framer = LineFramer(100, keep_endings=True)
    assert framer.feed(b"GET / HTTP/1.0\r\nA: b\n\r\nbo") == [
        b"GET / HTTP/1.0\r\n",
        b"A: b\n",
        b"\r\n",
    ]
    assert framer.pending == b"bo"
    assert framer.frame(b"line\r\n") == b"line\r\n"
    assert framer.frame_all([b"a\n", b"\r\n"]) == b"a\n\r\n"
    for bad in (b"", b"no ending", b"two\nlines\n"):
        with pytest.raises(EncodeError, match="must end in its one newline"):
            framer.frame(bad)


def test_kept_endings_do_not_count_against_the_limit() -> None:
    assert LineFramer(3, keep_endings=True).feed(b"abc\r\nxyz\n") == [b"abc\r\n", b"xyz\n"]
    with pytest.raises(FrameTooLarge):
        LineFramer(3, keep_endings=True).feed(b"abcd\n")


def test_a_last_line_without_newline_is_reported_or_delivered() -> None:
    framer = LineFramer(100)
    framer.feed(b"a\nunterminated\r")
    frames, error = framer.flush()
    assert frames == []
    assert error is not None
    assert error.frame == b"unterminated\r"
    assert "ended inside a line" in error.reason
    assert framer.pending == b""
    assert framer.flush() == ([], None)
    delivering = LineFramer(100, deliver_last_line=True)
    delivering.feed(b"a\nlast\r")
    assert delivering.flush() == ([b"last"], None)
    keeping = LineFramer(100, keep_endings=True, deliver_last_line=True)
    keeping.feed(b"last")
    assert keeping.flush() == ([b"last"], None)


def test_binary_framers_report_where_the_input_ended() -> None:
    fixed = FixedFramer(4)
    fixed.feed(b"abcdef")
    _, error = fixed.flush()
    assert error is not None
    assert "2 of its 4 bytes" in error.reason
    prefixed = LengthPrefixedFramer()
    prefixed.feed(b"\x05\x00")
    _, error = prefixed.flush()
    assert error is not None
    assert "length prefix: 2 of its 4 bytes" in error.reason
    prefixed.feed(b"\x05\x00\x00\x00abc")
    _, error = prefixed.flush()
    assert error is not None
    assert "3 of its 5 payload bytes" in error.reason


def test_crlf_line_endings() -> None:
    framer = LineFramer(100)
    assert framer.feed(b"a\r\nb\nc\r") == [b"a", b"b"]
    assert framer.feed(b"\nd\r\n") == [b"c", b"d"]
    # A \r that is not just before the newline is content.
    assert framer.feed(b"e\rf\n") == [b"e\rf"]


@FAST
@given(line_payloads, cuts)
def test_crlf_under_any_chunking(payloads: list[bytes], cut: list[int]) -> None:
    data = b"".join(p + b"\r\n" for p in payloads)
    for chunks in (split_at(data, cut), one_byte_at_a_time(data)):
        assert feed_chunks(LineFramer(64, skip_empty=False), chunks) == payloads
        assert feed_chunks(LineFramer(64), chunks) == [p for p in payloads if p]


@pytest.mark.parametrize("ending", [b"\n", b"\r\n"])
def test_line_exactly_at_the_limit_passes(ending: bytes) -> None:
    line = b"x" * 8 + ending
    assert LineFramer(8).feed(line * 3) == [b"x" * 8] * 3
    assert feed_chunks(LineFramer(8), one_byte_at_a_time(line * 3)) == [b"x" * 8] * 3


def test_complete_line_one_over_the_limit_raises_with_earlier_frames() -> None:
    framer = LineFramer(8)
    with pytest.raises(FrameTooLarge) as info:
        framer.feed(b"ok\r\nfine\n" + b"y" * 9 + b"\nlater\n")
    assert info.value.frames == [b"ok", b"fine"]
    assert info.value.size == 9
    assert info.value.limit == 8
    assert framer.pending == b""


def test_partial_line_over_the_limit_raises_at_once() -> None:
    framer = LineFramer(8)
    assert framer.feed(b"abc") == []
    with pytest.raises(FrameTooLarge) as info:
        framer.feed(b"1\n2\n" + b"z" * 9)  # no newline yet: do not wait for it
    assert info.value.frames == [b"abc1", b"2"]
    assert framer.pending == b""


def test_partial_line_over_the_limit_fed_byte_by_byte() -> None:
    framer = LineFramer(8)
    for byte in one_byte_at_a_time(b"z" * 8):
        assert framer.feed(byte) == []
    with pytest.raises(FrameTooLarge) as info:
        framer.feed(b"z")
    assert info.value.frames == []


def test_line_of_limit_bytes_with_split_crlf_is_not_too_large() -> None:
    # Found by the one-byte-at-a-time property: "xxxxxxxx\r" is pending when \n is not in yet.
    framer = LineFramer(8)
    assert framer.feed(b"x" * 8 + b"\r") == []
    assert framer.feed(b"\n") == [b"x" * 8]
    # ...but a \r that turns out to be content makes the line too long.
    framer.feed(b"x" * 8 + b"\r")
    with pytest.raises(FrameTooLarge):
        framer.feed(b"y")


def test_line_frame_refuses_a_newline() -> None:
    framer = LineFramer(100)
    with pytest.raises(EncodeError):
        framer.frame(b"a\nb")
    with pytest.raises(EncodeError):
        framer.frame_all([b"ok", b"a\nb", b"ok"])
    with pytest.raises(EncodeError):
        framer.frame_all(iter([b"\n"]))
    assert framer.frame_all([]) == b""
    assert framer.frame_all(iter([b"a", b""])) == b"a\n\n"


# ---------------------------------------------------------------- FixedFramer


fixed_sizes = st.integers(1, 9)


@FAST
@given(fixed_sizes, st.data())
def test_fixed_round_trip_under_any_chunking(size: int, data: st.DataObject) -> None:
    payloads = data.draw(st.lists(st.binary(min_size=size, max_size=size), max_size=12))
    cut = data.draw(cuts)
    framer = FixedFramer(size, 64)
    stream = framer.frame_all(payloads)
    assert stream == b"".join(payloads)
    assert feed_chunks(FixedFramer(size, 64), split_at(stream, cut)) == payloads
    assert feed_chunks(FixedFramer(size, 64), one_byte_at_a_time(stream)) == payloads


def test_fixed_many_records_per_chunk_and_partial_kept() -> None:
    framer = FixedFramer(3, 3)  # exactly at the limit
    assert framer.feed(b"abcdefg") == [b"abc", b"def"]
    assert framer.pending == b"g"
    assert framer.feed(b"hi") == [b"ghi"]
    assert framer.pending == b""
    assert FixedFramer(1, 1).feed(b"xyz") == [b"x", b"y", b"z"]


@FAST
@given(fixed_sizes, st.binary(max_size=60), cuts, st.data())
def test_fixed_feed_block_is_feed_joined(
    size: int, stream: bytes, cut: list[int], data: st.DataObject
) -> None:
    """One block of the complete records, with ``feed``'s bookkeeping, read after read.

    As the engine does at a stage change, the bytes after the first ``k`` records of
    ``examined`` framed afresh give back the records after ``k`` and the same partial record.
    """
    by_frame, by_block = FixedFramer(size, 64), FixedFramer(size, 64)
    for chunk in split_at(stream, cut):
        given_chunk = bytearray(chunk) if data.draw(st.booleans()) else chunk
        frames = by_frame.feed(given_chunk)
        block = by_block.feed_block(given_chunk)
        assert type(block) is bytes
        assert block == b"".join(frames)
        assert by_block.examined == by_frame.examined
        assert by_block.chunk_start == by_frame.chunk_start
        assert by_block.pending == by_frame.pending
        examined = by_block.examined
        assert examined[: len(block)] == block
        k = data.draw(st.integers(0, len(frames)))
        rest = examined[by_block.offset_after(examined, k) :]
        fresh = FixedFramer(size, 64)
        assert fresh.feed_block(rest) == block[k * size :]
        assert fresh.pending == by_block.pending


def test_fixed_feed_block_keeps_the_partial_record() -> None:
    framer = FixedFramer(3, 3)
    assert framer.feed_block(b"abcdefg") == b"abcdef"
    assert (framer.pending, framer.examined, framer.chunk_start) == (b"g", b"abcdefg", 0)
    assert framer.feed_block(b"h") == b""
    assert framer.feed_block(b"ij") == b"ghi"
    assert (framer.pending, framer.examined, framer.chunk_start) == (b"j", b"ghij", 2)
    assert FixedFramer(1, 1).feed_block(bytearray(b"xyz")) == b"xyz"


def test_fixed_frame_refuses_a_wrong_size() -> None:
    framer = FixedFramer(4, 100)
    with pytest.raises(EncodeError):
        framer.frame(b"abc")
    with pytest.raises(EncodeError):
        framer.frame_all([b"abcd", b"abcde"])
    with pytest.raises(EncodeError):
        framer.frame_all(iter([b"ab"]))


def test_fixed_frame_all_refuses_sizes_that_only_add_up() -> None:
    # 3 + 5 bytes == 2 records of 4: the total alone does not show the error.
    with pytest.raises(EncodeError):
        FixedFramer(4, 100).frame_all([b"abc", b"defgh"])


# ---------------------------------------------------------------- LengthPrefixedFramer


prefixed_payloads = st.lists(st.binary(max_size=40), max_size=12)


@FAST
@given(prefixed_payloads, cuts)
def test_prefixed_round_trip_under_any_chunking(payloads: list[bytes], cut: list[int]) -> None:
    framer = LengthPrefixedFramer(64)
    stream = framer.frame_all(payloads)
    assert stream == b"".join(framer.frame(p) for p in payloads)
    assert feed_chunks(LengthPrefixedFramer(64), [stream]) == payloads
    assert feed_chunks(LengthPrefixedFramer(64), split_at(stream, cut)) == payloads
    assert feed_chunks(LengthPrefixedFramer(64), one_byte_at_a_time(stream)) == payloads


def test_prefix_is_u32_little_endian() -> None:
    assert LengthPrefixedFramer(10).frame(b"abc") == b"\x03\x00\x00\x00abc"
    assert LengthPrefixedFramer(10).frame(b"") == b"\x00\x00\x00\x00"


def test_prefixed_exactly_at_the_limit_passes() -> None:
    framer = LengthPrefixedFramer(5)
    assert framer.feed(framer.frame(b"12345") * 2) == [b"12345"] * 2


def test_prefix_over_the_limit_raises_before_the_payload() -> None:
    framer = LengthPrefixedFramer(5)
    good = framer.frame(b"ok")
    assert framer.feed(good + b"\x06\x00") == [b"ok"]  # half a prefix: nothing to judge yet
    with pytest.raises(FrameTooLarge) as info:
        framer.feed(b"\x00\x00")  # the prefix is complete; none of the payload has arrived
    assert info.value.size == 6
    assert info.value.frames == []
    assert framer.pending == b""


def test_prefix_over_the_limit_keeps_earlier_frames() -> None:
    framer = LengthPrefixedFramer(5)
    with pytest.raises(FrameTooLarge) as info:
        framer.feed(framer.frame(b"a") + framer.frame(b"bc") + struct.pack("<I", MAX_U32))
    assert info.value.frames == [b"a", b"bc"]
    assert info.value.size == MAX_U32


# ---------------------------------------------------------------- all framers: random input


FRAMERS: dict[str, Callable[[int], Framer]] = {
    "line": LineFramer,
    "fixed": lambda limit: FixedFramer(min(3, limit), limit),
    "prefixed": LengthPrefixedFramer,
}
#: What a framer may hold beyond max_message_size: a trailing \r, or the 4-byte prefix.
OVERHEAD = {"line": 1, "fixed": 0, "prefixed": 4}


@pytest.mark.parametrize("kind", sorted(FRAMERS))
@FAST
@given(st.integers(1, 40), st.lists(st.binary(max_size=64), max_size=20))
def test_random_bytes_give_frames_or_frame_too_large_with_bounded_memory(
    kind: str, limit: int, chunks: list[bytes]
) -> None:
    framer = FRAMERS[kind](limit)
    for chunk in chunks:
        try:
            frames = framer.feed(chunk)
        except FrameTooLarge as exc:
            frames = exc.frames
            assert exc.size > limit
        assert all(len(frame) <= limit for frame in frames)
        assert len(framer.pending) <= limit + OVERHEAD[kind]


# ---------------------------------------------------------------- stage hand-over


def _framed(kind: str, payloads: list[bytes]) -> bytes:
    return FRAMERS[kind](64).frame_all(payloads)


@pytest.mark.parametrize("kind", sorted(FRAMERS))
@FAST
@given(st.data())
def test_offset_after_gives_the_exact_remaining_stream(kind: str, data: st.DataObject) -> None:
    """What the engine does when a stage ends after ``k`` frames of one feed.

    The bytes after the first ``k`` frames of ``examined`` are what the next stage's framer
    must be fed; framing them again must give back exactly the frames after ``k`` and the same
    partial frame.
    """
    if kind == "fixed":
        payloads = data.draw(st.lists(st.binary(min_size=3, max_size=3), max_size=8))
    elif kind == "line":
        payloads = data.draw(line_payloads)
    else:
        payloads = data.draw(prefixed_payloads)
    crlf = kind == "line" and data.draw(st.booleans())
    stream = b"".join(p + b"\r\n" for p in payloads) if crlf else _framed(kind, payloads)
    chunks = split_at(stream, data.draw(cuts))
    framer = FRAMERS[kind](64)
    previous_pending = b""
    for chunk in chunks:
        frames = framer.feed(chunk)
        examined = framer.examined
        assert examined[: framer.chunk_start] == previous_pending
        assert examined[framer.chunk_start :] == chunk
        k = data.draw(st.integers(0, len(frames)))
        rest = examined[framer.offset_after(examined, k) :]
        fresh = FRAMERS[kind](64)
        assert fresh.feed(rest) == frames[k:]
        assert fresh.pending == framer.pending
        if frames:  # (skipped empty lines with no frame before them are not past one)
            assert examined[framer.offset_after(examined, len(frames)) :] == framer.pending
        previous_pending = framer.pending
