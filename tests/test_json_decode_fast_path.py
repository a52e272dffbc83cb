"""The JSON serde's fast decode path gives exactly what its strict path gives.

``JsonSerde`` structures messages through generated functions that test JSON scalars inline and
hand anything unusual to the strict cattrs functions.  Every test here decodes payloads (valid
ones, and ones with a value of the wrong type, a missing or extra key, a nested mistake) both
ways and asks for the same result: equal messages of the same types (``1`` is not ``1.0`` nor
``True`` here: reprs are compared too), or decode errors with the same reason.
"""

from __future__ import annotations

import datetime
import enum
from collections.abc import Sequence
from typing import Annotated, Any

import attrs
import construct as c
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.models import RICH, Color, Move, Ping, Point, Quit, Rich, Stamped
from tests.strategies import json_values, messages, strategy_for, variants
from trio_reactive.errors import DecodeError
from trio_reactive.wire.codec import Textual
from trio_reactive.wire.json.serde import JsonSerde, make_json_converter

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class Shade(enum.Flag):
    LIGHT = 1
    DARK = 2


class Size(enum.Enum):
    BIG = "big"
    SMALL = "small"


@attrs.frozen
class Leaf:
    x: int
    label: str | None = None


@attrs.define
class Everything:
    """A field of every kind the serde reads, plus defaults, a validator and a converter."""

    i: int
    f: float
    b: bool
    s: str
    raw: bytes
    when: datetime.datetime
    color: Color
    size: Size
    shade: Shade
    maybe_int: int | None
    maybe_float: float | None
    maybe_leaf: Leaf | None
    leaf: Leaf
    ints: list[int]
    floats: tuple[float, ...]
    pair: tuple[int, str]
    by_name: dict[str, int]
    by_id: dict[int, Leaf]
    sized: Annotated[int, c.Int32ul]
    magnitude: int = attrs.field(default=0, converter=abs)
    checked: int = attrs.field(default=0, validator=attrs.validators.ge(0))
    later: int = attrs.field(init=False, default=0)
    note: str = "-"
    flag: bool = attrs.field(kw_only=True, default=False)


@attrs.define
class Private:
    """Fields whose keyword (alias) is not their key on the wire."""

    _secret: int
    shown: str = attrs.field(alias="visible")


@attrs.define(init=False)
class Swapped:
    """An ``__init__`` whose parameters are not in field order: only keywords are right."""

    a: int
    b: str

    def __init__(self, b: str, a: int) -> None:
        self.a = a
        self.b = b


@attrs.frozen
class Days:
    day: datetime.date
    days: frozenset[datetime.date]
    names: set[str]


class Mixed(enum.Enum):
    """Values of two JSON types: read through the strict enum hook."""

    ONE = 1
    A = "a"


@attrs.frozen
class Collections:
    """Arrays and objects of scalars and of attrs classes, and others read by strict hooks."""

    leaves: list[Leaf]
    leaf_tuple: tuple[Leaf, ...]
    leaf_by_name: dict[str, Leaf]
    maybe_leaves: list[Leaf] | None
    words: Sequence[str]
    bits: frozenset[bool]
    ints: set[int]
    floats: Sequence[float]
    ratios: dict[Annotated[str, "key"], float]
    sizes: list[Size]
    by_color: dict[Color, int]
    mixed: Mixed


CLASSES = (
    Everything, Leaf, Private, Swapped, Days, Collections, Ping, Move, Point, Quit, Rich, Stamped
)  # fmt: skip
SERDE = JsonSerde(CLASSES, CLASSES)
SAMPLES: list[Any] = [
    Everything(
        1, 0.5, True, "s", b"\x00", datetime.datetime(2024, 1, 2, 3, 4, 5), Color.RED, Size.BIG,
        Shade.LIGHT | Shade.DARK, None, 2.5, Leaf(3, "l"), Leaf(4), [5, 6], (7.5,), (8, "p"),
        {"k": 9}, {10: Leaf(11)}, 12, -13, 14, note="n", flag=True,
    ),
    Private(1, "v"),
    Swapped(b="x", a=2),
    Days(datetime.date(2024, 2, 29), frozenset({datetime.date(2000, 1, 1)}), {"a", "b"}),
    Collections(
        [Leaf(1)], (Leaf(2, "b"),), {"c": Leaf(3)}, None, ["w"], frozenset({True}), {4, 5},
        [6.5], {"r": 0.25}, [Size.SMALL], {Color.RED: 7}, Mixed.A,
    ),
    Leaf(1),
    Quit(),
]  # fmt: skip


def strictly(payload: bytes) -> Any:
    """What the strict path (the decoder before the fast path) makes of ``payload``."""
    try:
        return SERDE._decode_strictly(payload)
    except DecodeError as error:
        return error


def assert_same(got: Any, expected: Any) -> None:
    if isinstance(expected, DecodeError):
        assert isinstance(got, DecodeError), (got, expected)
        assert (got.reason, got.frame) == (expected.reason, expected.frame)
    else:
        assert type(got) is type(expected)
        assert got == expected
        assert repr(got) == repr(expected)  # 1 == 1.0 == True, but not in a repr


