"""Strict cattrs structure hooks.

cattrs is lenient by default (``"5"`` becomes ``5``, ``null`` the string ``"None"``); a peer's
bytes are untrusted input, so every hook here takes exactly one JSON type and says what came
instead.  :class:`StrictHooks` installs them on a converter (:mod:`.converter`).
"""

from __future__ import annotations

import base64
import binascii
import collections.abc
import datetime
import enum
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import cattrs
import cattrs.gen
from cattrs.cols import is_any_set, is_mapping, is_namedtuple, is_sequence
from cattrs.errors import (
    IterableValidationError,
    IterableValidationNote,
)

from ..typeinfo import strip_annotated
from .wording import Invalid, StructureHook, describe, short

__all__ = ["StrictHooks", "is_enum", "unstructure_bytes"]



def _structure_int(value: Any, _: Any) -> int:
    if type(value) is int:
        return value
    raise Invalid(f"expected an integer, got {describe(value)}")


def _structure_float(value: Any, _: Any) -> float:
    kind = type(value)
    if kind is float:
        return value  # type: ignore[no-any-return]
    if kind is int:  # JSON has one number type: 1 and 1.0 are the same value
        return float(value)
    raise Invalid(f"expected a number, got {describe(value)}")


def _structure_bool(value: Any, _: Any) -> bool:
    if value is True or value is False:
        return value
    raise Invalid(f"expected true or false, got {describe(value)}")


def _structure_str(value: Any, _: Any) -> str:
    if type(value) is str:
        return value
    raise Invalid(f"expected a string, got {describe(value)}")


def _structure_bytes(value: Any, _: Any) -> bytes:
    """Bytes as a base64 string, or as serde_json writes ``Vec<u8>``: an array of numbers."""
    kind = type(value)
    if kind is str:
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            pass
    elif kind is list and {*map(type, value)} <= {int}:
        try:
            return bytes(value)
        except ValueError:
            pass
    raise Invalid(f"expected a base64 string or an array of bytes, got {describe(value)}")


