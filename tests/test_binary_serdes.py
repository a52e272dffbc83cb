"""The fixed- and variable-binary serdes, held to their construct schemas.

The construct schema (``trio_reactive.wire.binary.schema``) is the specification of the bytes; the
serdes compile it into struct calls and generated code.  So besides round trips these tests
check that the fast paths write exactly the bytes construct builds (interpreted and
``.compile()``d: the compiled form guards against the Enum-``Switch`` trap), that construct
parses what they write, and that on damaged input both accept and refuse the same payloads.
"""

from __future__ import annotations

import enum
import functools
import struct
from typing import Annotated, Any

import attrs
import construct as c
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.chunks import reads
from tests.models import (
    CLIENT,
    RICH,
    SERVER,
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
from tests.strategies import messages, strategy_for, variants
from trio_reactive.errors import DecodeError, EncodeError, ProtocolDefinitionError
from trio_reactive.wire.binary.fixed import FixedSerde
from trio_reactive.wire.binary.schema import SideSchema, fixed_schema, variable_schema
from trio_reactive.wire.binary.tagged import TaggedSerde
from trio_reactive.wire.binary.variable import VariableSerde
from trio_reactive.wire.codec import Decoder, FixedBinary, FixedDecoder, VariableBinary
from trio_reactive.wire.framing import FixedFramer
from trio_reactive.wire.prefix import MAX_U32

FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------- models beyond tests/models.py


class Mood(enum.Enum):
    CALM = "calm"
    ANGRY = "angry"


class Level(enum.Enum):  # int values, but not an IntEnum: encoded through its table
    LOW = 1
    HIGH = 1000


class Small(enum.IntEnum):
    A = 0
    B = 255


@attrs.frozen
class Exotic:
    """Every fixed-size layout hint kind, private, keyword-only and non-init fields."""

    be: Annotated[int, c.Int16ub]
    be_float: Annotated[float, c.Float64b]
    i24: Annotated[int, c.Int24ul]
    i24b: Annotated[int, c.Int24sb]
    small: Annotated[Small, c.Int8ul]
    level: Level
    mood: Annotated[Mood, c.PaddedString(8, "utf8")]
    flag: Annotated[bool, c.Flag]
    half: Annotated[float, c.Float16l]
    _private: int
    where: Point
    late: int = attrs.field(kw_only=True)
    computed: int = attrs.field(init=False, default=7)


@attrs.frozen
class Holder:
    label: str
    data: bytes


@attrs.frozen
class Nest:
    """Variable-only shapes, nested in each other."""

    grid: list[list[int]]
    names: dict[str, Point]
    by_point: dict[Point, str]
    maybe_text: str | None
    maybe_point: Point | None
    optionals: list[int | None]
    moods: list[Mood]
    mood: Mood
    inner: Holder
    holders: list[Holder]
    codes: list[Annotated[str, c.PaddedString(4, "utf8")]]
    colors: list[Color]
    fixed_pairs: dict[Annotated[int, c.Int8ul], Point]
    tail: Annotated[int, c.Int16ul]


@attrs.frozen
class Checked:
    n: Annotated[int, c.Int32ul] = attrs.field(validator=attrs.validators.le(100))


@attrs.frozen
class Texty:
    text: str
    maybe: int | None


EXOTIC = Exotic | Checked | Quit
NESTED = Nest | Texty | Checked | Quit

exotics = st.builds(
    Exotic,
    be=st.integers(0, 2**16 - 1),
    be_float=st.floats(allow_nan=False),
    i24=st.integers(0, 2**24 - 1),
    i24b=st.integers(-(2**23), 2**23 - 1),
    small=st.sampled_from(Small),
    level=st.sampled_from(Level),
    mood=st.sampled_from(Mood),
    flag=st.booleans(),
    half=st.floats(width=16, allow_nan=False),
    private=st.integers(-(2**63), 2**63 - 1),
    where=strategy_for(Point),
    late=st.integers(-(2**63), 2**63 - 1),
)
checkeds = st.builds(Checked, st.integers(0, 100))
exotic_messages = st.one_of(exotics, checkeds, st.just(Quit()))
nested_messages = st.one_of(strategy_for(Nest), strategy_for(Texty), checkeds, st.just(Quit()))

SerdeClass = type[FixedSerde] | type[VariableSerde]

#: (serde class, protocol side, strategy for its messages): every pairing that must round-trip.
CASES: list[tuple[Any, Any, st.SearchStrategy[Any]]] = [
    (FixedSerde, CLIENT, messages(CLIENT)),
    (FixedSerde, SERVER, messages(SERVER)),
    (FixedSerde, EXOTIC, exotic_messages),
    (VariableSerde, CLIENT, messages(CLIENT)),
    (VariableSerde, SERVER, messages(SERVER)),
    (VariableSerde, RICH, messages(RICH)),
    (VariableSerde, EXOTIC, exotic_messages),
    (VariableSerde, NESTED, nested_messages),
]
CASE_IDS = [
    f"{kind.__name__}-{'|'.join(v.__name__ for v in variants(side))}" for kind, side, _ in CASES
]


@functools.cache
def serde_for(kind: SerdeClass, side: Any) -> TaggedSerde:
    classes = variants(side)
    return kind(classes, classes)


@functools.cache
def compiled(schema: SideSchema) -> Any:
    return schema.construct.compile()


def fixed(side: Any) -> FixedSerde:
    serde = serde_for(FixedSerde, side)
    assert isinstance(serde, FixedSerde)
    return serde


# ---------------------------------------------------------------- round trips and the schema


@pytest.mark.parametrize(("kind", "side", "strategy"), CASES, ids=CASE_IDS)
@FAST
@given(data=st.data())
def test_round_trip_and_same_bytes_as_construct(
    kind: SerdeClass, side: Any, strategy: st.SearchStrategy[Any], data: st.DataObject
) -> None:
    serde = serde_for(kind, side)
    message = data.draw(strategy)
    payload = serde.encode(message)
    assert serde.decode(payload) == message
    schema = serde.encode_schema
    assert payload == schema.build(message)  # interpreted construct
    assert schema.parse(payload) == message
    container = schema.container(message)
    assert compiled(schema).build(container) == payload  # compiled construct
    assert compiled(schema).parse(payload).value == message
    if isinstance(serde, FixedSerde):
        assert len(payload) == serde.encode_size == serde.decode_size


@pytest.mark.parametrize(("kind", "side", "strategy"), CASES, ids=CASE_IDS)
@FAST
@given(data=st.data())
def test_batches_round_trip(
    kind: SerdeClass, side: Any, strategy: st.SearchStrategy[Any], data: st.DataObject
) -> None:
    serde = serde_for(kind, side)
    batch = data.draw(st.lists(strategy, max_size=8))
    payloads = serde.encode_many(batch)
    assert payloads == [serde.encode(message) for message in batch]
    assert serde.decode_many(payloads) == batch


def test_fixed_sizes_per_direction() -> None:
    serde = FixedSerde(variants(CLIENT), variants(SERVER))
    # Named: 16 + 8 bytes; Pong: 4 + 8 bytes; each plus the tag.
    assert (serde.decode_size, serde.encode_size) == (25, 13)
    assert len(serde.encode(Pong(1, 2))) == 13
    assert len(serde.encode(Quit())) == 13
    assert serde.decode(fixed(CLIENT).encode(Move(1, 0.5, 0.25, Color.RED, False))) == Move(
        1, 0.5, 0.25, Color.RED, False
    )


@pytest.mark.parametrize("codec", [FixedBinary(), VariableBinary()], ids=["fixed", "variable"])
@FAST
@given(
    requests=st.lists(messages(CLIENT), max_size=20),
    replies=st.lists(messages(SERVER), max_size=20),
    chunk=st.integers(1, 64),
)
def test_through_the_codecs(
    codec: FixedBinary | VariableBinary, requests: list[Any], replies: list[Any], chunk: int
) -> None:
    """Client and server sides of one protocol, framed, split into arbitrary chunks."""
    client = codec.compile(variants(SERVER), variants(CLIENT))
    server = codec.compile(variants(CLIENT), variants(SERVER))
    for sender, receiver, batch in [(client, server, requests), (server, client, replies)]:
        data = sender.encoder().encode_batch(batch)
        decoder = receiver.decoder()
        received = [
            m for i in range(0, len(data), chunk) for m in decoder.decode_batch(data[i : i + chunk])
        ]
        assert received == batch


def test_known_bytes() -> None:
    """The layout by hand: tag, fields little-endian, defaults, zero padding."""
    move = Move(7, 1.5, -2.0, Color.BLUE, True)
    body = struct.pack("<BdfiB", 7, 1.5, -2.0, 3, 1)
    assert fixed(CLIENT).encode(move) == b"\x01" + body + bytes(24 - len(body))
    assert serde_for(VariableSerde, CLIENT).encode(move) == b"\x01" + body
    rich = Rich("é", ["a"], {"k": -1}, None, Point(1, 2), b"\x00", [Point(3, 4)])
    expected = (
        b"\x00"
        + struct.pack("<I", 2) + "é".encode()
        + struct.pack("<II", 1, 1) + b"a"
        + struct.pack("<II", 1, 1) + b"k" + struct.pack("<q", -1)
        + b"\x00"
        + struct.pack("<qqI", 1, 2, 1) + b"\x00"
        + struct.pack("<Iqq", 1, 3, 4)
    )  # fmt: skip
    assert serde_for(VariableSerde, RICH).encode(rich) == expected
    assert serde_for(VariableSerde, RICH).decode(expected) == rich


def test_non_init_fields_are_not_on_the_wire() -> None:
    record = fixed_schema([Exotic]).records[0]
    assert [f.name for f in record.fields][-2:] == ["where", "late"]
    assert [f.alias for f in record.fields if f.name == "_private"] == ["private"]


# ---------------------------------------------------------------- what the fixed codec refuses


@pytest.mark.parametrize(
    ("cls", "field"),
    [
        (Rich, "Rich.name"),
        (Holder, "Holder.label"),
        (Texty, "Texty.text"),
        (Nest, "Nest.grid"),
        (Stamped, "Stamped.at"),
    ],
)
def test_fixed_codec_refuses_variable_fields_naming_them(cls: type, field: str) -> None:
    with pytest.raises(ProtocolDefinitionError, match=rf"^{field}\b"):
        FixedSerde((cls,), (Quit,))
    with pytest.raises(ProtocolDefinitionError, match=rf"^{field}\b"):
        FixedSerde((Quit,), (cls,))


@attrs.frozen
class OnlyOptional:
    maybe: Annotated[int, c.Int8ul] | None


@attrs.frozen
class OnlyDict:
    scores: dict[str, int]


@attrs.frozen
class OnlyBytes:
    blob: bytes


@attrs.frozen
class OnlyStrEnum:
    mood: Mood


@pytest.mark.parametrize(
    ("cls", "field"),
    [
        (OnlyOptional, "OnlyOptional.maybe"),
        (OnlyDict, "OnlyDict.scores"),
        (OnlyBytes, "OnlyBytes.blob"),
        (OnlyStrEnum, "OnlyStrEnum.mood"),
    ],
)
def test_fixed_codec_refuses_each_variable_kind(cls: type, field: str) -> None:
    with pytest.raises(ProtocolDefinitionError, match=rf"^{field}: .* no fixed size"):
        fixed_schema([cls])
    assert variable_schema([cls]).records[0].cls is cls


@attrs.frozen
class WrongHint:
    n: Annotated[int, c.Bytes(4)]


@attrs.frozen
class TooWide:
    small: Annotated[Color, c.Int8ul]
    level: Annotated[Level, c.Int8ul]


@attrs.frozen
class Unknown:
    what: complex


@attrs.frozen
class Loop:
    children: list[Loop]


@attrs.frozen
class Empties:
    items: list[Quit]


class Perms(enum.IntFlag):
    R = 4
    W = 2


@attrs.frozen
class WithPerms:
    perms: Perms


@pytest.mark.parametrize(
    ("cls", "pattern"),
    [
        (WrongHint, r"^WrongHint\.n: layout hint .* does not fit int"),
        (TooWide, r"^Level value 1000 does not fit the layout of TooWide\.level"),
        (Unknown, r"^Unknown\.what: complex has no binary layout"),
        (Loop, r"Loop contains itself"),
        (Empties, r"^Empties\.items: items of a list or dict must take at least one byte"),
        (WithPerms, r"^WithPerms\.perms: flag enums are not supported"),
    ],
)
def test_definition_errors_name_the_field(cls: type, pattern: str) -> None:
    with pytest.raises(ProtocolDefinitionError, match=pattern):
        variable_schema([cls])


def test_at_most_256_variants() -> None:
    classes = [attrs.frozen(type(f"M{i}", (), {})) for i in range(257)]
    assert len(variable_schema(classes[:256]).variants) == 256
    with pytest.raises(ProtocolDefinitionError, match="at most 256"):
        variable_schema(classes)


# ---------------------------------------------------------------- bad input


def move_bytes(**changes: int) -> bytearray:
    fields = {"tag": 1, "player": 1, "x": 0.0, "y": 0.0, "color": 1, "hit": 0} | changes
    body = struct.pack("<BBdfiB", *fields.values())
    return bytearray(body + bytes(25 - len(body)))


def rich_bytes(name: bytes = b"ab", count: int = 0, flag: int = 0, extra: bytes = b"") -> bytes:
    return (
        b"\x00"
        + struct.pack("<I", len(name)) + name
        + struct.pack("<I", count)  # tags
        + struct.pack("<I", 0)  # scores
        + bytes([flag]) + (struct.pack("<q", 5) if flag == 1 else b"")
        + struct.pack("<qqI", 1, 2, 0)  # where, empty blob
        + struct.pack("<I", 0)  # points
        + extra
    )  # fmt: skip


FIXED_BAD = [
    (b"", "empty payload"),
    (b"\x09" + bytes(24), "unknown message tag 9"),
    (bytes(move_bytes(hit=2)), r"Move\.hit: 2 is not a valid bool"),
    (bytes(move_bytes(color=9)), r"Move\.color: 9 is not a valid Color value"),
    (bytes(move_bytes())[:-1], r"Move: a record is 25 bytes, got 24"),
    (bytes(move_bytes()) + b"\x00", r"Move: a record is 25 bytes, got 26"),
    (b"\x02" + b"\xff" * 16 + bytes(8), r"Named\.name: .*decode"),
]
VARIABLE_BAD = [
    (b"", "empty payload"),
    (b"\x03", "unknown message tag 3"),
    (rich_bytes(name=b"\xff\xfe"), r"Rich\.name: .*decode"),
    (rich_bytes(flag=2), r"Rich\.maybe: 2 is not a valid presence flag"),
    (rich_bytes(count=10**9), r"Rich\.tags: count 1000000000 needs at least 4000000000 bytes"),
    (rich_bytes(extra=b"!!"), r"Rich: 2 trailing bytes"),
    (rich_bytes()[:-3], r"Rich\.points: .*expected 4, found 1"),
    (rich_bytes()[:3], r"Rich\.name: .*expected 4, found 2"),
    (b"\x00" + struct.pack("<I", 2**32 - 1) + b"ab", r"Rich\.name: .*expected 4294967295, found 2"),
]


@pytest.mark.parametrize(("payload", "reason"), FIXED_BAD)
def test_fixed_bad_input(payload: bytes, reason: str) -> None:
    check_bad(fixed(CLIENT), payload, reason)


@pytest.mark.parametrize(("payload", "reason"), VARIABLE_BAD)
def test_variable_bad_input(payload: bytes, reason: str) -> None:
    check_bad(serde_for(VariableSerde, RICH), payload, reason)


def check_bad(serde: TaggedSerde, payload: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason) as raised:
        serde.decode(payload)
    assert raised.value.frame == payload
    assert serde.decode_schema.why_undecodable(payload) == raised.value.reason
    good = serde.encode(Quit())
    decoded = serde.decode_many([good, payload, good])
    assert decoded[0] == decoded[2] == Quit()  # a bad payload does not stop the later ones
    assert decoded[1] == raised.value


@pytest.mark.parametrize("kind", [FixedSerde, VariableSerde])
def test_validator_failure_is_a_decode_error(kind: SerdeClass) -> None:
    serde = serde_for(kind, EXOTIC)
    payload = bytearray(serde.encode(Checked(100)))
    payload[1] = 101
    with pytest.raises(DecodeError, match=r"^Checked: ValueError: 'n' must be <= 100: 101"):
        serde.decode(bytes(payload))


def test_variable_bad_input_in_nested_shapes() -> None:
    serde = serde_for(VariableSerde, NESTED)
    texty = serde.encode(Texty("é", None))
    assert serde.decode(texty) == Texty("é", None)
    cut = texty[:5] + texty[6:-1] + b"\x00"  # half a UTF-8 character
    with pytest.raises(DecodeError, match=r"^Texty\.text: "):
        serde.decode(cut)
    nest = Nest(
        [[1]], {}, {}, None, None, [None, 3], [Mood.CALM], Mood.ANGRY, Holder("", b""), [], [],
        [], {}, 1,
    )  # fmt: skip
    payload = serde.encode(nest)
    bad_mood = payload.replace(b"angry", b"happy")
    with pytest.raises(DecodeError, match=r"^Nest\.mood: 'happy' is not a valid Mood value"):
        serde.decode(bad_mood)
    bad_item = payload.replace(b"\x01\x03\x00", b"\x07\x03\x00", 1)  # optionals[1]'s flag
    with pytest.raises(DecodeError, match=r"^Nest\.optionals\[\]: 7 is not a valid presence"):
        serde.decode(bad_item)


@pytest.mark.parametrize("kind", [FixedSerde, VariableSerde])
@settings(max_examples=300, deadline=None)
@given(payloads=st.lists(st.binary(max_size=40), max_size=10))
def test_random_bytes_never_raise(kind: SerdeClass, payloads: list[bytes]) -> None:
    for side in (CLIENT, RICH, NESTED) if kind is VariableSerde else (CLIENT, EXOTIC):
        serde = serde_for(kind, side)
        for payload, result in zip(payloads, serde.decode_many(payloads), strict=True):
            assert isinstance(result, (DecodeError, *variants(side)))
            agree_with_construct(serde, payload, result)


@pytest.mark.parametrize(("kind", "side", "strategy"), CASES, ids=CASE_IDS)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_damaged_payloads_accepted_and_refused_like_construct(
    kind: SerdeClass, side: Any, strategy: st.SearchStrategy[Any], data: st.DataObject
) -> None:
    serde = serde_for(kind, side)
    payload = bytearray(serde.encode(data.draw(strategy)))
    position = data.draw(st.integers(0, len(payload)))
    damage = data.draw(st.sampled_from(["cut", "append", "replace", "insert", "delete"]))
    noise = data.draw(st.binary(min_size=1, max_size=5))
    if damage == "cut":
        del payload[position:]
    elif damage == "append":
        payload += noise
    elif damage == "replace":
        payload[position : position + len(noise)] = noise
    elif damage == "insert":
        payload[position:position] = noise
    else:
        del payload[position : position + len(noise)]
    (result,) = serde.decode_many([bytes(payload)])
    agree_with_construct(serde, bytes(payload), result)


def agree_with_construct(serde: TaggedSerde, payload: bytes, result: Any) -> None:
    """The fast path accepts exactly what the schema accepts, as the same message."""
    reason = serde.decode_schema.why_undecodable(payload)
    if isinstance(result, DecodeError):
        assert reason is not None, result
        assert result.reason == reason
        return
    assert reason is None
    # Compare through bytes: a NaN read from the payload is not equal to itself.
    parsed = serde.decode_schema.parse(payload)
    assert serde.decode_schema.build(parsed) == serde.decode_schema.build(result)


# ---------------------------------------------------------------- encoding errors


@pytest.mark.parametrize("kind", [FixedSerde, VariableSerde])
@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (Ping(-1), r"Ping\.n: .*-1"),
        (Ping(2**32), r"Ping\.n: "),
        (Move(256, 0.0, 0.0, Color.RED, True), r"Move\.player: "),
        (Move(1, "x", 0.0, Color.RED, True), r"Move\.x: "),  # type: ignore[arg-type]
        (Move(1, 0.0, 0.0, 7, True), r"Move\.color: 7 is not a Color value"),  # type: ignore[arg-type]
        (Move(1, 0.0, 0.0, Color.RED, 3), r"Move\.hit: 3 is not a bool"),  # type: ignore[arg-type]
        (Named("x" * 17, bytes(8)), r"Named\.name: "),
        (Named("x", bytes(9)), r"Named\.token: "),
        (Pong(1, 2), r"Pong is not a message of this protocol side \(it has Ping, Move"),
    ],
)
def test_encode_errors_name_message_and_field(kind: SerdeClass, message: Any, reason: str) -> None:
    serde = serde_for(kind, CLIENT)
    with pytest.raises(
        EncodeError, match=rf"^cannot encode {type(message).__name__}\(.*: {reason}"
    ):
        serde.encode(message)
    with pytest.raises(EncodeError, match=reason):
        serde.encode_many([Quit(), message, Quit()])


