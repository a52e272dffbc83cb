"""From type hints to the layout tree: the one mapping both binary schemas come from.

A field's type decides its bytes, unless a layout hint (``Annotated[T, hint]``, a
:mod:`trio_reactive.wire.layout` value or a construct object) says otherwise; see
:mod:`.schema` for the table, and the book's appendix for the bytes.
"""

from __future__ import annotations

import enum
import struct
import sys
import typing
from collections.abc import Callable, Mapping
from typing import Annotated, Any

import attrs
import construct as c  # type: ignore[import-untyped]

from ..errors import ProtocolDefinitionError
from ..layout import Layout
from ..typeinfo import optional_of, strip_annotated, type_name
from .constructs import NUL_AT_END, _Counted, _flag, _Located, _Maybe, _Message, _NoNulAtEnd, _Table
from .nodes import (
    BOOL_OF_BYTE,
    BYTE_OF_BOOL,
    Chunk,
    DictOf,
    Field,
    ListOf,
    Maybe,
    Node,
    Record,
    Scalar,
)

__all__ = ["layout_of"]

_LITTLE = "<"
_INT_CODES = frozenset("bBhHiIlLqQ")
_FLOAT_CODES = frozenset("efd")
_FLAG_TYPE: type = type(c.Flag)

def layout_of(cls: type, *, fixed: bool) -> Record:
    """The layout of one attrs class; ``fixed`` refuses any field without a fixed size.

    Raises :class:`ProtocolDefinitionError` naming the class and field of the first field that
    has no layout.  Both schemas come from this one mapping, so the fixed and variable codecs
    agree on every field they both accept.
    """
    return _LayoutBuilder(fixed).record(cls, cls.__name__)


class _LayoutBuilder:
    """Maps type hints to nodes, for one schema kind (fixed or variable)."""

    def __init__(self, fixed: bool) -> None:
        self.fixed = fixed
        self.open: list[type] = []

    def record(self, cls: type, where: str) -> Record:
        if not (isinstance(cls, type) and attrs.has(cls)):
            raise ProtocolDefinitionError(f"{where}: {cls!r} is not an attrs class")
        if cls in self.open:
            raise ProtocolDefinitionError(
                f"{where}: {cls.__qualname__} contains itself; recursive messages have no layout"
            )
        hints = _hints(cls, where)
        self.open.append(cls)
        fields = []
        for attribute in attrs.fields(cls):
            if not attribute.init:  # not an __init__ argument: computed, so not on the wire
                continue
            field_where = f"{where}.{attribute.name}"
            if attribute.name not in hints:
                raise ProtocolDefinitionError(f"{field_where} has no type annotation")
            node = self.node(hints[attribute.name], field_where)
            alias = attribute.alias or attribute.name.lstrip("_")
            fields.append(Field(attribute.name, alias, attribute.kw_only, node))
        self.open.pop()
        field_tuple = tuple(fields)
        return Record(where, _Located(_Message(cls, field_tuple), where), cls, field_tuple)

    def node(self, hint: Any, where: str) -> Node:
        base, layout = _split_annotated(hint, where)
        if isinstance(base, type) and issubclass(base, enum.Enum):
            return self.enum(base, layout, where)
        if layout is not None:
            return _hinted(base, layout, where)
        if base is bool:
            return _hinted(bool, c.Flag, where)
        if base is int:
            return _hinted(int, c.Int64sl, where)
        if base is float:
            return _hinted(float, c.Float64l, where)
        if isinstance(base, type) and attrs.has(base):
            return self.record(base, where)
        return self.variable(base, where)

    def variable(self, hint: Any, where: str) -> Node:
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        kinds = {str: "str", bytes: "bytes", list: "list", dict: "dict"}
        optional = optional_of(hint)
        kind = "optional" if optional is not None else kinds.get(origin or hint)
        if kind is None:
            raise ProtocolDefinitionError(
                f"{where}: {type_name(hint)} has no binary layout; use int, float, bool, an "
                "enum, an attrs class, str, bytes, list, dict, an optional, or a layout hint "
                "such as Annotated[int, tr.layout.U32]"
            )
        self.refuse_if_fixed(hint, where)
        if kind == "optional":
            item = self.node(optional, where)
            return Maybe(where, _Located(_Maybe(item.construct), where), item)
        if kind in ("str", "bytes"):
            return _chunk(kind == "str", where)
        if kind == "list":
            item = self.node(_only_arg(args, hint, where), f"{where}[]")
            _refuse_empty_items(item.min_size, where)
            counted = _Counted(item.construct, item.min_size, as_dict=False)
            return ListOf(where, _Located(counted, where), item)
        if len(args) != 2:
            raise ProtocolDefinitionError(f"{where}: a dict needs key and value types")
        key = self.node(args[0], f"{where}[key]")
        value = self.node(args[1], f"{where}[value]")
        if isinstance(key, (ListOf, DictOf)):
            raise ProtocolDefinitionError(f"{where}: dict keys must be hashable, not containers")
        _refuse_empty_items(key.min_size + value.min_size, where)
        pair = c.Sequence(key.construct, value.construct)
        counted = _Counted(pair, key.min_size + value.min_size, as_dict=True)
        return DictOf(where, _Located(counted, where), key, value)

    def refuse_if_fixed(self, hint: Any, where: str) -> None:
        if self.fixed:
            raise ProtocolDefinitionError(
                f"{where}: {type_name(hint)} has no fixed size, so the fixed binary codec "
                f"cannot carry it; {_fixed_instead(hint)}"
            )

    def enum(self, base: type[enum.Enum], layout: Any, where: str) -> Node:
        """An enum is its value's layout plus two lookup tables (never ``Enum(value)``: slow)."""
        if issubclass(base, enum.Flag):
            raise ProtocolDefinitionError(f"{where}: flag enums are not supported; use an int")
        members = {member.value: member for member in base}
        values = {member: member.value for member in base}
        inner: Scalar | Chunk
        if not members:
            raise ProtocolDefinitionError(f"{where}: {base.__qualname__} has no members")
        if all(isinstance(v, int) and not isinstance(v, bool) for v in members):
            inner = _hinted(int, c.Int32sl if layout is None else layout, where)
            _check_values_fit(inner, members, base, where)
        elif all(isinstance(v, str) for v in members):
            if layout is None:
                self.refuse_if_fixed(base, where)
                inner = _chunk(True, where)
            else:
                inner = _hinted(str, layout, where)
        else:
            raise ProtocolDefinitionError(
                f"{where}: {base.__qualname__} values must be all int or all str"
            )
        table = _Table(inner.construct, members, values, f"{base.__qualname__} value")
        return attrs.evolve(
            inner,
            construct=_Located(table, where),
            decode_steps=(*inner.decode_steps, members),
            encode_steps=(values, *inner.encode_steps),
        )


