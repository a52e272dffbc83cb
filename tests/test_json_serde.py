"""The JSON serde: wire form, round trips, named decode errors, encode refusals, custom serdes."""

from __future__ import annotations

import datetime
import enum
import math
from typing import Annotated, Any

import attrs
import construct as c
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.models import (
    CLIENT,
    RICH,
    SERVER,
    STAMPED,
    Color,
    Move,
    Named,
    Ping,
    Point,
    Pong,
    Quit,
    Rich,
    Stamped,
)
from tests.strategies import json_values, messages, strategy_for, variants
from trio_reactive.errors import ConfigError, DecodeError, EncodeError, ProtocolDefinitionError
from trio_reactive.wire.codec import Textual
from trio_reactive.wire.json.encoders import float_fields, may_hold_float
from trio_reactive.wire.json.serde import JsonSerde, make_json_converter
from trio_reactive.wire.serde import BatchSerde

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SIDES = {"CLIENT": CLIENT, "SERVER": SERVER, "RICH": RICH, "STAMPED": STAMPED}


def serde_for(side: Any) -> JsonSerde:
    classes = variants(side)
    return JsonSerde(classes, classes)


CLIENT_SERDE = serde_for(CLIENT)
RICH_SERDE = serde_for(RICH)
STAMPED_SERDE = serde_for(STAMPED)


def test_is_a_batch_serde() -> None:
    assert isinstance(CLIENT_SERDE, BatchSerde)


# ---------------------------------------------------------------- the wire form


@pytest.mark.parametrize(
    ("message", "wire"),
    [
        (Ping(1), b'{"Ping":{"n":1}}'),
        (Quit(), b'{"Quit":{}}'),
        (
            Move(3, 0.5, -2.0, Color.BLUE, True),
            b'{"Move":{"player":3,"x":0.5,"y":-2.0,"color":3,"hit":true}}',
        ),
        (
            Named("é", b"\x00\x01\x02\x03\xfc\xfd\xfe\xff"),
            '{"Named":{"name":"é","token":"AAECA/z9/v8="}}'.encode(),
        ),
    ],
)
def test_externally_tagged_wire_form(message: Any, wire: bytes) -> None:
    assert CLIENT_SERDE.encode(message) == wire
    assert CLIENT_SERDE.decode(wire) == message


def test_single_class_side_is_tagged_too() -> None:
    serde = JsonSerde((Pong,), (Pong,))
    assert serde.encode(Pong(1, -2)) == b'{"Pong":{"n":1,"at":-2}}'
    with pytest.raises(DecodeError, match="exactly one key"):
        serde.decode(b'{"n":1,"at":-2}')


def test_nested_lists_dicts_optionals_and_datetimes() -> None:
    rich = Rich("r", ["a", "b"], {"k": 1}, None, Point(1, 2), b"\xff", [Point(3, 4)])
    wire = orjson.loads(RICH_SERDE.encode(rich))
    assert wire == {
        "Rich": {
            "name": "r",
            "tags": ["a", "b"],
            "scores": {"k": 1},
            "maybe": None,
            "where": {"x": 1, "y": 2},
            "blob": "/w==",
            "points": [{"x": 3, "y": 4}],
        }
    }
    at = datetime.datetime(2024, 2, 29, 12, 30, 0, 250, tzinfo=datetime.UTC)
    wire = STAMPED_SERDE.encode(Stamped(at, "n"))
    assert wire == b'{"Stamped":{"at":"2024-02-29T12:30:00.000250+00:00","note":"n"}}'
    assert STAMPED_SERDE.decode(b'{"Stamped":{"at":"2024-02-29T12:30:00.000250Z"}}') == Stamped(at)


class Kind(str, enum.Enum):  # noqa: UP042 - the mixin form, as much used as StrEnum
    BIG = "big"
    SMALL = "small"


@attrs.frozen
class Enums:
    kind: Kind
    color: Annotated[Color, c.Int8ul]
    colors: list[Color]
    by_color: dict[Color, float]
    by_id: dict[int, str]