def test_variable_encode_errors() -> None:
    serde = serde_for(VariableSerde, RICH)
    ok = Rich("a", ["b"], {"c": 1}, None, Point(1, 2), b"", [])
    assert serde.decode(serde.encode(ok)) == ok
    for bad, reason in [
        (attrs.evolve(ok, name=1), r"Rich\.name: "),
        (attrs.evolve(ok, tags=[1]), r"Rich\.tags\[\]: "),
        (attrs.evolve(ok, scores={"c": "d"}), r"Rich\.scores\[value\]: "),
        (attrs.evolve(ok, maybe=2**64), r"Rich\.maybe: "),
        (attrs.evolve(ok, where=None), r"Rich\.where: "),
        (attrs.evolve(ok, points=[Point(1, 2**70)]), r"Rich\.points\[\]\.y: "),
    ]:
        with pytest.raises(EncodeError, match=reason):
            serde.encode(bad)


# ---------------------------------------------------------------- fixed records as one block


@attrs.frozen
class Counted:
    """A one-field class whose validator counts its calls and refuses 13."""

    n: Annotated[int, c.Int8ul] = attrs.field()

    @n.validator
    def _check(self, attribute: Any, value: int) -> None:
        CALLS.append(value)
        if value == 13:
            raise ValueError("unlucky")


