"""``tr.layout``: typed layout hints, the same bytes as the construct objects they stand for."""

from __future__ import annotations

import enum
from typing import Annotated, Any

import attrs
import construct as c
import pytest

import trio_reactive as tr
from trio_reactive.errors import EncodeError, ProtocolDefinitionError

SAME = [
    (tr.layout.U8, c.Int8ul, int, 200),
    (tr.layout.U16, c.Int16ul, int, 0x0102),
    (tr.layout.U32, c.Int32ul, int, 0x01020304),
    (tr.layout.U64, c.Int64ul, int, 2**64 - 1),
    (tr.layout.I8, c.Int8sl, int, -2),
    (tr.layout.I16, c.Int16sl, int, -2),
    (tr.layout.I32, c.Int32sl, int, -2),
    (tr.layout.I64, c.Int64sl, int, -(2**63)),
    (tr.layout.U16BE, c.Int16ub, int, 0x0102),
    (tr.layout.U32BE, c.Int32ub, int, 0x01020304),
    (tr.layout.U64BE, c.Int64ub, int, 0x0102030405060708),
    (tr.layout.I16BE, c.Int16sb, int, -2),
    (tr.layout.I32BE, c.Int32sb, int, -2),
    (tr.layout.I64BE, c.Int64sb, int, -2),
    (tr.layout.F32, c.Float32l, float, 1.5),
    (tr.layout.F64, c.Float64l, float, -0.1),
    (tr.layout.F32BE, c.Float32b, float, 1.5),
    (tr.layout.F64BE, c.Float64b, float, -0.1),
    (tr.layout.Padded(6), c.PaddedString(6, "utf8"), str, "é!"),
    (tr.layout.Bytes(3), c.Bytes(3), bytes, b"\x00\xff\x10"),
    (tr.layout.Integer(3, signed=False), c.BytesInteger(3, swapped=True), int, 0x010203),
    (tr.layout.Integer(3, signed=True, big_endian=True), c.BytesInteger(3, signed=True), int, -5),
]


def one_field(kind: Any, hint: Any = None) -> Any:
    """A message class with one field, ``value: Annotated[kind, hint]`` (or ``kind``)."""
    hinted = kind if hint is None else Annotated[kind, hint]
    cls = attrs.make_class("Field", {"value": attrs.field(type=hinted)}, frozen=True)
    cls.__annotations__ = {"value": hinted}
    return cls


@pytest.mark.parametrize("codec", [tr.FixedBinary(), tr.VariableBinary()], ids=lambda c: c.name)
@pytest.mark.parametrize(("layout", "construct", "kind", "value"), SAME, ids=repr)
def test_a_layout_is_the_bytes_of_its_construct(
    codec: Any, layout: tr.layout.Layout, construct: Any, kind: type, value: Any
) -> None:
    ours, theirs = one_field(kind, layout), one_field(kind, construct)
    mine = codec.compile((ours,), (ours,))
    reference = codec.compile((theirs,), (theirs,))
    wire = mine.encoder().encode(ours(value))
    assert wire == reference.encoder().encode(theirs(value))
    assert wire.endswith(construct.build(value))
    assert mine.decoder().decode_batch(wire) == [ours(value)]


def test_layouts_name_themselves() -> None:
    assert repr(tr.layout.U16) == "tr.layout.U16"
    assert repr(tr.layout.Padded(8)) == "tr.layout.Padded(8)"


@pytest.mark.parametrize("codec", [tr.FixedBinary(), tr.VariableBinary()], ids=lambda c: c.name)
def test_a_padded_string_that_ends_in_nul_is_refused(codec: Any) -> None:
    """It would come back without its NUL (the padding is stripped): refuse, do not corrupt."""
    cls = one_field(str, tr.layout.Padded(4))
    encoder = codec.compile((cls,), (cls,)).encoder()
    assert encoder.encode(cls("a\x00b"))  # a NUL inside is kept
    for message in (cls("a\x00"), cls("\x00")):
        with pytest.raises(EncodeError, match="ends in a NUL character"):
            encoder.encode(message)
        with pytest.raises(EncodeError, match="ends in a NUL character"):
            encoder.encode_batch([cls("ok"), message])


class Mood(enum.Enum):
    HAPPY = "happy"


@pytest.mark.parametrize(
    ("kind", "advice"),
    [
        (str, "Annotated[str, tr.layout.Padded(16)]"),
        (Mood, "Annotated[Mood, tr.layout.Padded(16)]"),
        (bytes, "Annotated[bytes, tr.layout.Bytes(16)]"),
        (int | None, "an optional has no fixed-size form"),
        (list[int], "use the variable binary codec"),
    ],
)
def test_the_fixed_codec_says_what_to_do_with_a_field_it_cannot_carry(
    kind: Any, advice: str
) -> None:
    message = one_field(kind)
    with pytest.raises(ProtocolDefinitionError) as info:
        tr.FixedBinary().compile((message,), (message,))
    assert advice in str(info.value)
    if kind is not str and kind is not Mood:
        assert "Padded" not in str(info.value)


def test_a_side_that_is_not_attrs_classes_is_named_in_a_whole_sentence() -> None:
    with pytest.raises(ProtocolDefinitionError) as info:
        tr.Protocol(client=int, server=bytes)
    assert str(info.value) == (
        "<class 'int'> is not an attrs class: the messages of a protocol side are attrs classes "
        "(or the side is bytes, for the Raw codec)"
    )