def test_str_and_int_enums_and_non_string_keys() -> None:
    serde = JsonSerde((Enums,), (Enums,))
    message = Enums(Kind.SMALL, Color.GREEN, [Color.RED], {Color.BLUE: 1.5}, {7: "seven"})
    wire = serde.encode(message)
    assert orjson.loads(wire) == {
        "Enums": {
            "kind": "small",
            "color": 2,
            "colors": [1],
            "by_color": {"3": 1.5},
            "by_id": {"7": "seven"},
        }
    }
    assert serde.decode(wire) == message


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize("side", sorted(SIDES))
@FAST
@given(data=st.data())
def test_round_trip_every_variant(side: str, data: st.DataObject) -> None:
    serde = serde_for(SIDES[side])
    batch = data.draw(st.lists(messages(SIDES[side]), min_size=1, max_size=6))
    payloads = serde.encode_many(batch)
    assert payloads == [serde.encode(message) for message in batch]
    for message, payload in zip(batch, payloads, strict=True):
        assert b"\n" not in payload
        assert list(orjson.loads(payload)) == [type(message).__name__]
        assert serde.decode(payload) == message
    assert serde.decode_many(payloads) == batch


@pytest.mark.parametrize("cls", [Ping, Move, Named, Quit, Pong, Rich, Point, Stamped])
def test_each_class_round_trips(cls: type) -> None:
    serde = JsonSerde((cls,), (cls,))

    @FAST
    @given(strategy_for(cls))
    def check(message: Any) -> None:
        assert serde.decode(serde.encode(message)) == message

    check()


WITH_OWN_CONVERTER = {
    name: JsonSerde(variants(side), variants(side), converter=make_json_converter())
    for name, side in SIDES.items()
}


@pytest.mark.parametrize("side", sorted(SIDES))
@FAST
@given(data=st.data())
def test_inlined_fields_write_what_the_converter_writes(side: str, data: st.DataObject) -> None:
    """The default converter lets flat classes skip cattrs' unstructure call: same bytes."""
    batch = data.draw(st.lists(messages(SIDES[side]), min_size=1, max_size=4))
    assert serde_for(SIDES[side]).encode_many(batch) == WITH_OWN_CONVERTER[side].encode_many(batch)


def test_a_user_converter_with_its_own_hooks() -> None:
    converter = make_json_converter()
    converter.register_unstructure_hook(Point, lambda p: [p.x, p.y])
    converter.register_structure_hook(Point, lambda v, _: Point(*v))
    serde = JsonSerde((Point,), (Point,), converter=converter)
    assert serde.encode(Point(1, 2)) == b'{"Point":[1,2]}'
    assert serde.decode(b'{"Point":[3,4]}') == Point(3, 4)
    [error] = serde.decode_many([b'{"Point":{"x":3}}'])
    assert isinstance(error, DecodeError)
    assert error.reason.startswith("invalid Point: ")
    # The default converter is not affected.
    assert RICH_SERDE.encode(Point(1, 2)) == b'{"Point":{"x":1,"y":2}}'
    # And the textual codec takes it as it is.
    codec = Textual(converter=converter).compile((Point,), (Point,))
    assert codec.encoder().encode(Point(5, 6)) == b'{"Point":[5,6]}\n'
    assert codec.decoder().decode_batch(b'{"Point":[7,8]}\n') == [Point(7, 8)]
    with pytest.raises(ConfigError):
        Textual(converter=converter, serde_json=True)


# ---------------------------------------------------------------- decode errors name the problem


