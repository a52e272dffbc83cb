"""A read that is one whole frame, and a lone reply: the shortcuts give what the batch way gives.

A request/response peer's every read is one frame, and its every reply one message.  The
decoders take such a read straight to the serde (``framer.lone``), and a sync handler's lone
reply is framed in one step (``Encoder.frames``).  Both must be exactly the batch way: the same
messages, the same errors, the same bytes for a stage hand-over, the same frames on the wire.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import trio_reactive as tr
from tests.engine_support import Ping, Pong, Recorder, first_ping_fails, protocol
from tests.strategies import messages
from tests.test_codecs import CASES, FAST, SIDES, compiled
from trio_reactive.errors import DecodeError

pytestmark = pytest.mark.timeout(60)

ALL_CASES = pytest.mark.parametrize(("codec", "side"), CASES)


def batch_way(codec: str, side: str, data: bytes) -> list[Any]:
    """What a fresh decoder makes of ``data`` through its framer's ``feed``."""
    decoder = compiled(codec, side).decoder()
    return decoder.decode_frames(decoder.framer.feed(data))


@ALL_CASES
@FAST
@given(data=st.data())
def test_a_read_of_one_frame_takes_the_shortcut_and_decodes_as_the_batch_way(
    codec: str, side: str, data: st.DataObject
) -> None:
    built = compiled(codec, side)
    message = data.draw(messages(SIDES[side]))
    frame = built.encoder().encode(message)
    assert built.decoder().framer.lone(frame) is not None  # every built-in codec has one
    decoder = built.decoder()
    batch = decoder.decode(frame)
    assert batch.messages == [message] == batch_way(codec, side, frame)
    assert decoder.unconsumed([batch], 0) == frame
    assert decoder.unconsumed([batch], 1) == b""


@ALL_CASES
@FAST
@given(data=st.data())
def test_the_shortcut_is_not_taken_while_a_partial_frame_is_kept(
    codec: str, side: str, data: st.DataObject
) -> None:
    built = compiled(codec, side)
    sent = data.draw(st.lists(messages(SIDES[side]), min_size=2, max_size=4))
    frames = [built.encoder().encode(message) for message in sent]
    cut = data.draw(st.integers(1, len(frames[0]) - 1))
    decoder = built.decoder()
    got = decoder.decode(frames[0][:cut]).messages
    got += decoder.decode(frames[0][cut:] + frames[1][:1]).messages
    got += decoder.decode(frames[1][1:]).messages
    for frame in frames[2:]:
        got += decoder.decode(frame).messages
    assert got == sent


BAD_FRAMES = [
    ("textual", "CLIENT", b'{"Nope":{}}\n'),
    ("textual", "CLIENT", b"{not json\n"),
    ("fixed", "CLIENT", bytes([200]) + bytes(compiled("fixed", "CLIENT").serde.decode_size - 1)),
    ("variable", "CLIENT", b"\x02\x00\x00\x00\xc8\x00"),
]


@pytest.mark.parametrize(("codec", "side", "frame"), BAD_FRAMES)
def test_a_bad_lone_frame_is_the_decode_error_the_batch_way_makes(
    codec: str, side: str, frame: bytes
) -> None:
    decoder = compiled(codec, side).decoder()
    assert decoder.framer.lone(frame) is not None
    (error,) = decoder.decode(frame).messages
    assert isinstance(error, DecodeError)
    assert [error] == batch_way(codec, side, frame)  # DecodeErrors compare reason and frame


@pytest.mark.parametrize(
    "read",
    [b"\n", b"a\r\n", b"x\ny\n", b'{"Ping":{"n":1}}'],
    ids=["empty-line", "crlf", "two-lines", "no-newline"],
)
def test_lines_the_shortcut_leaves_to_the_framer(read: bytes) -> None:
    decoder = compiled("textual", "CLIENT").decoder()
    assert decoder.framer.lone(read) is None
    assert decoder.decode(read).messages == batch_way("textual", "CLIENT", read)


def test_an_empty_variable_frame_is_left_to_the_framer_which_drops_it() -> None:
    decoder = compiled("variable", "CLIENT").decoder()
    assert decoder.framer.lone(bytes(4)) is None
    assert decoder.decode(bytes(4)).messages == []


@ALL_CASES
@FAST
@given(data=st.data())
def test_one_step_frames_are_the_encoders_own_bytes(
    codec: str, side: str, data: st.DataObject
) -> None:
    encoder = compiled(codec, side).encoder()
    message = data.draw(messages(SIDES[side]))
    frame = encoder.frames.get(type(message))
    if frame is not None:
        assert frame(message) == encoder.encode(message) == encoder.encode_batch([message])


def test_a_one_step_frame_over_the_limit_raises_instead_of_sending() -> None:
    encoder = compiled("textual", "SERVER").encoder(8)
    (cls,) = [cls for cls in encoder.frames if cls.__name__ == "Pong"]
    with pytest.raises(Exception):  # noqa: B017 - the encoder's own way says what
        encoder.frames[cls](cls(1, 2))
    with pytest.raises(tr.EncodeError, match="over max_message_size=8"):
        encoder.encode(cls(1, 2))


@pytest.mark.parametrize("codec", ["textual", "fixed", "variable"])
async def test_a_lone_reply_that_cannot_be_encoded_is_reported_and_the_next_goes_out(
    codec: str,
) -> None:
    """The lone reply's shortcut fails on a value its class cannot hold; the batch way then
    reports it, and the connection goes on with the next request."""

    def respond(peer: tr.Peer, message: Ping) -> Pong:
        return Pong(message.n, 2**70 if message.n == 1 else 0)  # too big for every codec's int

    events = Recorder()
    await first_ping_fails(protocol(codec), respond, events)
    (error,) = events.of(tr.ProcessorError)
    assert isinstance(error.error, tr.EncodeError)
