"""The layout tree: what a message class is on the wire, as the binary serdes compile it.

:mod:`.hints` derives one :class:`Record` per message class from its type hints; every node
knows its size (when fixed) and carries its construct form (the reference the tests hold the
fast paths to) and the conversions its fast path applies (:data:`Step`).
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Mapping
from typing import Any, TypeAlias

import attrs

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
    "Step",
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


