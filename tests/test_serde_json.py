"""Talking to a Rust peer that uses serde_json with serde's default (externally tagged) enums.

``RECORDED`` is what serde_json 1.0.87 wrote for these messages: ``tests/serde_json_peer`` is
the program that printed it (``cargo run`` there, with serde and serde_json available), and
that program also read back everything ``MESSAGES`` encodes to with ``serde_json=True``.  The
textual codec reads the recorded bytes as they are, with or without ``serde_json=True``, and
with that option writes exactly the same bytes.
"""

from __future__ import annotations

import enum

import attrs
import pytest

from trio_reactive.errors import ConfigError, DecodeError
from trio_reactive.wire.codec import Textual


class Color(enum.IntEnum):
    RED = 1
    GREEN = 2
    BLUE = 3


@attrs.frozen
class Point:
    x: int
    y: int


@attrs.frozen
class Quit:
    pass


@attrs.frozen
class Ping:
    n: int


@attrs.frozen
class Move:
    player: int
    x: float
    y: float
    color: Color
    hit: bool


@attrs.frozen
class Blob:
    name: str
    data: bytes
    maybe: int | None
    tags: list[str]
    at: Point


@attrs.frozen
class Counts:
    by_color: dict[Color, int]


CLASSES = (Quit, Ping, Move, Blob, Counts)
MESSAGES = [
    Quit(),
    Ping(7),
    Move(3, 1.5, -0.25, Color.GREEN, True),
    Blob("ann", b"\x00\x01\xff", None, ["a", "é"], Point(-1, 2)),
    Blob("", b"", -5, [], Point(0, 0)),
    Counts({Color.RED: 1, Color.BLUE: 3}),
]
RECORDED = """\
"Quit"
{"Ping":{"n":7}}
{"Move":{"player":3,"x":1.5,"y":-0.25,"color":"GREEN","hit":true}}
{"Blob":{"name":"ann","data":[0,1,255],"maybe":null,"tags":["a","é"],"at":{"x":-1,"y":2}}}
{"Blob":{"name":"","data":[],"maybe":-5,"tags":[],"at":{"x":0,"y":0}}}
{"Counts":{"by_color":{"RED":1,"BLUE":3}}}
""".encode()

SERDE_JSON = Textual(serde_json=True).compile(CLASSES, CLASSES)
DEFAULT = Textual().compile(CLASSES, CLASSES)


def test_serde_json_option_writes_what_serde_json_writes() -> None:
    assert SERDE_JSON.encoder().encode_batch(MESSAGES) == RECORDED
    assert b"".join(map(SERDE_JSON.encoder().encode, MESSAGES)) == RECORDED


def test_both_forms_are_read_either_way() -> None:
    for codec in (SERDE_JSON, DEFAULT):
        assert codec.decoder().decode_batch(RECORDED) == MESSAGES
        assert codec.decoder().decode_batch(DEFAULT.encoder().encode_batch(MESSAGES)) == MESSAGES


def test_the_default_form_differs_only_where_serde_json_does() -> None:
    default = DEFAULT.encoder().encode_batch(MESSAGES).splitlines()
    recorded = RECORDED.splitlines()
    assert default[0] == b'{"Quit":{}}'
    assert default[1] == recorded[1]
    assert default[2] == recorded[2].replace(b'"GREEN"', b"2")
    assert default[3] == recorded[3].replace(b"[0,1,255]", b'"AAH/"')
    assert default[5] == b'{"Counts":{"by_color":{"1":1,"3":3}}}'


def test_a_bare_tag_is_only_a_message_with_no_fields() -> None:
    [error] = DEFAULT.decoder().decode_batch(b'"Ping"\n')
    assert isinstance(error, DecodeError)
    assert "only a message with no fields may be a bare string" in error.reason
    [error] = DEFAULT.decoder().decode_batch(b'"Nope"\n')
    assert isinstance(error, DecodeError)


def test_byte_arrays_must_hold_bytes() -> None:
    line = b'{"Blob":{"name":"","data":[256],"maybe":null,"tags":[],"at":{"x":0,"y":0}}}\n'
    [error] = DEFAULT.decoder().decode_batch(line)
    assert isinstance(error, DecodeError)
    assert "$.Blob.data" in error.reason


def test_serde_json_is_an_option_of_the_built_in_serde() -> None:
    class Lines:
        def encode(self, message: object) -> bytes:
            return b""

        def decode(self, payload: bytes) -> object:
            return payload

    with pytest.raises(ConfigError):
        Textual(serde=Lines(), serde_json=True)