BAD_FRAMES = [
    # bytes and JSON
    (b'{"Ping":{"n":1}}\xff', ["invalid UTF-8", "byte 16"]),
    (b'{"Ping":{"n":', ["invalid JSON"]),
    (b"", ["invalid JSON"]),
    (b'{"Move":{"x":NaN}}', ["NaN and Infinity"]),
    (b'{"Move":{"x":-Infinity}}', ["NaN and Infinity"]),
    (b'{"Move":{"x":Infinity}}', ["NaN and Infinity"]),
    (b'{"Ping":{"n":1e999}}', ["invalid JSON", "infinity"]),
    # the envelope
    (b"[1, 2]", ["JSON object", "array", "Move, Named, Ping, Quit"]),
    (b'"Ping"', ["JSON object", "string 'Ping'"]),
    (b"null", ["JSON object", "null"]),
    (b"{}", ["exactly one key", "empty object", "Move, Named, Ping, Quit"]),
    (b'{"Ping":{"n":1},"Quit":{}}', ["exactly one key", "2 keys", "'Ping', 'Quit'"]),
    (b'{"Pong":{"n":1}}', ["unknown message tag 'Pong'", "Move, Named, Ping, Quit"]),
    (b'{"ping":{"n":1}}', ["unknown message tag 'ping'"]),
    (b'{"Ping":[1]}', ["body of Ping", "JSON object", "array"]),
    (b'{"Quit":null}', ["body of Quit", "null"]),
    # fields
    (b'{"Ping":{}}', ["invalid Ping", "missing required field", "$.Ping.n"]),
    (b'{"Ping":{"n":1,"m":2}}', ["invalid Ping", "unexpected key(s) 'm'", "$.Ping"]),
    (b'{"Quit":{"why":"bored"}}', ["unexpected key(s) 'why'"]),
    (b'{"Ping":{"n":"1"}}', ["expected an integer", "string '1'", "$.Ping.n"]),
    (b'{"Ping":{"n":123456789012345678901234567890}}', ["expected an integer", "$.Ping.n"]),
    (b'{"Ping":{"n":1.5}}', ["expected an integer", "number 1.5", "$.Ping.n"]),
    (b'{"Ping":{"n":true}}', ["expected an integer", "got true", "$.Ping.n"]),
    (b'{"Ping":{"n":null}}', ["expected an integer", "got null", "$.Ping.n"]),
    (
        b'{"Move":{"player":1,"x":"1","y":2,"color":1,"hit":true}}',
        ["expected a number", "string '1'", "$.Move.x"],
    ),
    (
        b'{"Move":{"player":1,"x":1,"y":2,"color":9,"hit":true}}',
        ["expected a Color", "one of 1, 2, 3", "number 9", "$.Move.color"],
    ),
    (
        b'{"Move":{"player":1,"x":1,"y":2,"color":"PINK","hit":true}}',
        ["expected a Color", "string 'PINK'", "by name 'RED'", "$.Move.color"],
    ),
    (
        b'{"Move":{"player":1,"x":1,"y":2,"color":1,"hit":1}}',
        ["expected true or false", "number 1", "$.Move.hit"],
    ),
    (b'{"Named":{"name":null,"token":"AAAAAAAAAAA="}}', ["expected a string", "$.Named.name"]),
    (b'{"Named":{"name":"a","token":"not base64!"}}', ["base64", "$.Named.token"]),
    (b'{"Named":{"name":"a","token":[1,256]}}', ["base64", "array", "$.Named.token"]),
    (
        b'{"Move":{"player":"1","x":1,"y":2,"color":1}}',
        ["expected an integer", "$.Move.player", "missing required field @ $.Move.hit"],
    ),
]


@pytest.mark.parametrize(("frame", "named"), BAD_FRAMES)
def test_decode_errors_name_the_problem(frame: bytes, named: list[str]) -> None:
    with pytest.raises(DecodeError) as info:
        CLIENT_SERDE.decode(frame)
    for part in named:
        assert part in info.value.reason
    assert info.value.frame == frame
    assert CLIENT_SERDE.decode_many([frame]) == [info.value]


RICH_OK = {
    "name": "r",
    "tags": [],
    "scores": {},
    "maybe": None,
    "where": {"x": 1, "y": 2},
    "blob": "",
    "points": [],
}


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"where": 5}, ["expected an object for Point", "$.Rich.where"]),
        ({"where": {"x": 1}}, ["missing required field", "$.Rich.where.y"]),
        ({"where": {"x": 1, "y": 2, "z": 3}}, ["unexpected key(s) 'z'", "$.Rich.where"]),
        ({"points": [{"x": 1, "y": 2}, {"x": "1", "y": 2}]}, ["$.Rich.points[1].x"]),
        ({"points": [7]}, ["expected an object for Point", "$.Rich.points[0]"]),
        ({"points": {"x": 1}}, ["expected an array", "object", "$.Rich.points"]),
        ({"tags": "ab"}, ["expected an array", "string 'ab'", "$.Rich.tags"]),
        ({"tags": ["a", 1]}, ["expected a string", "$.Rich.tags[1]"]),
        ({"scores": [["a", 1]]}, ["expected an object", "array", "$.Rich.scores"]),
        ({"scores": {"a": "1"}}, ["expected an integer", "$.Rich.scores['a']"]),
        ({"maybe": "x"}, ["expected an integer", "$.Rich.maybe"]),
        ({"blob": "@@"}, ["base64", "$.Rich.blob"]),
    ],
)
def test_nested_decode_errors_give_the_path(change: dict[str, Any], named: list[str]) -> None:
    frame = orjson.dumps({"Rich": {**RICH_OK, **change}})
    [error] = RICH_SERDE.decode_many([frame])
    assert isinstance(error, DecodeError)
    for part in named:
        assert part in error.reason, error.reason


