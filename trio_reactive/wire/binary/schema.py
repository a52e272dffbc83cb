"""Binary layouts derived from attrs message classes, as construct schemas.

A message class's fields, in ``attrs.fields`` order, decide its bytes.  A field may carry a
layout hint, ``typing.Annotated[T, <construct type>]``; without one it gets a default:

=====================================  ====================================================
field type                             bytes
=====================================  ====================================================
``int`` / ``float`` / ``bool``         Int64sl / Float64l / one byte, 0 or 1
int-valued ``enum.Enum``               its value as Int32sl (or the hinted integer width)
nested attrs class                     its own fields, inline
``str`` / ``bytes``                    u32-LE byte length, then UTF-8 / the raw bytes
``list[T]`` / ``dict[K, V]``           u32-LE count, then the items / key-value pairs
``T | None``                           one byte, 0 (absent) or 1 (present, then ``T``)
str-valued ``enum.Enum``               its value as a string
=====================================  ====================================================

The last five have no fixed size, so only the variable schema accepts them (unless a hint gives
them one, e.g. ``Annotated[str, construct.PaddedString(16, "utf8")]``).  A protocol side is a
u8 tag, the index of the message class in the side's declaration order, then the message; in
the fixed schema every message is zero-padded to the largest, so every record has one size.

Why construct: the schema is a readable, executable *specification* of the bytes, and the tests
hold the fast codecs to it.  Parsing with it is far too slow for the hot path (5-20 us per
message), so :mod:`.fixed` and :mod:`.variable` compile the same layout, described
here as a small tree of nodes (:data:`Node`), into ``struct`` formats and generated Python; when
their fast path rejects a payload they ask the schema *why* (:meth:`SideSchema.why_undecodable`),
so error messages name the class, the field and the problem at no cost to good messages.

The schema is also stricter than construct's defaults, the way a network codec must be: a bool
byte other than 0/1, an enum value with no member, a count the remaining bytes cannot hold and
trailing bytes are all errors.  Tags are plain integers (never a construct ``Enum``), because a
*compiled* construct ``Switch`` on an ``Enum`` tag silently builds one byte.
"""

from __future__ import annotations

import enum
import struct
import sys
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any, TypeAlias

import attrs
import construct as c  # type: ignore[import-untyped]

from ..errors import ProtocolDefinitionError

__all__ = [
    "BOOL_OF_BYTE",
    "BYTE_OF_BOOL",
    "MAX_VARIANTS",
    "Chunk",
    "DictOf",
    "Field",
    "ListOf",
    "Maybe",
    "Node",
    "Record",
    "Scalar",
    "SideSchema",
    "Step",
    "fixed_schema",
    "layout_of",
    "variable_schema",
]

#: A tag is one byte.
MAX_VARIANTS = 256
#: Decoding a bool byte: indexing refuses anything but 0 and 1.
BOOL_OF_BYTE: tuple[bool, bool] = (False, True)
#: Encoding a bool: a lookup refuses what is not a bool (or 0/1), where ``struct`` would not.
BYTE_OF_BOOL: Mapping[object, int] = {False: 0, True: 1}

#: One conversion on the fast path, between a struct value and a field value: a table is
#: indexed, anything else is called.  Decided once per field when the layout is derived.
Step: TypeAlias = "Mapping[Any, Any] | tuple[Any, ...] | Callable[[Any], Any]"

_LITTLE = "<"
_INT_CODES = frozenset("bBhHiIlLqQ")
_FLOAT_CODES = frozenset("efd")
_FLAG_TYPE: type = type(c.Flag)


# --- the layout tree ---------------------------------------------------------------------------


@attrs.frozen(eq=False)
class Scalar:
    """A fixed-size leaf: one ``struct`` code (no byte order), plus conversions if needed."""

    where: str
    construct: Any
    code: str
    size: int
    decode_steps: tuple[Step, ...] = ()
    encode_steps: tuple[Step, ...] = ()

    @property
    def fixed_size(self) -> int:
        return self.size

    @property
    def min_size(self) -> int:
        return self.size


@attrs.frozen(eq=False)
class Chunk:
    """A u32-LE byte length, then the bytes: ``bytes``, or UTF-8 text when ``text``."""

    where: str
    construct: Any
    text: bool
    decode_steps: tuple[Step, ...] = ()
    encode_steps: tuple[Step, ...] = ()

    fixed_size = None
    min_size = 4


@attrs.frozen(eq=False)
class ListOf:
    """A u32-LE count, then that many items."""

    where: str
    construct: Any
    item: Node

    fixed_size = None
    min_size = 4


