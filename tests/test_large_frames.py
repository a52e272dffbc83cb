"""A large frame arriving in small reads costs linear work: its pieces are joined once.

No timing here (that is ``python -m benchmarks.codecs --large``): the framers' own
representation shows that a read which completes no frame is only appended, and that the read
completing it joins the pieces once.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from trio_reactive.errors import FrameTooLarge
from trio_reactive.wire.codec import Textual, VariableBinary
from trio_reactive.wire.framing import FixedFramer, FramerBase, LengthPrefixedFramer, LineFramer
from trio_reactive.wire.raw import ChunkFramer

from .models import Ping

SIZE = 64 * 1024
PIECE = 1024

FRAMES: dict[str, tuple[Callable[[], FramerBase], bytes]] = {
    "line": (lambda: LineFramer(SIZE), b"x" * SIZE + b"\n"),
    "fixed": (lambda: FixedFramer(SIZE + 1, SIZE + 1), b"x" * (SIZE + 1)),
    "prefixed": (lambda: LengthPrefixedFramer(SIZE), LengthPrefixedFramer().frame(b"x" * SIZE)),
}


#: The codecs whose frames have no fixed size, so that one can come too large.
FRAMED_CODECS = pytest.mark.parametrize(
    "codec", [Textual(), VariableBinary()], ids=lambda codec: codec.name
)


def pieces(data: bytes) -> list[bytes]:
    return [data[i : i + PIECE] for i in range(0, len(data), PIECE)]


@pytest.mark.parametrize("kind", sorted(FRAMES))
def test_pieces_of_a_partial_frame_are_kept_unjoined(kind: str) -> None:
    make, frame = FRAMES[kind]
    framer = make()
    *head, last = pieces(frame)
    for count, piece in enumerate(head, 1):
        assert framer.feed(piece) == []
        assert framer._kept == head[:count]  # appended as it came: nothing copied or joined
        assert framer.region == b""
    assert len(framer.feed(last)) == 1
    assert framer.region == frame  # joined once, by the read that completed the frame
    assert framer._kept == []


@pytest.mark.parametrize("kind", sorted(FRAMES))
def test_the_partial_after_a_complete_frame_is_one_piece(kind: str) -> None:
    make, frame = FRAMES[kind]
    framer = make()
    framer.feed(frame + frame[:PIECE])
    assert framer._kept == [frame[:PIECE]]
    for piece in pieces(frame[PIECE:])[:-1]:
        framer.feed(piece)
    assert len(framer._kept) == len(pieces(frame[PIECE:]))


def test_a_long_line_in_pieces_is_refused_at_the_piece_that_exceeds_the_limit() -> None:
    framer = LineFramer(4 * PIECE)
    line = pieces(b"y" * (8 * PIECE))
    for piece in line[:4]:
        assert framer.feed(piece) == []
    with pytest.raises(FrameTooLarge) as info:
        framer.feed(line[4])
    assert info.value.size == 5 * PIECE
    assert framer._kept == []


@FRAMED_CODECS
def test_a_frame_refused_in_pieces_leaves_all_its_bytes_for_a_hand_over(
    codec: Textual | VariableBinary,
) -> None:
    built = codec.compile((Ping,), (Ping,))
    ping = built.encoder().encode(Ping(1))
    blob = ping[:2] + bytes(range(11, 256)) * 8  # no newline, and a huge length prefix
    decoder = built.decoder(64)
    batches = [decoder.decode(piece) for piece in (ping, blob[:2], blob[2:])]
    assert batches[0].messages == [Ping(1)]
    assert batches[-1].overflow is not None
    assert decoder.unconsumed(batches, 0) == ping + blob
    assert decoder.unconsumed(batches, 1) == blob


def test_an_oversize_prefix_is_refused_before_its_payload_arrives() -> None:
    framer = LengthPrefixedFramer(SIZE)
    frame = LengthPrefixedFramer().frame(b"z" * (SIZE + 1))
    assert framer.feed(frame[:2]) == []
    with pytest.raises(FrameTooLarge):
        framer.feed(frame[2:4])
    assert framer._kept == []


@FRAMED_CODECS
def test_a_decoder_keeps_no_bytes_for_reads_that_complete_nothing(
    codec: Textual | VariableBinary,
) -> None:
    """What a hand-over needs of such reads lives on in the partial frame, not in each batch."""
    built = codec.compile((Ping,), (Ping,))
    wire = built.encoder().encode_batch([Ping(1)] * 20)
    decoder = built.decoder()
    batches = [decoder.decode(wire[i : i + 3]) for i in range(0, 30, 3)]
    assert any(not batch.messages for batch in batches)
    for batch in batches:
        if not batch.messages:
            assert batch._region == b""
    rest = built.decoder().decode_batch(decoder.unconsumed(batches) + wire[30:])
    assert rest == [Ping(1)] * 20


def test_raw_chunks_are_the_reads_cut_at_the_limit() -> None:
    framer = ChunkFramer(4)
    assert framer.feed(b"abcdefghij") == [b"abcd", b"efgh", b"ij"]
    assert framer.pending == b""
    assert framer.feed(b"") == []
    assert framer.offset_after(b"abcdefghij", 2) == 8