def test_datetime_errors() -> None:
    for bad in (b'"yesterday"', b"1700000000", b"null"):
        [error] = STAMPED_SERDE.decode_many([b'{"Stamped":{"at":' + bad + b"}}"])
        assert isinstance(error, DecodeError)
        assert "ISO 8601" in error.reason
        assert "$.Stamped.at" in error.reason


def test_many_field_errors_are_summarised() -> None:
    frame = orjson.dumps({"Rich": dict.fromkeys(RICH_OK, True)})
    [error] = RICH_SERDE.decode_many([frame])
    assert isinstance(error, DecodeError)
    assert "and 2 more" in error.reason  # seven fields wrong, five shown


@attrs.frozen
class Checked:
    n: int = attrs.field(validator=attrs.validators.ge(0))


def test_a_failing_attrs_validator_is_a_decode_error() -> None:
    serde = JsonSerde((Checked,), (Checked,))
    assert serde.decode(b'{"Checked":{"n":0}}') == Checked(0)
    [error] = serde.decode_many([b'{"Checked":{"n":-1}}'])
    assert isinstance(error, DecodeError)
    assert "invalid Checked" in error.reason
    assert "n" in error.reason


def test_a_bad_frame_in_a_batch_does_not_stop_the_next_ones() -> None:
    good = [Ping(1), Quit(), Move(1, 1.0, 2.0, Color.RED, False)]
    frames = [
        CLIENT_SERDE.encode(good[0]),
        b"\xff\xfe",
        CLIENT_SERDE.encode(good[1]),
        b'{"Ping":{"n":"x"}}',
        b'{"Nope":{}}',
        CLIENT_SERDE.encode(good[2]),
    ]
    out = CLIENT_SERDE.decode_many(frames)
    assert [out[0], out[2], out[5]] == good
    assert all(isinstance(out[i], DecodeError) for i in (1, 3, 4))
    assert [out[i].frame for i in (1, 3, 4)] == [frames[1], frames[3], frames[4]]


def test_a_side_that_receives_nothing() -> None:
    serde = JsonSerde((), (Ping,))
    [error] = serde.decode_many([b'{"Ping":{"n":1}}'])
    assert isinstance(error, DecodeError)
    assert "receives nothing" in error.reason


# ---------------------------------------------------------------- nothing escapes decode_many


tags = st.sampled_from(["Ping", "Move", "Named", "Quit", "Rich", "Point", "Stamped", "x"])


def _field_names(name: str) -> list[str]:
    classes = {cls.__name__: cls for cls in (Ping, Move, Named, Quit, Rich, Point, Stamped)}
    return [field.name for field in attrs.fields(classes[name])] if name in classes else ["x"]


@st.composite
def tagged_json(draw: st.DrawFn) -> bytes:
    """Mostly well-formed envelopes with plausible field names and random values."""
    tag = draw(tags)
    names = _field_names(tag)
    body = draw(st.dictionaries(st.sampled_from([*names, "extra"]), json_values(), max_size=8))
    return orjson.dumps({tag: body})


def _check_never_raises(serde: JsonSerde, frames: list[bytes]) -> None:
    out = serde.decode_many(frames)
    assert len(out) == len(frames)
    for frame, item in zip(frames, out, strict=True):
        if isinstance(item, DecodeError):
            assert item.frame == frame
            assert item.reason
            with pytest.raises(DecodeError):
                serde.decode(frame)
        else:
            assert type(item) in serde.decode_types
            assert serde.decode(frame) == item


ALL_SERDE = JsonSerde(
    (Ping, Move, Named, Quit, Rich, Point, Stamped), (Ping, Move, Named, Quit, Rich, Point, Stamped)
)


@FAST
@given(st.lists(st.binary(max_size=40), max_size=8))
def test_random_bytes_never_raise(frames: list[bytes]) -> None:
    _check_never_raises(ALL_SERDE, frames)


@FAST
@given(st.lists(json_values().map(orjson.dumps), max_size=8))
def test_random_json_never_raises(frames: list[bytes]) -> None:
    _check_never_raises(ALL_SERDE, frames)


@settings(max_examples=150, deadline=None)
@given(st.lists(tagged_json(), max_size=8))
def test_random_tagged_json_never_raises(frames: list[bytes]) -> None:
    _check_never_raises(ALL_SERDE, frames)