@attrs.frozen(eq=False)
class DictOf:
    """A u32-LE count, then that many key-value pairs."""

    where: str
    construct: Any
    key: Node
    value: Node

    fixed_size = None
    min_size = 4


@attrs.frozen(eq=False)
class Maybe:
    """A presence byte (0 or 1), then the item when present."""

    where: str
    construct: Any
    item: Node

    fixed_size = None
    min_size = 1


@attrs.frozen(eq=False)
class Field:
    """One attrs field on the wire: ``alias`` is its ``__init__`` parameter name."""

    name: str
    alias: str
    kw_only: bool
    node: Node


@attrs.frozen(eq=False)
class Record:
    """An attrs class: its fields, in order, inline."""

    where: str
    construct: Any
    cls: type
    fields: tuple[Field, ...]

    @property
    def fixed_size(self) -> int | None:
        sizes = [f.node.fixed_size for f in self.fields]
        return None if None in sizes else sum(typing.cast("list[int]", sizes))

    @property
    def min_size(self) -> int:
        return sum(f.node.min_size for f in self.fields)


Node: TypeAlias = "Scalar | Chunk | ListOf | DictOf | Maybe | Record"


# --- the construct pieces the standard library lacks --------------------------------------------


class FieldError(c.ConstructError):  # type: ignore[misc]
    """A parse or build failure, with the message field it happened in."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem


def _problem(exc: BaseException) -> str:
    """construct's own errors say enough by their message; anything else needs its type too."""
    if isinstance(exc, c.ConstructError):
        return str(exc).split("\n", 1)[-1] if exc.path else str(exc)
    return f"{type(exc).__name__}: {exc}"


class _Located(c.Subconstruct):  # type: ignore[misc]
    """Names the field a failure happened in: the innermost one wins.

    construct's own paths skip unnamed wrappers and several of its errors carry no path at all,
    so every node of a layout is wrapped in one of these with its full dotted name.
    """

    def __init__(self, subcon: Any, where: str) -> None:
        super().__init__(subcon)
        self.where = where

    def _parse(self, stream: Any, context: Any, path: str) -> Any:
        try:
            return self.subcon._parsereport(stream, context, path)
        except FieldError:
            raise
        except Exception as exc:
            raise FieldError(self.where, _problem(exc)) from exc

    def _build(self, obj: Any, stream: Any, context: Any, path: str) -> Any:
        try:
            return self.subcon._build(obj, stream, context, path)
        except FieldError:
            raise
        except Exception as exc:
            raise FieldError(self.where, _problem(exc)) from exc


class _Table(c.Adapter):  # type: ignore[misc]
    """Maps wire values to objects (bools, enum members) through the fast path's own tables."""

    def __init__(
        self, subcon: Any, decode: Mapping[Any, Any], encode: Mapping[Any, Any], what: str
    ) -> None:
        super().__init__(subcon)
        self.decode_table = decode
        self.encode_table = encode
        self.what = what

    def _decode(self, obj: Any, context: Any, path: str) -> Any:
        try:
            return self.decode_table[obj]
        except (KeyError, TypeError):
            raise c.ValidationError(f"{obj!r} is not a valid {self.what}") from None

    def _encode(self, obj: Any, context: Any, path: str) -> Any:
        try:
            return self.encode_table[obj]
        except (KeyError, TypeError):
            raise c.ValidationError(f"{obj!r} is not a {self.what}") from None


def _flag(what: str) -> Any:
    """A strict bool byte: 0 or 1 only."""
    return _Table(c.Int8ul, dict(enumerate(BOOL_OF_BYTE)), BYTE_OF_BOOL, what)


class _Message(c.Adapter):  # type: ignore[misc]
    """An attrs instance over a construct ``Struct`` of its fields."""

    def __init__(self, cls: type, fields: tuple[Field, ...]) -> None:
        super().__init__(c.Struct(*[f.name / f.node.construct for f in fields]))
        self.cls = cls
        self.positional = [f.name for f in fields if not f.kw_only]
        self.keywords = [(f.alias, f.name) for f in fields if f.kw_only]
        self.names = [f.name for f in fields]

    def _decode(self, obj: Any, context: Any, path: str) -> Any:
        args = [obj[name] for name in self.positional]
        return self.cls(*args, **{alias: obj[name] for alias, name in self.keywords})

    def _encode(self, obj: Any, context: Any, path: str) -> Any:
        if not isinstance(obj, self.cls):
            raise c.ValidationError(f"expected a {self.cls.__qualname__}, got {obj!r}")
        return {name: getattr(obj, name) for name in self.names}


