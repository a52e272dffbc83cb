"""What a protocol side is made of: a union of attrs classes, read once when a codec is built."""

from __future__ import annotations

import types
import typing
from collections.abc import Sequence
from typing import Any

import attrs

from .errors import ProtocolDefinitionError
from .typeinfo import check_distinct_names

__all__ = ["MessageSide", "variants_of"]

#: One direction of a protocol: an attrs class, a union of them (``Ping | Quit``), or a sequence;
#: or ``bytes``, the side of a :class:`~trio_reactive.wire.codec.Raw` codec.
MessageSide = Any


def variants_of(side: MessageSide) -> tuple[type, ...]:
    """The attrs classes that make up one side of a protocol, in declaration order.

    Accepts a single class, a ``typing.Union``/``X | Y`` union, or a sequence of classes, and
    refuses anything that is not an attrs class, naming it.  ``bytes`` alone is a side too: the
    chunks of a raw byte stream.
    """
    if side is bytes:
        return (bytes,)
    origin: Any = typing.get_origin(side)
    if origin is typing.Union or origin is types.UnionType:
        classes: Sequence[Any] = typing.get_args(side)
    elif isinstance(side, (list, tuple)):
        classes = side
    else:
        classes = (side,)
    if not classes:
        raise ProtocolDefinitionError("a protocol side needs at least one message class")
    seen: list[type] = []
    for cls in classes:
        if not (isinstance(cls, type) and attrs.has(cls)):
            raise ProtocolDefinitionError(
                f"{cls!r} is not an attrs class: the messages of a protocol side are attrs "
                "classes (or the side is bytes, for the Raw codec)"
            )
        if cls in seen:
            raise ProtocolDefinitionError(f"{cls.__qualname__} appears twice in one protocol side")
        seen.append(cls)
    check_distinct_names(seen)
    return tuple(seen)