@FAST
@given(messages(RICH), st.data())
def test_one_mutated_field_never_raises(message: Any, data: st.DataObject) -> None:
    envelope = orjson.loads(RICH_SERDE.encode(message))
    ((_tag, body),) = envelope.items()
    if body:
        body[data.draw(st.sampled_from(sorted(body)))] = data.draw(json_values())
    _check_never_raises(RICH_SERDE, [orjson.dumps(envelope)])


# ---------------------------------------------------------------- encode refusals


def test_encoding_a_foreign_type_is_refused() -> None:
    serde = JsonSerde((Ping,), (Pong,))
    with pytest.raises(EncodeError, match=r"Ping is not a message of this protocol side .*Pong"):
        serde.encode(Ping(1))
    with pytest.raises(EncodeError, match=r"cannot encode Ping\(n=2\)"):
        serde.encode_many([Pong(1, 1), Ping(2), Pong(3, 3)])
    with pytest.raises(EncodeError):
        serde.encode_many(["not a message"])
    assert serde.encode_many([]) == []


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_floats_are_refused(bad: float) -> None:
    good = Move(1, 1.0, 1.0, Color.RED, True)
    for message in (attrs.evolve(good, x=bad), attrs.evolve(good, y=bad)):
        with pytest.raises(EncodeError, match="NaN or infinity"):
            CLIENT_SERDE.encode(message)
        with pytest.raises(EncodeError, match="NaN or infinity"):
            CLIENT_SERDE.encode_many([good, message])


@attrs.frozen
class Floats:
    values: list[float]
    maybe: float | None
    by_name: dict[str, float]


def test_nested_non_finite_floats_are_refused_and_null_alone_is_fine() -> None:
    serde = JsonSerde((Floats,), (Floats,))
    fine = Floats([1.0], None, {"null": 2.0})
    assert serde.decode(serde.encode(fine)) == fine
    for bad in (
        Floats([1.0, math.nan], None, {}),
        Floats([], math.inf, {}),
        Floats([], None, {"k": -math.inf}),
    ):
        with pytest.raises(EncodeError, match="NaN or infinity"):
            serde.encode(bad)


def test_finite_floats_whose_sum_overflows_are_not_refused() -> None:
    message = Move(1, 1.7e308, 1.7e308, Color.RED, True)  # x + y is inf: the exact check clears it
    assert CLIENT_SERDE.decode(CLIENT_SERDE.encode(message)) == message
    assert CLIENT_SERDE.encode_many([message]) == [CLIENT_SERDE.encode(message)]


@attrs.frozen
class Mixed:
    speed: Annotated[float, c.Float32l]
    path: list[Floats]


def test_top_level_and_nested_floats_are_both_checked() -> None:
    serde = JsonSerde((Mixed,), (Mixed,))
    fine = Mixed(1.0, [Floats([2.0], None, {})])
    assert serde.decode(serde.encode(fine)) == fine
    with pytest.raises(EncodeError, match=r"\$\.Mixed\.speed = nan"):
        serde.encode(Mixed(math.nan, []))
    with pytest.raises(EncodeError, match=r"\$\.Mixed\.path\[0\]\.maybe = inf"):
        serde.encode(Mixed(1.0, [Floats([], math.inf, {})]))
    assert float_fields(Mixed) == (("speed",), True)
    assert float_fields(Move) == (("x", "y"), False)
    assert float_fields(Floats) == ((), True)
    assert float_fields(Rich) == ((), False)


def test_only_classes_that_can_hold_a_float_are_checked() -> None:
    assert not may_hold_float(Ping, set())
    assert not may_hold_float(Named, set())
    assert not may_hold_float(Rich, set())
    assert not may_hold_float(Stamped, set())
    assert not may_hold_float(Quit, set())
    assert may_hold_float(Move, set())
    assert may_hold_float(Floats, set())
    assert may_hold_float(Enums, set())  # dict[Color, float]
    assert may_hold_float(Any, set())  # cannot tell: check


def test_values_json_cannot_carry_are_encode_errors() -> None:
    with pytest.raises(EncodeError, match="64-bit"):
        CLIENT_SERDE.encode(Ping(2**64))
    with pytest.raises(EncodeError, match=r"Ping\(n=<object"):
        CLIENT_SERDE.encode_many([Ping(1), Ping(object())])  # type: ignore[arg-type]


