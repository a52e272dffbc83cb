"""Layout hints for the binary codecs, typed: ``Annotated[int, tr.layout.U16]``.

A field of a message class travels in the binary codecs with a default layout for its type
(``int`` as a signed 64-bit little-endian integer, ``float`` as a 64-bit IEEE double, and so on:
see the book's appendix, "Wire formats, byte by byte").  A hint in ``typing.Annotated`` gives
it another one::

    @attrs.frozen
    class Move:
        player: Annotated[int, tr.layout.U8]
        x: Annotated[float, tr.layout.F32]
        name: Annotated[str, tr.layout.Padded(8)]

The textual codec ignores the hints.  Every value here is a :class:`Layout`, so code using them
type-checks under ``mypy --strict`` with nothing else installed; underneath, each is the
construct object the schema engine reads (``.construct``), and a construct object written
directly in ``Annotated`` works the same.

Integers and floats are little-endian, unless their name ends in ``BE``.
"""

from __future__ import annotations

from typing import Any, final

import construct as c  # type: ignore[import-untyped]

__all__ = [
    "F32",
    "F32BE",
    "F64",
    "F64BE",
    "I8",
    "I16",
    "I16BE",
    "I32",
    "I32BE",
    "I64",
    "I64BE",
    "U8",
    "U16",
    "U16BE",
    "U32",
    "U32BE",
    "U64",
    "U64BE",
    "Bytes",
    "Integer",
    "Layout",
    "Padded",
]


class Layout:
    """A layout hint: the bytes a field is in the binary codecs."""

    __slots__ = ("construct", "name")

    def __init__(self, name: str, construct: Any) -> None:
        self.name = name
        #: The construct object the schema engine reads.
        self.construct = construct

    def __repr__(self) -> str:
        return f"tr.layout.{self.name}"


@final
class Padded(Layout):
    """A ``str`` (or str enum) in exactly ``size`` bytes: its UTF-8, then NUL bytes up to ``size``.

    Decoding strips the trailing NULs, so a string that ends in NUL cannot be sent (it would come
    back without it): encoding it is an :class:`~trio_reactive.wire.errors.EncodeError`, as is
    one whose UTF-8 is longer than ``size``.
    """

    __slots__ = ()

    def __init__(self, size: int) -> None:
        super().__init__(f"Padded({size})", c.PaddedString(size, "utf8"))


@final
class Bytes(Layout):
    """A ``bytes`` field of exactly ``size`` bytes (any other length cannot be encoded)."""

    __slots__ = ()

    def __init__(self, size: int) -> None:
        super().__init__(f"Bytes({size})", c.Bytes(size))


@final
class Integer(Layout):
    """An ``int`` (or int enum) of ``size`` bytes, for widths with no name here (3, 5, ...)."""

    __slots__ = ()

    def __init__(self, size: int, *, signed: bool, big_endian: bool = False) -> None:
        name = f"Integer({size}, signed={signed}, big_endian={big_endian})"
        super().__init__(name, c.BytesInteger(size, signed=signed, swapped=not big_endian))


U8 = Layout("U8", c.Int8ul)
U16 = Layout("U16", c.Int16ul)
U32 = Layout("U32", c.Int32ul)
U64 = Layout("U64", c.Int64ul)
I8 = Layout("I8", c.Int8sl)
I16 = Layout("I16", c.Int16sl)
I32 = Layout("I32", c.Int32sl)
I64 = Layout("I64", c.Int64sl)
U16BE = Layout("U16BE", c.Int16ub)
U32BE = Layout("U32BE", c.Int32ub)
U64BE = Layout("U64BE", c.Int64ub)
I16BE = Layout("I16BE", c.Int16sb)
I32BE = Layout("I32BE", c.Int32sb)
I64BE = Layout("I64BE", c.Int64sb)
F32 = Layout("F32", c.Float32l)
F64 = Layout("F64", c.Float64l)
F32BE = Layout("F32BE", c.Float32b)
F64BE = Layout("F64BE", c.Float64b)