def unstructure_bytes(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _structure_datetime(value: Any, _: Any) -> datetime.datetime:
    if type(value) is str:
        try:
            return datetime.datetime.fromisoformat(value)
        except ValueError:
            pass
    raise Invalid(f"expected an ISO 8601 datetime string, got {describe(value)}")


def _structure_date(value: Any, _: Any) -> datetime.date:
    if type(value) is str:
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            pass
    raise Invalid(f"expected an ISO 8601 date string, got {describe(value)}")


def _enum_hook(cls: type[enum.Enum]) -> StructureHook:
    """A dict lookup by value, about 7x faster than ``cls(value)`` and strict about the type."""
    name = cls.__name__
    allowed = ", ".join(short(repr(member.value)) for member in cls)
    if all(type(member.value) is int for member in cls):
        allowed += " or by name " + ", ".join(short(repr(member.name)) for member in cls)

    def invalid(value: Any) -> Invalid:
        return Invalid(f"expected a {name} (one of {allowed}), got {describe(value)}")

    if issubclass(cls, enum.Flag):  # combinations are valid values without being members

        def structure_flag(value: Any, _: Any) -> Any:
            if type(value) is int:
                try:
                    return cls(value)
                except ValueError:
                    pass
            raise invalid(value)

        return structure_flag

    members: dict[Any, enum.Enum] = {member.value: member for member in cls}
    if all(type(value) is int for value in members):  # serde_json writes a C-like enum by name
        members.update({member.name: member for member in cls if member.name not in members})
    value_types = frozenset(type(value) for value in members)

    def structure_enum(value: Any, _: Any) -> Any:
        if type(value) in value_types:
            try:
                return members[value]
            except KeyError:
                pass
        raise invalid(value)

    return structure_enum


def is_enum(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, enum.Enum)


def is_array(tp: Any) -> bool:
    """Types whose JSON form is an array: lists, sequences, tuples and sets (not str/bytes)."""
    if is_namedtuple(tp):
        return False
    return is_sequence(tp) or is_any_set(tp) or typing.get_origin(tp) is tuple


def is_plain_attrs(tp: Any) -> bool:
    return isinstance(tp, type) and attrs.has(tp) and not typing.get_args(tp)


def is_optional(tp: Any) -> bool:
    args = typing.get_args(tp)
    is_union = isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union
    return is_union and len(args) == 2 and type(None) in args


def is_fixed_tuple(tp: Any) -> bool:
    """``tuple[int, str]``: an array of exactly that many items (``tuple[int, ...]`` is not)."""
    args = typing.get_args(tp)
    if (typing.get_origin(tp) or tp) is not tuple or not args:
        return False
    return not (len(args) == 2 and args[1] is Ellipsis)


def array_form(tp: Any) -> tuple[Any, Callable[[list[Any]], Any]]:
    """The item type of any other array type, and what makes its value from a list of items."""
    origin = typing.get_origin(tp) or tp
    args = typing.get_args(tp)
    build: Callable[[list[Any]], Any] = list
    if origin is tuple:
        build = tuple
    elif is_any_set(tp):
        build = frozenset if origin in (frozenset, collections.abc.Set) else set
    return (args[0] if args else Any), build


def mapping_form(tp: Any) -> tuple[Any, Any]:
    """The key and value types of a mapping type."""
    args = typing.get_args(tp)
    return (args[0], args[1]) if len(args) == 2 else (Any, Any)


def _structure_items(
    tp: Any, value: list[Any], hooks: Sequence[tuple[StructureHook, Any]]
) -> list[Any]:
    out: list[Any] = []
    errors: list[Exception] = []
    for index, (item, (hook, item_type)) in enumerate(zip(value, hooks, strict=True)):
        try:
            out.append(hook(item, item_type))
        except Exception as exc:
            note = IterableValidationNote(f"Structuring {tp!r} @ index {index}", index, item_type)
            exc.__notes__ = [*getattr(exc, "__notes__", []), note]
            errors.append(exc)
    if errors:
        raise IterableValidationError(f"While structuring {tp!r}", errors, tp)
    return out


_EXACT: dict[Any, StructureHook] = {
    int: _structure_int,
    float: _structure_float,
    bool: _structure_bool,
    str: _structure_str,
    bytes: _structure_bytes,
    datetime.datetime: _structure_datetime,
    datetime.date: _structure_date,
}


class StrictHooks:
    """Strict structure hooks, installed on a cattrs converter as hook factories.

    cattrs resolves ``int``, ``float``, ``str``, ``bytes`` and ``datetime`` through
    ``functools.singledispatch``, which runs before any predicate and also matches subclasses
    (an ``IntEnum`` field would get the ``int`` hook).  So rather than re-registering those
    classes, the factories here build attrs classes, arrays, mappings and optionals themselves and
    pick each field's or element's hook with :meth:`hook_for`, which knows the strict ones.
    Everything else (other unions, named tuples, user-registered types) stays with cattrs.
    """

    def __init__(self, converter: cattrs.Converter) -> None:
        self.converter = converter
        self._enums: dict[type, StructureHook] = {}

    def install(self) -> None:
        register = self.converter.register_structure_hook_factory
        register(is_optional, self.optional_hook)
        register(is_mapping, self.mapping_hook)
        register(is_array, self.array_hook)
        register(is_plain_attrs, self.attrs_hook)

    def hook_for(self, tp: Any) -> StructureHook:
        base = strip_annotated(tp)
        try:
            exact = _EXACT.get(base)
        except TypeError:  # an unhashable type expression: not one of ours
            exact = None
        if exact is not None:
            return exact
        if is_enum(base):
            hook = self._enums.get(base)
            if hook is None:
                hook = self._enums[base] = _enum_hook(base)
            return hook
        return self.converter.get_structure_hook(base)

    def attrs_hook(self, cls: Any) -> StructureHook:
        overrides: dict[str, Any] = {}
        try:
            hints = typing.get_type_hints(cls, include_extras=True)
        except Exception:
            hints = {}
        for field in attrs.fields(cls):
            tp = hints.get(field.name)
            if tp is not None and not isinstance(tp, typing.TypeVar):
                overrides[field.name] = cattrs.gen.override(struct_hook=self.hook_for(tp))
        return cattrs.gen.make_dict_structure_fn(cls, self.converter, **overrides)

    def optional_hook(self, tp: Any) -> StructureHook:
        args = typing.get_args(tp)
        inner_type = args[0] if args[1] is type(None) else args[1]
        inner = self.hook_for(inner_type)

        def structure_optional(value: Any, _: Any) -> Any:
            return None if value is None else inner(value, inner_type)

        return structure_optional

    def array_hook(self, tp: Any) -> StructureHook:
        """Only a JSON array is accepted: cattrs would iterate a string or an object's keys."""
        if is_fixed_tuple(tp):
            args = typing.get_args(tp)
            element_hooks = [(self.hook_for(arg), arg) for arg in args]
            count = len(args)

            def structure_tuple(value: Any, _: Any) -> Any:
                if type(value) is not list or len(value) != count:
                    raise Invalid(f"expected an array of {count}, got {describe(value)}")
                return tuple(_structure_items(tp, value, element_hooks))

            return structure_tuple
        element, build = array_form(tp)
        element_hook = self.hook_for(element)

        def structure_array(value: Any, _: Any) -> Any:
            if type(value) is not list:
                raise Invalid(f"expected an array, got {describe(value)}")
            result = _structure_items(tp, value, [(element_hook, element)] * len(value))
            return result if build is list else build(result)

        return structure_array

    def key_hook(self, key_type: Any) -> StructureHook:
        """JSON keys are strings: integer keys (and int-valued enums) arrive as their digits."""
        key_type = strip_annotated(key_type)
        hook = self.hook_for(key_type)
        int_valued = is_enum(key_type) and all(type(m.value) is int for m in key_type)
        if key_type is not int and not int_valued:
            return hook

        names = {member.name for member in key_type} if int_valued else set()

        def structure_int_key(value: Any, tp: Any) -> Any:
            if type(value) is str:
                if value in names:  # serde_json keys a C-like enum by its variant's name
                    return hook(value, tp)
                try:
                    number = int(value)
                except ValueError:
                    pass
                else:
                    if str(number) == value:
                        return hook(number, tp)
            raise Invalid(f"expected an integer key, got {describe(value)}")

        return structure_int_key

    def mapping_hook(self, tp: Any) -> StructureHook:
        """Only a JSON object is accepted; a bad key or value is named."""
        key_type, value_type = mapping_form(tp)
        key_hook = self.key_hook(key_type)
        value_hook = self.hook_for(value_type)

        def structure_mapping(value: Any, _: Any) -> dict[Any, Any]:
            if type(value) is not dict:
                raise Invalid(f"expected an object, got {describe(value)}")
            out: dict[Any, Any] = {}
            errors: list[Exception] = []
            for key, item in value.items():
                try:
                    out[key_hook(key, key_type)] = value_hook(item, value_type)
                except Exception as exc:
                    note = IterableValidationNote(
                        f"Structuring {tp!r} @ key {key!r}", key, value_type
                    )
                    exc.__notes__ = [*getattr(exc, "__notes__", []), note]
                    errors.append(exc)
            if errors:
                raise IterableValidationError(f"While structuring {tp!r}", errors, tp)
            return out

        return structure_mapping