def assert_decodes_as_strictly(payloads: list[bytes]) -> None:
    expected = [strictly(payload) for payload in payloads]
    for got, want in zip(SERDE.decode_many(payloads), expected, strict=True):
        assert_same(got, want)
    for payload, want in zip(payloads, expected, strict=True):
        try:
            got = SERDE.decode(payload)
        except DecodeError as error:
            got = error
        assert_same(got, want)


# ---------------------------------------------------------------- mutations

#: Values one JSON type away from a valid one: what a lenient decoder would wrongly accept.
NEAR_MISSES = (
    [True, False, 0, 1, -1, 2, 3, 1.0, 0.5, -0.0, "1", "", "a", "big", "AA==", "2024-01-02",
     "2024-01-02T03:04:05", None, [], [1], [True], [1, True], ["a"], [1.5], [1, 1.5], [None],
     [{"x": 1}], [{"x": 1}, {"x": True}], {}, {"x": 1}, {"a": 1}, {"a": 1.0}, {"a": {"x": 1}},
     {"1": {"x": 1}}, {"big": 1}]
)  # fmt: skip
near_misses = st.sampled_from(NEAR_MISSES)


def mutate(data: st.DataObject, value: Any) -> Any:
    """``value`` (decoded JSON) with one change somewhere inside it."""
    if isinstance(value, dict) and value and data.draw(st.integers(0, 4)):
        key = data.draw(st.sampled_from(sorted(value)))
        action = data.draw(st.sampled_from(["deeper", "replace", "delete", "add"]))
        changed = dict(value)
        if action == "deeper":
            changed[key] = mutate(data, value[key])
        elif action == "replace":
            changed[key] = data.draw(near_misses | json_values(max_leaves=6))
        elif action == "delete":
            del changed[key]
        else:
            changed[data.draw(st.sampled_from(["extra", "later", "_secret", "secret", "x"]))] = 1
        return changed
    if isinstance(value, list) and value and data.draw(st.booleans()):
        index = data.draw(st.integers(0, len(value) - 1))
        return [*value[:index], mutate(data, value[index]), *value[index + 1 :]]
    return data.draw(near_misses | json_values(max_leaves=6))


def everything_strategy() -> st.SearchStrategy[Everything]:
    return st.builds(
        Everything,
        **{
            field.name: strategy_for(field.type)
            for field in attrs.fields(Everything)
            if field.init and field.name not in ("shade", "checked", "magnitude")
        },
        shade=st.sampled_from([Shade(0), Shade.LIGHT, Shade.DARK, Shade.LIGHT | Shade.DARK]),
        checked=st.integers(0, 2**63 - 1),
        magnitude=st.integers(0, 2**63 - 1),
    )


def collections_strategy() -> st.SearchStrategy[Collections]:
    leaves = st.lists(strategy_for(Leaf), max_size=3)
    words = st.lists(st.text(max_size=4), max_size=3)  # a Sequence decodes as a list
    finite = st.floats(allow_nan=False, allow_infinity=False)
    return st.builds(
        Collections,
        leaves=leaves,
        leaf_tuple=leaves.map(tuple),
        leaf_by_name=st.dictionaries(st.text(max_size=4), strategy_for(Leaf), max_size=3),
        maybe_leaves=st.none() | leaves,
        words=words,
        bits=st.frozensets(st.booleans()),
        ints=st.sets(st.integers(-(2**63), 2**63 - 1), max_size=3),
        floats=st.lists(finite, max_size=3),
        ratios=st.dictionaries(st.text(max_size=4), finite, max_size=3),
        sizes=st.lists(st.sampled_from(Size), max_size=3),
        by_color=st.dictionaries(st.sampled_from(Color), st.integers(0, 9)),
        mixed=st.sampled_from(Mixed),
    )


any_message = (
    everything_strategy() | collections_strategy() | messages(RICH) | st.sampled_from(SAMPLES)
)
for _cls in (Ping, Move, Stamped, Leaf):
    any_message |= strategy_for(_cls)


# ---------------------------------------------------------------- tests


def test_the_default_converter_decodes_through_generated_functions() -> None:
    """Otherwise the tests below would compare the strict path with itself."""
    for tag, (cls, strict) in SERDE._by_tag.items():
        assert SERDE._fast_by_tag[tag][0] is cls
        assert SERDE._fast_by_tag[tag][1] is not strict
    own = JsonSerde(CLASSES, CLASSES, converter=make_json_converter())
    assert own._fast_by_tag is own._by_tag  # a user's converter may read classes its own way


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: type(m).__name__)
def test_samples_round_trip_and_match_the_strict_path(message: Any) -> None:
    payload = SERDE.encode(message)
    assert SERDE.decode(payload) == message
    assert_decodes_as_strictly([payload])