CALLS: list[int] = []


@attrs.frozen
class Flags:
    """Flat but for its bools: decoded by ``struct``'s ``?`` when every bool byte is 0 or 1."""

    on: bool
    n: Annotated[int, c.Int16ul]
    off: bool


#: Fixed-size sides, each with a strategy per message class: several classes, or only one
#: (flat, converted, validated, kw-only and non-init fields, a tag-only record).
BLOCK_SIDES: dict[str, dict[type, st.SearchStrategy[Any]]] = {
    "client": {cls: strategy_for(cls) for cls in variants(CLIENT)},
    "server": {cls: strategy_for(cls) for cls in variants(SERVER)},
    "exotic": {Exotic: exotics, Checked: checkeds, Quit: st.just(Quit())},
    "Move": {Move: strategy_for(Move)},
    "Ping": {Ping: strategy_for(Ping)},
    "Checked": {Checked: checkeds},
    "Exotic": {Exotic: exotics},
    "Quit": {Quit: st.just(Quit())},
    "Counted": {Counted: st.builds(Counted, st.integers(0, 255).filter(lambda n: n != 13))},
    "Flags": {Flags: strategy_for(Flags)},
    "flags": {Flags: strategy_for(Flags), Quit: st.just(Quit())},
}


def block_serde(side: str) -> FixedSerde:
    return fixed(tuple(BLOCK_SIDES[side]))


