"""Binary layouts derived from attrs message classes, as construct schemas.

A message class's fields, in ``attrs.fields`` order, decide its bytes.  A field may carry a
layout hint, ``typing.Annotated[T, tr.layout.U16]`` (a :mod:`~trio_reactive.wire.layout` value
or the construct object it stands for); without one it gets a default:

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
them one, e.g. ``Annotated[str, tr.layout.Padded(16)]``).  A protocol side is a
u8 tag, the index of the message class in the side's declaration order, then the message; in
the fixed schema every message is zero-padded to the largest, so every record has one size.

Why construct: the schema is a readable, executable *specification* of the bytes, and the tests
hold the fast codecs to it.  Parsing with it is far too slow for the hot path (5-20 us per
message), so :mod:`.fixed` and :mod:`.variable` compile the same layout, a small tree of
nodes (:mod:`.nodes`, derived by :mod:`.hints`), into ``struct`` formats and generated Python; when
their fast path rejects a payload they ask the schema *why* (:meth:`SideSchema.why_undecodable`),
so error messages name the class, the field and the problem at no cost to good messages.

The schema is also stricter than construct's defaults, the way a network codec must be: a bool
byte other than 0/1, an enum value with no member, a count the remaining bytes cannot hold and
trailing bytes are all errors.  Tags are plain integers (never a construct ``Enum``), because a
*compiled* construct ``Switch`` on an ``Enum`` tag silently builds one byte.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Iterable
from typing import Any

import attrs
import construct as c  # type: ignore[import-untyped]

from ..errors import ProtocolDefinitionError
from .constructs import FieldError, _End, _problem
from .hints import layout_of
from .nodes import MAX_VARIANTS, Record

__all__ = ["SideSchema", "fixed_schema", "variable_schema"]


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

