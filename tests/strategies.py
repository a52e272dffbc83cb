"""Hypothesis strategies for message classes, derived from their attrs fields and layout hints.

Every codec must carry what these generate, so values stay inside what the binary layout hints
allow: an ``Annotated[int, construct.Int32ul]`` field gets integers in 0..2**32-1, an
``Annotated[float, construct.Float32l]`` field gets floats exactly representable in float32, a
``PaddedString(16, "utf8")`` field gets text whose UTF-8 form fits in 16 bytes with no NUL (the
padding), and ``Bytes(8)`` gets exactly 8 bytes.  Without a hint, ``int`` is a signed 64-bit
integer and ``float`` any finite double.

``strategy_for(tp)`` works for any type the models use (attrs classes, enums, lists, dicts,
optionals, datetimes); ``messages(side)`` draws any variant of one protocol side.
"""

from __future__ import annotations

import datetime
import enum
import functools
import types
import typing
from typing import Any

import attrs
import construct as c
from hypothesis import strategies as st

from trio_reactive.wire.model import variants_of

__all__ = ["INT64", "json_values", "messages", "strategy_for", "variants"]

INT64 = (-(2**63), 2**63 - 1)

#: struct format letters: integer ranges and float widths.
_INT_RANGES = {
    "b": (-(2**7), 2**7 - 1),
    "B": (0, 2**8 - 1),
    "h": (-(2**15), 2**15 - 1),
    "H": (0, 2**16 - 1),
    "i": (-(2**31), 2**31 - 1),
    "I": (0, 2**32 - 1),
    "l": (-(2**31), 2**31 - 1),
    "L": (0, 2**32 - 1),
    "q": INT64,
    "Q": (0, 2**64 - 1),
}
_FLOAT_WIDTHS: dict[str, typing.Literal[16, 32, 64]] = {"e": 16, "f": 32, "d": 64}

#: Kept small so examples stay fast and well under any test's max_message_size.
_MAX_ITEMS = 4
_MAX_TEXT = 12
_MAX_BYTES = 16

# Fixed offsets in whole minutes: what ISO 8601 writes and datetime.fromisoformat reads back.
_TIMEZONES = st.none() | st.builds(
    datetime.timezone,
    st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: datetime.timedelta(minutes=m)),
)


def _finite_floats(width: typing.Literal[16, 32, 64] = 64) -> st.SearchStrategy[float]:
    return st.floats(width=width, allow_nan=False, allow_infinity=False)


def _fits(text: str, limit: int, encoding: str) -> str:
    """``text`` cut to at most ``limit`` encoded bytes, at a character boundary."""
    return text.encode(encoding)[:limit].decode(encoding, errors="ignore")


def _padded_text(limit: int, encoding: str) -> st.SearchStrategy[str]:
    chars = st.characters(exclude_characters="\x00", codec=encoding)
    return st.text(chars, max_size=limit).map(lambda t: _fits(t, limit, encoding))


def _from_layout(hint: Any, base: Any) -> st.SearchStrategy[Any] | None:
    """A strategy honouring one construct layout hint, or None when the hint is not understood."""
    if isinstance(hint, c.FormatField):
        letter = hint.fmtstr[-1]
        if letter in _INT_RANGES and base is not bool:
            low, high = _INT_RANGES[letter]
            if _is_enum(base):
                return st.sampled_from([m for m in base if low <= m.value <= high])
            return st.integers(low, high)
        if letter in _FLOAT_WIDTHS:
            return _finite_floats(_FLOAT_WIDTHS[letter])
        if letter == "?":
            return st.booleans()
        return None
    if isinstance(hint, c.Bytes) and isinstance(hint.length, int):
        return st.binary(min_size=hint.length, max_size=hint.length)
    if isinstance(hint, c.StringEncoded):
        try:
            size = hint.sizeof()
        except c.SizeofError:  # variable length (PascalString, CString...): only the encoding
            return st.text(st.characters(codec=hint.encoding), max_size=_MAX_TEXT)
        return _padded_text(size, hint.encoding)
    if hint is c.Flag:
        return st.booleans()
    return None


def _is_enum(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, enum.Enum)


@functools.cache
def strategy_for(tp: Any) -> st.SearchStrategy[Any]:
    """A strategy for values of ``tp`` that every codec able to carry ``tp`` can carry."""
    if typing.get_origin(tp) is typing.Annotated:
        base, *hints = typing.get_args(tp)
        for hint in hints:
            found = _from_layout(hint, base)
            if found is not None:
                return found
        return strategy_for(base)
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is type(None) or tp is None:
        return st.none()
    if tp is bool:
        return st.booleans()
    if tp is int:
        return st.integers(*INT64)
    if tp is float:
        return _finite_floats()
    if tp is str:
        return st.text(max_size=_MAX_TEXT)
    if tp is bytes:
        return st.binary(max_size=_MAX_BYTES)
    if tp is datetime.datetime:
        return st.datetimes(
            min_value=datetime.datetime(1900, 1, 1),
            max_value=datetime.datetime(2200, 1, 1),
            timezones=_TIMEZONES,
        )
    if _is_enum(tp):
        return st.sampled_from(tp)
    if isinstance(tp, types.UnionType) or origin is typing.Union:
        return st.one_of([strategy_for(arg) for arg in args])
    if origin in (list, typing.Sequence, typing.MutableSequence) or tp is list:
        return st.lists(strategy_for(args[0] if args else int), max_size=_MAX_ITEMS)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return st.lists(strategy_for(args[0]), max_size=_MAX_ITEMS).map(tuple)
        return st.tuples(*(strategy_for(arg) for arg in args))
    if origin is dict or tp is dict:
        key, value = args if args else (str, int)
        return st.dictionaries(strategy_for(key), strategy_for(value), max_size=_MAX_ITEMS)
    if isinstance(tp, type) and attrs.has(tp):
        return _attrs_strategy(tp)
    raise TypeError(f"no strategy for {tp!r}")


def _attrs_strategy(cls: type) -> st.SearchStrategy[Any]:
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = {
        field.name: st.deferred(lambda tp=hints[field.name]: strategy_for(tp))
        for field in attrs.fields(cls)
        if field.init
    }
    return st.builds(cls, **fields)


def variants(side: Any) -> tuple[type, ...]:
    """The classes of a protocol side (``Ping | Quit``, a class, or a sequence of classes)."""
    return variants_of(side)


def messages(side: Any) -> st.SearchStrategy[Any]:
    """Any message of one protocol side, every variant equally likely to be picked."""
    return st.one_of([strategy_for(cls) for cls in variants_of(side)])


@functools.cache
def json_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    """Any JSON value (no NaN nor infinity), integers as wide as a decoder must read: what a
    peer may put where a field's value belongs."""
    return st.recursive(
        st.none()
        | st.booleans()
        | st.integers(-(2**63), 2**64 - 1)
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=8),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
        ),
        max_leaves=max_leaves,
    )