def same_results(serde: FixedSerde, left: list[Any], right: list[Any]) -> bool:
    """Equal lists, comparing messages by their bytes (a NaN read twice is not equal to itself)."""

    def key(item: Any) -> Any:
        if isinstance(item, DecodeError):
            return ("error", item.reason, item.frame)
        return (type(item), serde.encode(item))

    return [key(item) for item in left] == [key(item) for item in right]


@st.composite
def fixed_stream(draw: st.DrawFn, side: str) -> bytes:
    """Records of ``side``: good ones, maybe all of one class, with damaged ones among them."""
    serde = block_serde(side)
    size = serde.decode_size
    strategies = list(BLOCK_SIDES[side].values())
    if draw(st.booleans()):  # one class only, so that whole blocks are of one class
        strategies = [draw(st.sampled_from(strategies))]
    records = [serde.encode(m) for m in draw(st.lists(st.one_of(strategies), max_size=30))]
    for _ in range(draw(st.integers(0, 3))):
        position = draw(st.integers(0, len(records)))
        damage = draw(st.sampled_from(["tag", "value", "random"]))
        if damage == "random" or not records:
            record = draw(st.binary(min_size=size, max_size=size))
        else:
            good = bytearray(draw(st.sampled_from(records)))
            at = 0 if damage == "tag" else draw(st.integers(0, size - 1))
            good[at] = draw(st.integers(0, 255))
            record = bytes(good)
        records.insert(position, record)
    tail = draw(st.binary(max_size=size - 1))  # a partial record the stream ends with
    return b"".join(records) + tail


