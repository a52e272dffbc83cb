"""The raw codec, the textual codec's line options, and what a decoder says when input ends."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.chunks import split_at
from tests.models import Ping
from trio_reactive.errors import ConfigError, DecodeError, EncodeError, ProtocolDefinitionError
from trio_reactive.wire.codec import FixedBinary, Raw, Textual, VariableBinary

FAST = settings(max_examples=60, deadline=None)
RAW = Raw().compile((bytes,), (bytes,))


@attrs.frozen
class Line:
    text: str


class Lines:
    def encode(self, message: Line) -> bytes:
        return message.text.encode()

    def decode(self, payload: bytes) -> Line:
        return Line(payload.decode())


# ---------------------------------------------------------------- raw


@FAST
@given(st.binary(max_size=300), st.lists(st.integers(0, 300), max_size=8), st.data())
def test_raw_chunks_are_the_stream_and_unconsumed_is_exact(
    stream: bytes, cuts: list[int], data: st.DataObject
) -> None:
    limit = data.draw(st.integers(1, 64))
    decoder = RAW.decoder(limit)
    batches = [decoder.decode(chunk) for chunk in split_at(stream, cuts)]
    chunks = [chunk for batch in batches for chunk in batch.messages]
    assert b"".join(chunks) == stream
    assert all(type(chunk) is bytes and 0 < len(chunk) <= limit for chunk in chunks)
    first = data.draw(st.integers(0, len(batches)))
    rest = batches[first:]
    k = data.draw(st.integers(0, len(rest[0].messages))) if rest else 0
    handled = sum(len(chunk) for batch in batches[:first] for chunk in batch.messages)
    handled += sum(len(chunk) for chunk in rest[0].messages[:k]) if rest else 0
    assert decoder.unconsumed(rest, k) == stream[handled:]


def test_raw_sends_bytes_as_they_are_within_the_limit() -> None:
    encoder = RAW.encoder(4)
    assert encoder.encode(b"abcd") == b"abcd"
    assert encoder.encode_batch([b"ab", bytearray(b"cd"), memoryview(b"ef")]) == b"abcdef"
    with pytest.raises(EncodeError, match="over max_message_size=4"):
        encoder.encode(b"abcde")
    with pytest.raises(EncodeError, match="sends bytes, not str"):
        encoder.encode_batch(["text"])


def test_raw_sides_are_bytes() -> None:
    with pytest.raises(ProtocolDefinitionError, match="give bytes as both sides"):
        Raw().compile((Ping,), (bytes,))


BUILT_IN = [Textual(), FixedBinary(), VariableBinary()]


@pytest.mark.parametrize("codec", BUILT_IN, ids=lambda c: c.name)
def test_a_bytes_side_needs_the_raw_codec_or_a_serde(codec: Any) -> None:
    with pytest.raises(ProtocolDefinitionError, match=r"use codec=tr.Raw\(\)"):
        codec.compile((bytes,), (Ping,))


def test_a_custom_serde_may_carry_bytes() -> None:
    class AsIs:
        def encode(self, message: bytes) -> bytes:
            return message

        def decode(self, payload: bytes) -> bytes:
            return payload

    built = Textual(serde=AsIs()).compile((bytes,), (bytes,))
    assert built.decoder().decode_batch(built.encoder().encode_batch([b"a", b"b"])) == [b"a", b"b"]


def test_a_head_of_lines_hands_its_body_to_a_raw_stage_byte_for_byte() -> None:
    """What a composite HTTP service does: lines up to the empty one, then the raw rest."""
    head = Textual(serde=Lines(), keep_line_endings=True).compile((Line,), (Line,))
    stream = b"HTTP/1.0 200 OK\r\nA: b\r\n\r\nbody\r\n\r\nmore\n" + bytes(range(256))
    for cut in range(len(stream) + 1):
        decoder = head.decoder()
        batches = [decoder.decode(chunk) for chunk in (stream[:cut], stream[cut:])]
        lines = [line for batch in batches for line in batch.messages]
        end = lines.index(Line("\r\n")) + 1
        # The stage ends at the empty line: in whichever read it came.
        seen = 0
        for index, batch in enumerate(batches):
            if seen + len(batch.messages) >= end:
                rest = decoder.unconsumed(batches[index:], end - seen)
                break
            seen += len(batch.messages)
        assert rest == stream[stream.index(b"\r\n\r\n") + 4 :]
        body = RAW.decoder()
        assert b"".join(body.decode(rest).messages) == rest


# ---------------------------------------------------------------- textual options


def test_keep_line_endings_needs_a_serde_that_reads_lines() -> None:
    with pytest.raises(ConfigError, match="keep_line_endings"):
        Textual(keep_line_endings=True)


def test_the_json_codec_skips_empty_lines() -> None:
    built = Textual().compile((Ping,), (Ping,))
    assert built.decoder().decode_batch(b'\n\r\n{"Ping":{"n":1}}\n\n') == [Ping(1)]


# ---------------------------------------------------------------- the end of input


def test_a_last_line_without_newline_is_reported_at_the_end_of_input() -> None:
    built = Textual().compile((Ping,), (Ping,))
    decoder = built.decoder()
    assert decoder.decode_batch(b'{"Ping":{"n":1}}\n{"Ping":{"n":2}}') == [Ping(1)]
    finished = decoder.finish()
    [error] = finished.messages
    assert isinstance(error, DecodeError)
    assert error.reason == "the input ended inside a line: 16 bytes with no newline after them"
    assert error.frame == b'{"Ping":{"n":2}}'
    assert decoder.unconsumed([finished]) == b'{"Ping":{"n":2}}'
    assert decoder.unconsumed([finished], 1) == b""
    assert decoder.finish().messages == []


def test_a_last_line_without_newline_is_delivered_when_asked() -> None:
    built = Textual(deliver_last_line=True).compile((Ping,), (Ping,))
    decoder = built.decoder()
    decoder.decode_batch(b'{"Ping":{"n":1}}\n{"Ping":{"n":2}}\r')
    assert decoder.finish().messages == [Ping(2)]
    assert built.decoder().finish().messages == []


@pytest.mark.parametrize("codec", [FixedBinary(), VariableBinary()], ids=lambda c: c.name)
def test_a_binary_frame_cut_by_the_end_of_input_is_reported(codec: Any) -> None:
    built = codec.compile((Ping,), (Ping,))
    frame = built.encoder().encode(Ping(5))
    decoder = built.decoder()
    assert decoder.decode_batch(frame + frame[:-1]) == [Ping(5)]
    [error] = decoder.finish().messages
    assert isinstance(error, DecodeError)
    assert "the input ended inside" in error.reason
    assert error.frame == frame[:-1]


LINES = st.lists(st.sampled_from(["", "\r", "a", "bc", "d\r"]), max_size=12)


@FAST
@given(LINES, st.lists(st.integers(0, 60), max_size=6), st.booleans(), st.data())
def test_unconsumed_is_exact_with_skipped_empty_lines_and_kept_endings(
    lines: list[str], cuts: list[int], keep: bool, data: st.DataObject
) -> None:
    """Whatever is skipped or kept, a fresh decoder of the reported bytes gives the rest."""
    built = Textual(serde=Lines(), keep_line_endings=keep).compile((Line,), (Line,))
    stream = "".join(line + "\n" for line in lines).encode() + b"tail"
    decoder = built.decoder()
    batches = [decoder.decode(chunk) for chunk in split_at(stream, cuts)]
    decoded = [line for batch in batches for line in batch.messages]
    first = data.draw(st.integers(0, len(batches)))
    rest = batches[first:]
    k = data.draw(st.integers(0, len(rest[0].messages))) if rest else 0
    handled = sum(len(batch.messages) for batch in batches[:first]) + k
    fresh = built.decoder()
    assert fresh.decode_batch(decoder.unconsumed(rest, k)) == decoded[handled:]
    assert fresh.framer.pending == b"tail"