class _Counted(c.Construct):  # type: ignore[misc]
    """A u32-LE count, then items; a count the remaining bytes cannot hold is refused up front."""

    def __init__(self, item: Any, min_item_size: int, as_dict: bool) -> None:
        super().__init__()
        self.item = item
        self.min_item_size = min_item_size
        self.as_dict = as_dict

    def _parse(self, stream: Any, context: Any, path: str) -> Any:
        count = c.Int32ul._parsereport(stream, context, path)
        left = c.stream_size(stream) - c.stream_tell(stream, path)
        if count * self.min_item_size > left:
            raise c.StreamError(
                f"count {count} needs at least {count * self.min_item_size} bytes, {left} left"
            )
        items = [self.item._parsereport(stream, context, path) for _ in range(count)]
        return dict(items) if self.as_dict else items

    def _build(self, obj: Any, stream: Any, context: Any, path: str) -> Any:
        items = list(obj.items()) if self.as_dict else obj
        c.Int32ul._build(len(items), stream, context, path)
        for item in items:
            self.item._build(item, stream, context, path)
        return obj

    def _sizeof(self, context: Any, path: str) -> int:
        raise c.SizeofError("a counted sequence has no fixed size", path=path)


class _Maybe(c.Construct):  # type: ignore[misc]
    """A presence byte (strictly 0 or 1), then the item when present."""

    def __init__(self, item: Any) -> None:
        super().__init__()
        self.item = item
        self.flag = _flag("presence flag (0 or 1)")

    def _parse(self, stream: Any, context: Any, path: str) -> Any:
        present = self.flag._parsereport(stream, context, path)
        return self.item._parsereport(stream, context, path) if present else None

    def _build(self, obj: Any, stream: Any, context: Any, path: str) -> Any:
        self.flag._build(obj is not None, stream, context, path)
        if obj is not None:
            self.item._build(obj, stream, context, path)
        return obj

    def _sizeof(self, context: Any, path: str) -> int:
        raise c.SizeofError("an optional has no fixed size", path=path)


class _End(c.Construct):  # type: ignore[misc]
    """Refuses bytes after the message: an overlong payload is a malformed one."""

    def __init__(self, names: tuple[str, ...]) -> None:
        super().__init__()
        self.names = names
        self.flagbuildnone = True

    def _parse(self, stream: Any, context: Any, path: str) -> None:
        extra = len(c.stream_read_entire(stream, path))
        if extra:
            raise FieldError(self.names[context.tag], f"{extra} trailing bytes after the message")

    def _build(self, obj: Any, stream: Any, context: Any, path: str) -> None:
        return None

    def _sizeof(self, context: Any, path: str) -> int:
        return 0