@FAST
@given(st.lists(st.one_of([strategy_for(cls) for cls in ALL_SERDE.encode_types]), max_size=8))
def test_many_classes_encode_through_a_lookup(batch: list[Any]) -> None:
    """Past a handful of classes the batch encoder looks the class up instead of a chain."""
    assert len(ALL_SERDE.encode_types) > 6
    payloads = ALL_SERDE.encode_many(batch)
    assert payloads == [ALL_SERDE.encode(message) for message in batch]
    assert ALL_SERDE.decode_many(payloads) == batch
    with pytest.raises(EncodeError, match="Pong is not a message"):
        ALL_SERDE.encode_many([*batch, Pong(1, 2)])
    with pytest.raises(EncodeError, match="NaN or infinity"):
        ALL_SERDE.encode_many([*batch, Move(1, math.inf, 0.0, Color.RED, True)])


def test_a_side_that_sends_nothing() -> None:
    serde = JsonSerde((Ping,), ())
    assert serde.encode_many([]) == []
    with pytest.raises(EncodeError, match="it sends nothing"):
        serde.encode_many([Ping(1)])


def test_duplicate_class_names_are_refused() -> None:
    other = attrs.frozen(type("Ping", (), {"__annotations__": {"n": int}}))
    with pytest.raises(ProtocolDefinitionError, match="distinct names"):
        JsonSerde((Ping, other), ())


# ---------------------------------------------------------------- a custom serde through Textual


@attrs.frozen
class Line:
    text: str


class PlainLines:
    """The smallest serde there is: a message is its text."""

    def encode(self, message: Line) -> bytes:
        return message.text.encode()

    def decode(self, payload: bytes) -> Line:
        if payload.startswith(b"!"):
            raise DecodeError("lines may not start with !", payload)
        return Line(payload.decode())


def test_custom_serde_plugs_into_textual() -> None:
    compiled = Textual(serde=PlainLines(), skip_empty_lines=False).compile((Line,), (Line,))
    encoder = compiled.encoder(16)
    decoder = compiled.decoder(16)
    wire = encoder.encode_batch([Line("hello"), Line(""), Line("wörld")])
    assert wire == "hello\n\nwörld\n".encode()
    assert encoder.encode(Line("one")) == b"one\n"
    assert decoder.decode_batch(wire[:3]) == []
    assert decoder.decode_batch(wire[3:]) == [Line("hello"), Line(""), Line("wörld")]
    skipping = Textual(serde=PlainLines()).compile((Line,), (Line,)).decoder(16)
    assert skipping.decode_batch(wire) == [Line("hello"), Line("wörld")]


def test_custom_serde_exceptions_become_typed() -> None:
    compiled = Textual(serde=PlainLines()).compile((Line,), (Line,))
    out = compiled.decoder(16).decode_batch(b"ok\r\n\xff\xfe\n!bang\nfine\n")
    assert out[0] == Line("ok")
    assert isinstance(out[1], DecodeError)
    assert "UnicodeDecodeError" in out[1].reason
    assert out[1].frame == b"\xff\xfe"
    assert out[2] == DecodeError("lines may not start with !", b"!bang")
    assert out[3] == Line("fine")

    encoder = compiled.encoder(16)
    with pytest.raises(EncodeError, match="cannot encode 42"):
        encoder.encode_batch([Line("a"), 42])  # no .text: AttributeError inside the serde
    with pytest.raises(EncodeError, match="newline"):
        encoder.encode_batch([Line("two\nlines")])
    with pytest.raises(EncodeError, match="max_message_size=16"):
        encoder.encode_batch([Line("x" * 17)])
    assert encoder.encode_batch([Line("x" * 16)]) == b"x" * 16 + b"\n"


class Shade(enum.Enum):
    """A plain enum (no ``str`` or ``int`` base): the orjson preset would key it by its name."""

    LIGHT = "light"
    DARK = "dark"


class Level(enum.Enum):
    LOW = 1
    HIGH = 2


@attrs.frozen
class Palette:
    by_shade: dict[Shade, int]
    by_level: dict[Level, str]


def test_plain_enum_keys_travel_as_their_values() -> None:
    serde = JsonSerde((Palette,), (Palette,))
    message = Palette({Shade.LIGHT: 1, Shade.DARK: 2}, {Level.LOW: "a", Level.HIGH: "b"})
    payload = serde.encode(message)
    assert orjson.loads(payload) == {
        "Palette": {"by_shade": {"light": 1, "dark": 2}, "by_level": {"1": "a", "2": "b"}}
    }
    assert serde.decode(payload) == message
    assert serde.decode_many(serde.encode_many([message, message])) == [message, message]