def test_fields_are_passed_by_keyword_unless_position_is_the_same() -> None:
    assert SERDE.decode(b'{"Private":{"_secret":1,"shown":"v"}}') == Private(1, "v")
    assert SERDE.decode(b'{"Swapped":{"a":1,"b":"x"}}') == Swapped(b="x", a=1)
    assert_decodes_as_strictly(
        [
            b'{"Private":{"secret":1,"shown":"v"}}',  # the alias is not the key
            b'{"Private":{"_secret":1,"visible":"v"}}',
            b'{"Swapped":{"a":"x","b":1}}',
        ]
    )


@pytest.mark.parametrize(
    "body",
    [
        {"x": True},  # a bool is not an int
        {"x": 1.0},  # nor is an integral float
        {"x": "1"},
        {"x": None},
        {"x": 1, "label": None},
        {"x": 1, "label": 2},
        {"x": 1, "extra": 2},  # one extra key
        {"label": "l", "extra": 2},  # as many keys as fields, one missing
        {"label": "l"},
        {},
    ],
)
def test_scalar_mistakes_and_keys_match_the_strict_path(body: dict[str, Any]) -> None:
    assert_decodes_as_strictly([orjson.dumps({"Leaf": body})])


def test_ints_are_read_as_floats_and_defaults_can_be_left_out() -> None:
    [move] = SERDE.decode_many([b'{"Move":{"player":1,"x":2,"y":-3,"color":1,"hit":false}}'])
    assert move == Move(1, 2.0, -3.0, Color.RED, False)
    assert type(move.x) is float
    assert type(move.y) is float
    assert SERDE.decode(b'{"Leaf":{"x":1}}') == Leaf(1)


def test_validators_converters_and_init_false_fields_match_the_strict_path() -> None:
    body = orjson.loads(SERDE.encode(SAMPLES[0]))["Everything"]
    assert SERDE.decode(orjson.dumps({"Everything": body})).magnitude == 13
    assert_decodes_as_strictly(
        [
            orjson.dumps({"Everything": {**body, "checked": -1}}),
            orjson.dumps({"Everything": {**body, "later": 1}}),
            orjson.dumps({"Everything": {**body, "leaf": {"x": True}}}),
            orjson.dumps({"Everything": {**body, "maybe_leaf": {"x": 1, "label": 1}}}),
        ]
    )


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: type(m).__name__)
def test_every_near_miss_in_every_field_matches_the_strict_path(message: Any) -> None:
    ((tag, body),) = orjson.loads(SERDE.encode(message)).items()
    payloads = [orjson.dumps({tag: {**body, key: value}}) for key in body for value in NEAR_MISSES]
    assert_decodes_as_strictly(payloads)


@FAST
@given(any_message, st.data())
def test_mutated_messages_decode_as_strictly(message: Any, data: st.DataObject) -> None:
    envelope = orjson.loads(SERDE.encode(message))
    payloads = [orjson.dumps(envelope)]
    for _ in range(data.draw(st.integers(1, 3))):
        payloads.append(orjson.dumps(mutate(data, envelope)))
    assert_decodes_as_strictly(payloads)


@FAST
@given(st.lists(messages(RICH) | everything_strategy() | collections_strategy(), max_size=4))
def test_valid_messages_decode_as_strictly(batch: list[Any]) -> None:
    payloads = SERDE.encode_many(batch)
    assert SERDE.decode_many(payloads) == batch
    assert_decodes_as_strictly(payloads)


def test_every_rich_variant_is_generated() -> None:
    for cls in variants(RICH):
        assert SERDE._fast_by_tag[cls.__name__][1] is not SERDE._by_tag[cls.__name__][1]


TEXTUAL = Textual().compile(CLASSES, CLASSES)
#: Lines that are not messages (without line endings: the framer would cut or strip them).
ODD_LINES = st.sampled_from([b"", b" ", b"{}", b"null", b"[", b"\xff"]) | st.binary(max_size=12)
ODD_LINES = ODD_LINES.map(lambda raw: raw.replace(b"\n", b"").replace(b"\r", b""))


@FAST
@given(st.lists(any_message, max_size=6), st.data())
def test_a_stream_with_bad_lines_decodes_as_line_by_line(
    batch: list[Any], data: st.DataObject
) -> None:
    """Through the textual codec, in arbitrary reads: each line as the strict path reads it."""
    lines = [SERDE.encode(message) for message in batch]
    for _ in range(data.draw(st.integers(0, 4))):
        if data.draw(st.booleans()):
            bad = data.draw(ODD_LINES)
        else:
            bad = orjson.dumps(mutate(data, orjson.loads(SERDE.encode(data.draw(any_message)))))
        lines.insert(data.draw(st.integers(0, len(lines))), bad)
    stream = b"".join(line + data.draw(st.sampled_from([b"\n", b"\r\n"])) for line in lines)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=4)))
    decoder = TEXTUAL.decoder()
    got: list[Any] = []
    for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        got += decoder.decode_batch(stream[start:end])
    expected = [strictly(line) for line in lines if line]  # empty lines are skipped
    assert len(got) == len(expected)
    for item, want in zip(got, expected, strict=True):
        assert_same(item, want)