def _fixed_instead(hint: Any) -> str:
    """What to do instead, for a type the fixed codec cannot carry."""
    base = strip_annotated(hint)
    if base is str or (isinstance(base, type) and issubclass(base, enum.Enum)):
        return (
            f"give it a fixed size, Annotated[{type_name(base)}, tr.layout.Padded(16)] (16 bytes "
            "of UTF-8, NUL-padded), or use the variable binary codec"
        )
    if base is bytes:
        return (
            "give it a fixed size, Annotated[bytes, tr.layout.Bytes(16)], or use the variable "
            "binary codec"
        )
    if optional_of(base) is not None:
        return (
            "an optional has no fixed-size form: use the variable binary codec, or a field that "
            "is always present (with a value that means none)"
        )
    return "use the variable binary codec"


def _refuse_empty_items(min_size: int, where: str) -> None:
    """Repeated items must take bytes: else a count alone could make us build any number."""
    if min_size == 0:
        raise ProtocolDefinitionError(
            f"{where}: items of a list or dict must take at least one byte on the wire"
        )


def _hints(cls: type, where: str) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls, include_extras=True)
    except Exception as exc:
        raise ProtocolDefinitionError(
            f"{where}: cannot resolve the type hints of {cls.__qualname__}: {exc}"
        ) from exc


def _split_annotated(hint: Any, where: str) -> tuple[Any, Any]:
    """``Annotated[T, <layout>, ...]`` -> ``(T, <construct>)``; other metadata is ignored.

    A layout is a :class:`~trio_reactive.wire.layout.Layout` or a construct object.
    """
    if typing.get_origin(hint) is not Annotated:
        return hint, None
    layouts = [
        m.construct if isinstance(m, Layout) else m
        for m in hint.__metadata__
        if isinstance(m, (Layout, c.Construct))
    ]
    if len(layouts) > 1:
        raise ProtocolDefinitionError(f"{where}: more than one layout hint")
    return hint.__origin__, (layouts[0] if layouts else None)


def _only_arg(args: tuple[Any, ...], hint: Any, where: str) -> Any:
    if len(args) != 1:
        raise ProtocolDefinitionError(f"{where}: {type_name(hint)} needs one item type")
    return args[0]


def _chunk(text: bool, where: str) -> Chunk:
    raw = c.PascalString(c.Int32ul, "utf8") if text else c.Prefixed(c.Int32ul, c.GreedyBytes)
    return Chunk(where, _Located(raw, where), text)


# --- layout hints --------------------------------------------------------------------------------