@pytest.mark.parametrize("side", sorted(BLOCK_SIDES))
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_decode_block_is_decode_many_of_the_frames(side: str, data: st.DataObject) -> None:
    serde = block_serde(side)
    size = serde.decode_size
    stream = data.draw(fixed_stream(side))
    block = stream[: len(stream) - len(stream) % size]
    frames = [block[i : i + size] for i in range(0, len(block), size)]
    assert same_results(serde, serde.decode_block(block), serde.decode_many(frames))


@pytest.mark.parametrize("side", sorted(BLOCK_SIDES))
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fixed_decoder_is_the_generic_one_under_any_rechunking(
    side: str, data: st.DataObject
) -> None:
    """The fixed codec's decoder against ``decode_many(framer.feed(...))``, read by read."""
    serde = block_serde(side)
    classes = tuple(BLOCK_SIDES[side])
    fused = FixedBinary().compile(classes, classes).decoder()
    assert isinstance(fused, FixedDecoder)
    generic = Decoder(FixedFramer(serde.decode_size, MAX_U32), serde)
    stream = data.draw(fixed_stream(side))
    for chunk in reads(data, stream, max_cuts=8):
        assert same_results(serde, fused.decode_batch(chunk), generic.decode_batch(chunk))
        for attribute in ("region", "end", "pending"):
            assert getattr(fused.framer, attribute) == getattr(generic.framer, attribute)