# --- from type hints to the layout tree --------------------------------------------------------


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
        optional = _optional_of(hint)
        kind = "optional" if optional is not None else kinds.get(origin or hint)
        if kind is None:
            raise ProtocolDefinitionError(
                f"{where}: {_type_name(hint)} has no binary layout; use int, float, bool, an "
                "enum, an attrs class, str, bytes, list, dict, an optional, or a layout hint "
                "such as Annotated[int, construct.Int32ul]"
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
                f"{where}: {_type_name(hint)} has no fixed size, so the fixed binary codec "
                "cannot carry it; give it a fixed-size layout hint (e.g. Annotated[str, "
                "construct.PaddedString(16, 'utf8')]) or use the variable binary codec"
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
    """``Annotated[T, <construct>, ...]`` -> ``(T, <construct>)``; other metadata is ignored."""
    if typing.get_origin(hint) is not Annotated:
        return hint, None
    layouts = [m for m in hint.__metadata__ if isinstance(m, c.Construct)]
    if len(layouts) > 1:
        raise ProtocolDefinitionError(f"{where}: more than one construct layout hint")
    return hint.__origin__, (layouts[0] if layouts else None)


def _optional_of(hint: Any) -> Any:
    """``T`` for ``T | None`` / ``Optional[T]``, else None."""
    if not (isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union):
        return None
    others = [arg for arg in typing.get_args(hint) if arg is not type(None)]
    return others[0] if len(others) == 1 else None


def _only_arg(args: tuple[Any, ...], hint: Any, where: str) -> Any:
    if len(args) != 1:
        raise ProtocolDefinitionError(f"{where}: {_type_name(hint)} needs one item type")
    return args[0]


def _type_name(hint: Any) -> str:
    return hint.__qualname__ if isinstance(hint, type) else repr(hint)


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
            _Located(layout, where),
            f"{size}s",
            size,
            (_unpad(encoding),),
            (_pad(size, encoding),),
        )
    raise ProtocolDefinitionError(
        f"{where}: layout hint {layout!r} does not fit {_type_name(base)}; supported hints: "
        "integer and float FormatFields (Int32ul, Float32l, ...) and BytesInteger for int/float "
        "(and int enums), Flag for bool, Bytes(n) for bytes, PaddedString(n, 'utf8') for str "
        "(and str enums)"
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


# --- one side of a protocol ----------------------------------------------------------------------


@attrs.frozen(eq=False)
class SideSchema:
    """The construct schema of one protocol side: a u8 tag, then the tagged message.

    ``construct`` builds from and parses to ``{"tag": index, "value": message}``; :meth:`build`
    and :meth:`parse` do the wrapping.  ``record_size`` is the size of every record (tag
    included) of a fixed schema, and None for a variable one.
    """

    variants: tuple[type, ...]
    records: tuple[Record, ...]
    construct: Any
    record_size: int | None

    def tag_of(self, message: Any) -> int:
        try:
            return self.variants.index(type(message))
        except ValueError:
            raise ValueError(
                f"{type(message).__qualname__} is not a message of this protocol side "
                f"(it has {self.names()})"
            ) from None

    def names(self) -> str:
        return ", ".join(cls.__qualname__ for cls in self.variants)

    def container(self, message: Any) -> dict[str, Any]:
        return {"tag": self.tag_of(message), "value": message}

    def build(self, message: Any) -> bytes:
        """The payload of ``message``, built by construct (the reference for the fast codecs)."""
        data: bytes = self.construct.build(self.container(message))
        return data

    def parse(self, payload: bytes) -> Any:
        """The message in ``payload``, parsed by construct."""
        return self.construct.parse(payload).value

    def why_undecodable(self, payload: bytes) -> str | None:
        """What is wrong with ``payload``, naming the class and field; None if nothing is."""
        if not payload:
            return "empty payload: no message tag"
        if payload[0] >= len(self.variants):
            return (
                f"unknown message tag {payload[0]}: this side has tags 0..{len(self.variants) - 1}"
                f" ({self.names()})"
            )
        if self.record_size is not None and len(payload) != self.record_size:
            name = self.variants[payload[0]].__qualname__
            return f"{name}: a record is {self.record_size} bytes, got {len(payload)}"
        return _failure(lambda: self.parse(payload))

    def why_unencodable(self, message: Any) -> str | None:
        """What stops ``message`` from being encoded, naming the field; None if nothing does."""
        return _failure(lambda: self.build(message))


def _failure(attempt: Callable[[], object]) -> str | None:
    try:
        attempt()
    except FieldError as exc:
        return f"{exc.where}: {exc.problem}"
    except Exception as exc:
        return _problem(exc)
    return None


def _records(variants: Iterable[type], fixed: bool) -> tuple[tuple[type, ...], tuple[Record, ...]]:
    classes = tuple(variants)
    if not classes:
        raise ProtocolDefinitionError("a protocol side needs at least one message class")
    if len(classes) > MAX_VARIANTS:
        raise ProtocolDefinitionError(
            f"a binary protocol side has at most {MAX_VARIANTS} message classes (a u8 tag), "
            f"got {len(classes)}"
        )
    return classes, tuple(layout_of(cls, fixed=fixed) for cls in classes)


def _tagged(records: tuple[Record, ...], cases: dict[int, Any]) -> Any:
    names = tuple(record.cls.__qualname__ for record in records)
    return c.Struct(
        "tag" / c.Int8ul,
        "value" / c.Switch(c.this.tag, cases, default=c.Error),
        _End(names),
    )


def fixed_schema(variants: Iterable[type]) -> SideSchema:
    """Every message of the side as one record of one size: tag, fields, zero padding.

    Raises :class:`ProtocolDefinitionError` naming the class and field of any field without a
    fixed size.
    """
    classes, records = _records(variants, fixed=True)
    body = max(typing.cast(int, record.fixed_size) for record in records)
    cases = {tag: c.FixedSized(body, record.construct) for tag, record in enumerate(records)}
    return SideSchema(classes, records, _tagged(records, cases), 1 + body)


def variable_schema(variants: Iterable[type]) -> SideSchema:
    """Every message of the side as its tag and its fields, with no padding and no length
    (the length-prefixed framer adds it)."""
    classes, records = _records(variants, fixed=False)
    cases = {tag: record.construct for tag, record in enumerate(records)}
    return SideSchema(classes, records, _tagged(records, cases), None)