def _hinted(base: Any, layout: Any, where: str) -> Scalar:
    """A field with a construct layout hint (or a default one) as a struct code."""
    if isinstance(layout, _FLAG_TYPE) and base is bool:
        return Scalar(
            where, _Located(_flag("bool (0 or 1)"), where), "B", 1, (BOOL_OF_BYTE,), (BYTE_OF_BOOL,)
        )
    if isinstance(layout, c.FormatField) and base in (int, float):
        return _format_field(base, layout, where)
    if isinstance(layout, c.BytesInteger) and base is int:
        return _bytes_integer(layout, where)
    if isinstance(layout, c.Bytes) and isinstance(layout.length, int) and base is bytes:
        size = layout.length
        return Scalar(where, _Located(layout, where), f"{size}s", size, (), (_exact(size),))
    padded = _padded_string(layout)
    if padded is not None and base is str:
        size, encoding = padded
        return Scalar(
            where,
            _Located(_NoNulAtEnd(layout), where),
            f"{size}s",
            size,
            (_unpad(encoding),),
            (_pad(size, encoding),),
        )
    raise ProtocolDefinitionError(
        f"{where}: layout hint {layout!r} does not fit {type_name(base)}; the hints are the "
        "integers of tr.layout (U8 ... I64BE, Integer(n, signed=...)) for int and int enums, "
        "F32/F64 for float, Bytes(n) for bytes, Padded(n) for str and str enums (or the "
        "construct objects they stand for)"
    )


def _format_field(base: type, layout: Any, where: str) -> Scalar:
    order, code = layout.fmtstr[0], layout.fmtstr[1:]
    wanted = _INT_CODES if base is int else _FLOAT_CODES
    if code not in wanted:
        raise ProtocolDefinitionError(
            f"{where}: layout hint {layout!r} ({layout.fmtstr!r}) does not fit {base.__name__}"
        )
    size = struct.calcsize(layout.fmtstr)
    native_little = order in "=@" and sys.byteorder == "little"
    if size == 1 or order == _LITTLE or native_little:
        return Scalar(where, _Located(layout, where), code, size)
    # Another byte order: carried as raw bytes inside the little-endian record, converted apart.
    own = struct.Struct(layout.fmtstr)
    return Scalar(
        where, _Located(layout, where), f"{size}s", size, (_first(own.unpack),), (own.pack,)
    )


def _bytes_integer(layout: Any, where: str) -> Scalar:
    size, signed, swapped = layout.length, layout.signed, layout.swapped
    if not (isinstance(size, int) and size > 0 and isinstance(swapped, bool)):
        raise ProtocolDefinitionError(f"{where}: BytesInteger needs a fixed length and order")
    order: typing.Literal["little", "big"] = "little" if swapped else "big"

    def decode(raw: bytes) -> int:
        return int.from_bytes(raw, order, signed=signed)

    def encode(value: int) -> bytes:
        return value.to_bytes(size, order, signed=signed)

    return Scalar(where, _Located(layout, where), f"{size}s", size, (decode,), (encode,))


def _padded_string(layout: Any) -> tuple[int, str] | None:
    """``(length, encoding)`` if ``layout`` is ``PaddedString(length, encoding)`` with a one-byte
    pad unit (so stripping trailing NUL bytes is exactly what construct does), else None."""
    if not isinstance(layout, c.StringEncoded):
        return None
    sized = layout.subcon
    if not (isinstance(sized, c.FixedSized) and isinstance(sized.length, int)):
        return None
    stripped = sized.subcon
    if not (isinstance(stripped, c.NullStripped) and stripped.pad == b"\x00"):
        return None
    return sized.length, layout.encoding


def _first(unpack: Callable[[bytes], tuple[Any, ...]]) -> Callable[[bytes], Any]:
    def decode(raw: bytes) -> Any:
        return unpack(raw)[0]

    return decode


def _exact(size: int) -> Callable[[bytes], bytes]:
    """``struct``'s ``{n}s`` pads or truncates silently; construct's ``Bytes(n)`` refuses."""

    def encode(value: bytes) -> bytes:
        if len(value) != size:
            raise ValueError(f"needs exactly {size} bytes, got {len(value)}")
        return value

    return encode


def _unpad(encoding: str) -> Callable[[bytes], str]:
    def decode(raw: bytes) -> str:
        return raw.rstrip(b"\x00").decode(encoding)

    return decode


def _pad(size: int, encoding: str) -> Callable[[str], bytes]:
    """Encode; ``struct``'s ``{n}s`` adds the NUL padding but would truncate a long string."""

    def encode(value: str) -> bytes:
        raw = value.encode(encoding)
        if len(raw) > size:
            raise ValueError(f"encodes to {len(raw)} bytes, over the {size} available")
        if raw.endswith(b"\x00"):
            raise ValueError(NUL_AT_END)
        return raw

    return encode


def _check_values_fit(
    inner: Scalar, members: Mapping[int, enum.Enum], base: type, where: str
) -> None:
    for value in members:
        try:
            inner.construct.build(value)
        except Exception as exc:
            raise ProtocolDefinitionError(
                f"{base.__qualname__} value {value} does not fit the layout of {exc}"
            ) from exc