def test_decode_block_reports_bad_records_in_place_and_goes_on() -> None:
    serde = fixed(Checked)
    good = [serde.encode(Checked(n)) for n in (1, 2, 3)]
    too_big = b"\x00" + bytes([101]) + good[0][2:]  # the validator refuses it
    bad_tag = b"\x01" + good[0][1:]
    block = good[0] + too_big + good[1] + bad_tag + good[2]
    out = serde.decode_block(block)
    assert out[0::2] == [Checked(1), Checked(2), Checked(3)]
    assert out[1] == DecodeError(serde.decode_schema.why_undecodable(too_big) or "", too_big)
    assert isinstance(out[3], DecodeError)
    assert out[3].frame == bad_tag
    assert out == serde.decode_many([block[i : i + 5] for i in range(0, 25, 5)])
    assert serde.decode_block(b"") == []


@pytest.mark.parametrize("mixed", [False, True], ids=["one-class", "mixed"])
def test_decode_block_builds_each_message_once(mixed: bool) -> None:
    """A bad record is reported without decoding the records around it a second time."""
    serde = fixed(Counted | Quit) if mixed else fixed(Counted)
    good = serde.encode(Counted(1))
    bad = good[:1] + bytes([13]) + good[2:]
    block = good + bad + good + bad + good + (serde.encode(Quit()) if mixed else b"")
    CALLS.clear()
    out = serde.decode_block(block)
    assert [type(m) for m in out] == [Counted, DecodeError, Counted, DecodeError, Counted] + (
        [Quit] if mixed else []
    )
    assert CALLS.count(1) == 3  # the good records: once each


def test_bools_in_a_block_are_bools_and_other_bytes_are_refused() -> None:
    serde = fixed(Flags)
    records = [serde.encode(Flags(True, 7, False)), serde.encode(Flags(False, 8, True))]
    out = serde.decode_block(b"".join(records))
    assert out == [Flags(True, 7, False), Flags(False, 8, True)]
    assert [(m.on, m.off) for m in out] == [(True, False), (False, True)]
    assert all(type(m.on) is bool and type(m.off) is bool for m in out)
    bad = records[0][:-1] + b"\x02"
    out = serde.decode_block(records[0] + bad + records[1])
    assert out[0] == Flags(True, 7, False) and out[2] == Flags(False, 8, True)
    assert isinstance(out[1], DecodeError)
    assert out[1].reason == "Flags.off: 2 is not a valid bool (0 or 1)"
