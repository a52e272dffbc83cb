"""The textual default serde: one JSON object per message, tagged by the class name.

The wire form is Rust serde's default ("externally tagged") enum form, so a peer written with
serde, or by hand, reads and writes it without a schema: ``{"Ping":{"n":1}}``, and ``{"Quit":{}}``
for a class without fields.  Every message is tagged, even when a side has a single class, so a
protocol can grow a variant without changing the bytes of the existing ones.

Values go through one cattrs converter (the orjson preconf one, extra keys forbidden) and orjson.
The converter is made *strict* where cattrs is lenient by default, because a peer's bytes are
untrusted input: cattrs would turn ``"5"`` into ``5``, ``1.5`` into ``1``, ``"no"`` into ``True``,
``null`` into the string ``"None"`` and the string ``"ab"`` into the list ``["a", "b"]``.  Here a
value of the wrong JSON type is a :class:`DecodeError` that names the field, the expected type and
what came instead.  Other choices on the wire:

* ``bytes`` are standard, padded base64 (the preconf converter would use base85, which few other
  languages read out of the box);
* ``datetime``/``date`` are ISO 8601 strings (written by orjson, read by ``fromisoformat``);
* enums travel as their values;
* ``typing.Annotated`` metadata (binary layout hints such as ``construct.Int32ul``) is ignored;
* NaN and infinities have no JSON form: orjson refuses them on input, and encoding refuses them
  with :class:`EncodeError` instead of letting orjson write ``null``.

Everything per class is worked out once in ``__init__``: the structure and unstructure functions,
whether a class can hold a float, and generated encoding code (see :class:`_EncoderSource`) and
structure functions (see :class:`_DecoderSource`).  Decoding a message is ``orjson.loads``, a dict
lookup by tag and the generated function, which hands anything unusual to the strict cattrs one.
Errors are explained only on the slow path, after the fast path has failed, so naming them costs
nothing when frames are good.
"""

from __future__ import annotations

import base64
import binascii
import collections.abc
import datetime
import enum
import inspect
import math
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
import cattrs
import cattrs.gen
import orjson
from cattrs.cols import is_any_set, is_mapping, is_namedtuple, is_sequence
from cattrs.errors import (
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)
from cattrs.fns import identity
from cattrs.preconf.orjson import make_converter

from ..codegen import execute
from ..errors import DecodeError, EncodeError, ProtocolDefinitionError

__all__ = ["JsonSerde", "make_json_converter"]

_PREVIEW = 60
_StructureHook = Callable[[Any, Any], Any]
_Encode = Callable[[Any], bytes]


class _Invalid(ValueError):
    """A value of the wrong JSON type or shape; its message is already phrased for the reader."""


# --------------------------------------------------------------------------------------------
# Describing values and types in error messages (slow path only)


def _short(text: str) -> str:
    return text if len(text) <= _PREVIEW else text[: _PREVIEW - 3] + "..."


def _describe(value: Any) -> str:
    """Name a decoded JSON value by its JSON type, with a preview of scalars."""
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return f"number {_short(repr(value))}"
    if isinstance(value, str):
        return f"string {_short(repr(value))}"
    if isinstance(value, list):
        return f"array of {len(value)}"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _strip_annotated(tp: Any) -> Any:
    while typing.get_origin(tp) is typing.Annotated:
        tp = tp.__origin__
    return tp


def _type_name(tp: Any) -> str:
    tp = _strip_annotated(tp)
    if isinstance(tp, type) and not typing.get_args(tp):
        return tp.__name__
    return repr(tp).replace("typing.", "")


def _optional_inner(tp: Any) -> Any:
    """``X`` for ``X | None`` (and ``Optional[X]``), else ``tp`` itself, Annotated stripped."""
    tp = _strip_annotated(tp)
    args = typing.get_args(tp)
    if type(None) in args and len(args) == 2:
        return _strip_annotated(args[0] if args[1] is type(None) else args[1])
    return tp


def _format_exception(exc: BaseException, tp: Any) -> str:
    """Phrase one structuring failure (``cattrs.transform_error`` adds where it happened)."""
    if isinstance(exc, _Invalid):
        return str(exc)
    if isinstance(exc, ForbiddenExtraKeysError):
        keys = ", ".join(sorted(repr(key) for key in exc.extra_fields))
        return f"unexpected key(s) {_short(keys)}"
    if isinstance(exc, KeyError):
        return "missing required field"
    inner = _optional_inner(tp)
    if isinstance(exc, (AttributeError, TypeError)) and attrs.has(inner):
        # The generated attrs hook indexes and calls .keys() on its input: it was not an object.
        return f"expected an object for {inner.__name__}"
    if tp is not None:
        return f"invalid {_type_name(tp)}: {type(exc).__name__}: {_short(str(exc))}"
    return f"{type(exc).__name__}: {_short(str(exc))}"


def _explain(exc: BaseException, path: str) -> str:
    if isinstance(exc, (ClassValidationError, IterableValidationError)):
        errors = cattrs.transform_error(exc, path, _format_exception)
    else:
        errors = [f"{_format_exception(exc, None)} @ {path}"]
    shown = "; ".join(errors[:5])
    return shown + (f"; and {len(errors) - 5} more" if len(errors) > 5 else "")


def _first_non_finite(value: Any, path: str) -> str | None:
    """Where the first NaN or infinity sits in unstructured data, or None if there is none."""
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{path} = {value!r}"
    if isinstance(value, dict):
        for key, item in value.items():
            found = _first_non_finite(item, f"{path}.{key}")
            if found is not None:
                return found
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found = _first_non_finite(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


# --------------------------------------------------------------------------------------------
# Strict structure hooks


def _structure_int(value: Any, _: Any) -> int:
    if type(value) is int:
        return value
    raise _Invalid(f"expected an integer, got {_describe(value)}")


def _structure_float(value: Any, _: Any) -> float:
    kind = type(value)
    if kind is float:
        return value  # type: ignore[no-any-return]
    if kind is int:  # JSON has one number type: 1 and 1.0 are the same value
        return float(value)
    raise _Invalid(f"expected a number, got {_describe(value)}")


def _structure_bool(value: Any, _: Any) -> bool:
    if value is True or value is False:
        return value
    raise _Invalid(f"expected true or false, got {_describe(value)}")


def _structure_str(value: Any, _: Any) -> str:
    if type(value) is str:
        return value
    raise _Invalid(f"expected a string, got {_describe(value)}")


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
    raise _Invalid(f"expected a base64 string or an array of bytes, got {_describe(value)}")


def _unstructure_bytes(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _structure_datetime(value: Any, _: Any) -> datetime.datetime:
    if type(value) is str:
        try:
            return datetime.datetime.fromisoformat(value)
        except ValueError:
            pass
    raise _Invalid(f"expected an ISO 8601 datetime string, got {_describe(value)}")


def _structure_date(value: Any, _: Any) -> datetime.date:
    if type(value) is str:
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            pass
    raise _Invalid(f"expected an ISO 8601 date string, got {_describe(value)}")


def _enum_hook(cls: type[enum.Enum]) -> _StructureHook:
    """A dict lookup by value, about 7x faster than ``cls(value)`` and strict about the type."""
    name = cls.__name__
    allowed = ", ".join(_short(repr(member.value)) for member in cls)
    if all(type(member.value) is int for member in cls):
        allowed += " or by name " + ", ".join(_short(repr(member.name)) for member in cls)

    def invalid(value: Any) -> _Invalid:
        return _Invalid(f"expected a {name} (one of {allowed}), got {_describe(value)}")

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


def _is_enum(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, enum.Enum)


def _is_array(tp: Any) -> bool:
    """Types whose JSON form is an array: lists, sequences, tuples and sets (not str/bytes)."""
    if is_namedtuple(tp):
        return False
    return is_sequence(tp) or is_any_set(tp) or typing.get_origin(tp) is tuple


def _is_plain_attrs(tp: Any) -> bool:
    return isinstance(tp, type) and attrs.has(tp) and not typing.get_args(tp)


def _is_optional(tp: Any) -> bool:
    args = typing.get_args(tp)
    is_union = isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union
    return is_union and len(args) == 2 and type(None) in args


def _is_fixed_tuple(tp: Any) -> bool:
    """``tuple[int, str]``: an array of exactly that many items (``tuple[int, ...]`` is not)."""
    args = typing.get_args(tp)
    if (typing.get_origin(tp) or tp) is not tuple or not args:
        return False
    return not (len(args) == 2 and args[1] is Ellipsis)


def _array_form(tp: Any) -> tuple[Any, Callable[[list[Any]], Any]]:
    """The item type of any other array type, and what makes its value from a list of items."""
    origin = typing.get_origin(tp) or tp
    args = typing.get_args(tp)
    build: Callable[[list[Any]], Any] = list
    if origin is tuple:
        build = tuple
    elif is_any_set(tp):
        build = frozenset if origin in (frozenset, collections.abc.Set) else set
    return (args[0] if args else Any), build


def _mapping_form(tp: Any) -> tuple[Any, Any]:
    """The key and value types of a mapping type."""
    args = typing.get_args(tp)
    return (args[0], args[1]) if len(args) == 2 else (Any, Any)


def _structure_items(
    tp: Any, value: list[Any], hooks: Sequence[tuple[_StructureHook, Any]]
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


_EXACT: dict[Any, _StructureHook] = {
    int: _structure_int,
    float: _structure_float,
    bool: _structure_bool,
    str: _structure_str,
    bytes: _structure_bytes,
    datetime.datetime: _structure_datetime,
    datetime.date: _structure_date,
}


class _StrictHooks:
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
        self._enums: dict[type, _StructureHook] = {}

    def install(self) -> None:
        register = self.converter.register_structure_hook_factory
        register(_is_optional, self.optional_hook)
        register(is_mapping, self.mapping_hook)
        register(_is_array, self.array_hook)
        register(_is_plain_attrs, self.attrs_hook)

    def hook_for(self, tp: Any) -> _StructureHook:
        base = _strip_annotated(tp)
        try:
            exact = _EXACT.get(base)
        except TypeError:  # an unhashable type expression: not one of ours
            exact = None
        if exact is not None:
            return exact
        if _is_enum(base):
            hook = self._enums.get(base)
            if hook is None:
                hook = self._enums[base] = _enum_hook(base)
            return hook
        return self.converter.get_structure_hook(base)

    def attrs_hook(self, cls: Any) -> _StructureHook:
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

    def optional_hook(self, tp: Any) -> _StructureHook:
        args = typing.get_args(tp)
        inner_type = args[0] if args[1] is type(None) else args[1]
        inner = self.hook_for(inner_type)

        def structure_optional(value: Any, _: Any) -> Any:
            return None if value is None else inner(value, inner_type)

        return structure_optional

    def array_hook(self, tp: Any) -> _StructureHook:
        """Only a JSON array is accepted: cattrs would iterate a string or an object's keys."""
        if _is_fixed_tuple(tp):
            args = typing.get_args(tp)
            element_hooks = [(self.hook_for(arg), arg) for arg in args]
            count = len(args)

            def structure_tuple(value: Any, _: Any) -> Any:
                if type(value) is not list or len(value) != count:
                    raise _Invalid(f"expected an array of {count}, got {_describe(value)}")
                return tuple(_structure_items(tp, value, element_hooks))

            return structure_tuple
        element, build = _array_form(tp)
        element_hook = self.hook_for(element)

        def structure_array(value: Any, _: Any) -> Any:
            if type(value) is not list:
                raise _Invalid(f"expected an array, got {_describe(value)}")
            result = _structure_items(tp, value, [(element_hook, element)] * len(value))
            return result if build is list else build(result)

        return structure_array

    def key_hook(self, key_type: Any) -> _StructureHook:
        """JSON keys are strings: integer keys (and int-valued enums) arrive as their digits."""
        key_type = _strip_annotated(key_type)
        hook = self.hook_for(key_type)
        int_valued = _is_enum(key_type) and all(type(m.value) is int for m in key_type)
        if key_type is not int and not int_valued:
            return hook

        def structure_int_key(value: Any, tp: Any) -> Any:
            if type(value) is str:
                try:
                    number = int(value)
                except ValueError:
                    pass
                else:
                    if str(number) == value:
                        return hook(number, tp)
            raise _Invalid(f"expected an integer key, got {_describe(value)}")

        return structure_int_key

    def mapping_hook(self, tp: Any) -> _StructureHook:
        """Only a JSON object is accepted; a bad key or value is named."""
        key_type, value_type = _mapping_form(tp)
        key_hook = self.key_hook(key_type)
        value_hook = self.hook_for(value_type)

        def structure_mapping(value: Any, _: Any) -> dict[Any, Any]:
            if type(value) is not dict:
                raise _Invalid(f"expected an object, got {_describe(value)}")
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


def make_json_converter(*, serde_json: bool = False) -> cattrs.Converter:
    """The converter :class:`JsonSerde` uses by default: orjson preconf, strict, base64 bytes.

    Exposed so that users can register hooks for their own types on a converter that already
    behaves like the default, then pass it as ``JsonSerde(..., converter=...)``.  With
    ``serde_json``, bytes are written as arrays of numbers and int enums by member name, as
    Rust's serde_json writes ``Vec<u8>`` and C-like enums; both forms are read either way.
    """
    converter = make_converter(forbid_extra_keys=True)
    if serde_json:
        converter.register_unstructure_hook(bytes, list)
        converter.register_unstructure_hook_factory(_is_int_enum, lambda _: _enum_name)
    else:
        converter.register_unstructure_hook(bytes, _unstructure_bytes)
    converter.register_unstructure_hook_factory(
        _has_enum_keys,
        lambda tp: converter.gen_unstructure_mapping(tp, key_handler=_enum_key),
    )
    _StrictHooks(converter).install()
    return converter


def _has_enum_keys(tp: Any) -> bool:
    return is_mapping(tp) and _is_enum(_strip_annotated(_mapping_form(tp)[0]))


def _enum_key(member: enum.Enum, _: Any = None) -> str:
    """An enum as a JSON object key: its value, as ``_StrictHooks.key_hook`` reads it back.

    The orjson preset keys any enum that is not a ``str`` subclass by ``str(member)``
    (``"Size.BIG"``), which no enum structures from.  (cattrs calls a key handler with the key
    alone; its annotation names a second, optional argument.)
    """
    value = member.value
    return value if isinstance(value, str) else str(value)


def _is_int_enum(tp: Any) -> bool:
    return _is_enum(tp) and all(type(member.value) is int for member in tp)


def _enum_name(member: enum.Enum) -> str:
    return member.name


#: The default converters, plain and serde_json's, built on first use and then reused (cattrs
#: caches the hooks it makes on them).
_default_converters: dict[bool, cattrs.Converter] = {}


def _shared_converter(serde_json: bool) -> cattrs.Converter:
    converter = _default_converters.get(serde_json)
    if converter is None:
        converter = _default_converters[serde_json] = make_json_converter(serde_json=serde_json)
    return converter


# --------------------------------------------------------------------------------------------
# Generated structure functions (default converter only)


#: JSON scalars that a field takes as they are when their Python type is exactly the field's.
_AS_IS = frozenset({int, float, bool, str})


class _DecoderSource:
    """Generated structure functions: one per class, building the instance straight from the dict.

    The strict function cattrs generates calls a Python hook per field, each in its own ``try``,
    builds a dict of the values and checks for extra keys with a set difference: about 1.3 µs
    for four scalar fields, against 0.6 µs for reading them and calling the class.  The generated
    function reads every field and tests, in one condition, what it can take without a call:

    * ``int``, ``float``, ``bool`` and ``str`` values of exactly that type (``type(v) is int``),
      which their strict hooks return unchanged, and ``None`` for an optional;
    * arrays and string-keyed objects of such scalars, all items tested at once
      (``{*map(type, v)} <= {int}``), and of attrs classes, each item through their function.

    Nested attrs classes go through their own generated function, any other field through its
    strict hook, called directly.  The class is called with positional arguments when its
    ``__init__`` takes them (about 0.15 µs cheaper than keywords).  An object with exactly as
    many keys as the class has fields, all of them present, has no extra key.

    Anything else (a missing or extra key, a bool or a float where an int is expected, an int
    where a float is) goes to the class's strict function.  So the generated function returns
    what the strict one returns, and raises when it raises, though not necessarily the same
    exception (a missing key among extra ones is a ``KeyError``): callers that need the error
    explained run the strict function again.

    Only for the default converter, whose hooks are known: a user's converter may structure a
    class from anything.
    """

    def __init__(self, hooks: _StrictHooks) -> None:
        self.hooks = hooks
        self.namespace: dict[str, Any] = {}
        self.names: dict[type, str] = {}
        self.pending: list[type] = []
        self.code: list[str] = []

    def build(self, classes: Sequence[type]) -> dict[type, _StructureHook]:
        """The structure function of each class (and of the attrs classes nested in them)."""
        names = [self.name_for(cls) for cls in classes]
        while self.pending:
            self._add(self.pending.pop())
        execute(self.code, "json decoders", self.namespace)
        return {cls: self.namespace[name] for cls, name in zip(classes, names, strict=True)}

    def name_for(self, cls: type) -> str:
        """The name the function of ``cls`` has in the generated code; generated once, later."""
        name = self.names.get(cls)
        if name is None:
            name = self.names[cls] = f"structure_{len(self.names)}"
            self.pending.append(cls)
        return name

    def _bind(self, value: Any) -> str:
        name = f"c{len(self.namespace)}"
        self.namespace[name] = value
        return name

    def _add(self, cls: type) -> None:
        name = self.names[cls]
        strict = self._bind(self.hooks.converter.get_structure_hook(cls))
        if not _is_plain_attrs(cls):  # not structured by _StrictHooks.attrs_hook
            self.code.append(f"{name} = {strict}")
            return
        fields = [field for field in attrs.fields(cls) if field.init]
        try:
            hints = typing.get_type_hints(cls, include_extras=True)
        except Exception:
            hints = {}
        types_ = [hints.get(field.name) for field in fields]
        if any(tp is None or isinstance(tp, typing.TypeVar) for tp in types_):
            # cattrs structures these fields its own way: keep its function.
            self.code.append(f"{name} = {strict}")
            return
        reads: list[str] = []
        tests: list[str] = []
        values: list[str] = []
        for index, (field, tp) in enumerate(zip(fields, types_, strict=True)):
            variable = f"v{index}"
            reads.append(f"        {variable} = o[{field.name!r}]")
            test, value = self._value(tp, variable)
            if test is not None:
                tests.append(test)
            values.append(value)
        positional = _positional_count(cls, fields)
        keywords = zip(fields[positional:], values[positional:], strict=True)
        arguments = values[:positional] + [f"{field.alias}={value}" for field, value in keywords]
        build = f"return {self._bind(cls)}({', '.join(arguments)})"
        if tests:
            build = f"if {' and '.join(tests)}:\n            {build}"
        self.code += [
            f"def {name}(o, _):",
            f"    if type(o) is dict and len(o) == {len(fields)}:",
            *reads,
            f"        {build}",
            f"    return {strict}(o, _)",
        ]

    def _value(self, tp: Any, variable: str) -> tuple[str | None, str]:
        """A test that ``variable`` can be taken the fast way (None: no test), and the value."""
        base = _strip_annotated(tp)
        if isinstance(base, type) and base in _AS_IS:
            return f"type({variable}) is {base.__name__}", variable
        if _is_optional(base):
            test, value = self._value(_optional_inner(base), variable)
            if test is not None:
                test = f"({variable} is None or {test})"
            if value != variable:
                value = f"(None if {variable} is None else {value})"
            return test, value
        if _is_plain_attrs(base):
            return None, f"{self.name_for(base)}({variable}, {self._bind(tp)})"
        found: tuple[str, str] | None = None
        if _is_array(base) and not _is_fixed_tuple(base):
            found = self._collection(variable, *_array_form(base))
        elif is_mapping(base) and _strip_annotated(_mapping_form(base)[0]) is str:
            found = self._collection(variable, _mapping_form(base)[1], None)
        if found is not None:
            return found
        hook = self._bind(self.hooks.hook_for(tp))
        return None, f"{hook}({variable}, {self._bind(tp)})"

    def _collection(
        self, variable: str, item_type: Any, build: Callable[[list[Any]], Any] | None
    ) -> tuple[str, str] | None:
        """An array (``build`` makes its value) or a string-keyed object (``build`` is None).

        Items of a scalar type are tested all at once, ``{*map(type, v)} <= {int}``, and the
        array or object is the value (the strict hooks build an equal copy of it); items of an
        attrs class go through its function.  None for any other item type: the strict hook.
        """
        item = _strip_annotated(item_type)
        kind, items = ("list", variable) if build is not None else ("dict", f"{variable}.values()")
        if isinstance(item, type) and item in _AS_IS:
            types_ = self._bind(frozenset({item}))
            test = f"type({variable}) is {kind} and {{*map(type, {items})}} <= {types_}"
            value = variable
        elif _is_plain_attrs(item):
            call = f"{self.name_for(item)}(item, {self._bind(item_type)})"
            test = f"type({variable}) is {kind}"
            if build is None:
                value = f"{{key: {call} for key, item in {variable}.items()}}"
            else:
                value = f"[{call} for item in {variable}]"
        else:
            return None
        if build is not None and build is not list:
            value = f"{self._bind(build)}({value})"
        return test, value


def _positional_count(cls: type, fields: Sequence[attrs.Attribute[Any]]) -> int:
    """How many leading fields can be passed by position, exactly as by keyword (their alias).

    True of the non-keyword-only fields when ``cls(...)`` goes to an ``__init__`` whose first
    parameters are their aliases, in order, as attrs writes it; else everything goes by keyword,
    as cattrs passes it.
    """
    target: Any = cls
    if type(cls).__call__ is not type.__call__ or target.__new__ is not object.__new__:
        return 0
    try:
        parameters = list(inspect.signature(target.__init__).parameters.values())[1:]
    except (TypeError, ValueError):
        return 0
    count = 0
    for field, parameter in zip(fields, parameters, strict=False):
        if field.kw_only or parameter.name != field.alias:
            break
        if parameter.kind is not inspect.Parameter.POSITIONAL_OR_KEYWORD:
            break
        count += 1
    return count


# --------------------------------------------------------------------------------------------
# Which classes need the NaN check on encode


_NO_FLOAT = (
    int,
    str,
    bool,
    bytes,
    bytearray,
    type(None),
    datetime.datetime,
    datetime.date,
    datetime.time,
    datetime.timedelta,
)


def _may_hold_float(tp: Any, seen: set[type]) -> bool:
    """Whether a value of type ``tp`` can contain a float somewhere; True when unsure."""
    tp = _strip_annotated(tp)
    if tp is float:
        return True
    if tp in _NO_FLOAT:
        return False
    if isinstance(tp, type) and not typing.get_args(tp):
        if issubclass(tp, enum.Enum):
            return any(isinstance(member.value, float) for member in tp)
        if attrs.has(tp):
            if tp in seen:
                return False
            seen.add(tp)
            try:
                hints = typing.get_type_hints(tp, include_extras=True)
            except Exception:
                return True
            return any(_may_hold_float(hints.get(f.name, Any), seen) for f in attrs.fields(tp))
        if issubclass(tp, float):
            return True
        return not issubclass(tp, _NO_FLOAT)
    args = typing.get_args(tp)
    if typing.get_origin(tp) is typing.Literal:
        return any(isinstance(arg, float) for arg in args)
    if args:
        return any(_may_hold_float(arg, seen) for arg in args if arg is not Ellipsis)
    return True  # Any, a TypeVar, a bare container: cannot tell


def _describe_message(message: Any) -> str:
    return _short(repr(message))


def _float_fields(cls: type) -> tuple[tuple[str, ...], bool]:
    """A class's top-level ``float`` fields, and whether any other field may hold a float."""
    try:
        hints = typing.get_type_hints(cls, include_extras=True)
    except Exception:
        return (), True
    direct: list[str] = []
    deep = False
    for field in attrs.fields(cls):
        tp = hints.get(field.name, Any)
        if _strip_annotated(tp) is float:
            direct.append(field.name)
        elif _may_hold_float(tp, {cls}):
            deep = True
    return tuple(direct), deep


def _inline_fields(cls: type, converter: cattrs.Converter) -> tuple[str, ...] | None:
    """The fields of ``cls`` if cattrs would pass every one through unchanged, else None.

    Then the encoder can build the dict itself (``{"n": m.n}``) and skip a call to the generated
    unstructure function, which does exactly that.  Only for the default converter, whose class
    hooks are known to be cattrs' own: a user's converter may override how a class unstructures.
    """
    try:
        hints = typing.get_type_hints(cls, include_extras=True)
    except Exception:
        return None
    names: list[str] = []
    for field in attrs.fields(cls):
        if not field.init:
            continue  # cattrs leaves these out by default, and the decoder would refuse them
        tp = hints.get(field.name)
        if tp is None or converter.get_unstructure_hook(tp) is not identity:
            return None
        names.append(field.name)
    return tuple(names)


#: Up to this many classes, the batch encoder picks a class with an ``if type is`` chain;
#: beyond, a dict lookup and a call per message is cheaper than the chain.
_MAX_CHAIN = 6


#: Batches up to this many messages keep orjson's outputs as they are (see _EncoderSource).
_COPY_FROM = 64


class _EncoderSource:
    """Generated encoding code: one function per class, and one loop for a whole batch.

    orjson writes NaN and infinities as ``null``, so they must be refused before or after it
    runs.  A class without floats is not checked.  Its top-level ``float`` fields are checked
    with one generated expression, ``(m.x + m.y) * 0.0 != 0.0``: true for any NaN or infinity,
    and true for no finite values except a sum that overflows, which the exact check then
    clears.  Floats deeper in (lists, nested classes, optionals) are found after encoding:
    only output that contains ``null`` can hold one.  That search costs about 0.3 µs here, so it
    runs only for classes that need it.

    Outputs are copied (``.decode().encode()``, about 0.1 µs) when many of them are kept alive
    at once: a large batch, or single messages that wait in the outgoing queue.  orjson gives
    each output a 1 KiB buffer and shrinks it in place, so hundreds of live outputs grow the
    glibc heap, which is trimmed again when they are freed: measured here at 1.1 µs a message
    for batches of 500 and 2.4 µs for 2,000, against 0.46 µs with the copy.  A small batch
    (up to ``_COPY_FROM`` messages) skips the copy, where it is a net loss.

    The batch loop inlines each class's code behind an ``if type(m) is Cls`` chain, so a batch
    costs no Python call per message beyond what orjson and cattrs need.
    """

    def __init__(self) -> None:
        self.namespace: dict[str, Any] = {"dumps": orjson.dumps}
        self.bodies: list[tuple[str, list[str]]] = []  # (name of the class, statements)

    def add(
        self,
        cls: type,
        tag: str,
        unstructure: Callable[[Any], Any],
        inline: tuple[str, ...] | None,
        *,
        bare: bool = False,
    ) -> str:
        """Add the statements that encode ``m`` of class ``cls`` into ``out``; name the class.

        ``bare``: the message is its tag alone, a JSON string (serde_json's unit variant).
        """
        index = len(self.bodies)
        names = {key: f"{key}_{index}" for key in ("cls", "check", "unstructure")}
        self.namespace[names["cls"]] = cls
        self.namespace[names["unstructure"]] = unstructure
        self.namespace[names["check"]] = _non_finite_check(tag, unstructure)
        if bare:
            obj = repr(tag)
        elif inline is None:
            obj = f"{{{tag!r}: {names['unstructure']}(m)}}"
        else:
            fields = ", ".join(f"{name!r}: m.{name}" for name in inline)
            obj = f"{{{tag!r}: {{{fields}}}}}"
        direct, deep = _float_fields(cls)
        lines: list[str] = []
        if direct:
            total = " + ".join(f"m.{name}" for name in direct)
            lines += [f"if ({total}) * 0.0 != 0.0:", f"    {names['check']}(m)"]
        if deep:
            lines += [
                f"out = dumps({obj})",
                "if b'null' in out:",
                f"    {names['check']}(m)",
            ]
        else:
            lines.append(f"out = dumps({obj})")
        self.bodies.append((names["cls"], lines))
        return names["cls"]

    def build(self) -> tuple[dict[type, _Encode], Callable[[Sequence[Any]], list[bytes]]]:
        """The per-class encoders, and the batch encoder (which raises on any failure)."""
        code: list[str] = []
        for index, (_, body) in enumerate(self.bodies):
            code.append(f"def encode_{index}(m):")
            code += [f"    {line}" for line in body]
            code.append("    return out.decode().encode()")
        encoders_by_index = "(" + "".join(f"encode_{i}, " for i in range(len(self.bodies))) + ")"
        code.append(f"encoders = {encoders_by_index}")
        code += [
            "def encode_many(messages):",
            "    result = []",
            "    append = result.append",
            f"    copy = len(messages) > {_COPY_FROM}",
            "    for m in messages:",
        ]
        if len(self.bodies) <= _MAX_CHAIN:
            code.append("        t = type(m)")
            for index, (cls_name, body) in enumerate(self.bodies):
                code.append(f"        {'if' if index == 0 else 'elif'} t is {cls_name}:")
                code += [f"            {line}" for line in body]
            if self.bodies:
                code.append("        else:")
                code.append("            raise KeyError(t)")
            else:
                code.append("        raise KeyError(type(m))")
            code.append("        append(out.decode().encode() if copy else out)")
        else:
            code.append("        append(by_type[type(m)](m))")
        code.append("    return result")
        self.namespace["by_type"] = by_type = {}
        execute(code, "json encoders", self.namespace)
        for index, (cls_name, _) in enumerate(self.bodies):
            by_type[self.namespace[cls_name]] = self.namespace["encoders"][index]
        encode_many: Callable[[Sequence[Any]], list[bytes]] = self.namespace["encode_many"]
        return dict(by_type), encode_many


def _non_finite_check(tag: str, unstructure: Callable[[Any], Any]) -> Callable[[Any], None]:
    """The exact check, run when the cheap one saw something: raise if a float is not finite."""

    def check(message: Any) -> None:
        where = _first_non_finite({tag: unstructure(message)}, "$")
        if where is not None:
            raise EncodeError(
                f"cannot encode {_describe_message(message)}: JSON has no NaN or infinity, "
                f"found {where}"
            )

    return check


# --------------------------------------------------------------------------------------------


def _structure(payload: bytes, by_tag: Mapping[str, tuple[type, _StructureHook]]) -> Any:
    """Parse one externally tagged payload and build its message with ``by_tag``'s function.

    A bare string is a message with no fields, as serde_json writes a unit variant.
    """
    obj = orjson.loads(payload)
    if type(obj) is str:
        tag, body = obj, {}
    else:
        ((tag, body),) = obj.items()
    cls, structure = by_tag[tag]
    return structure(body, cls)


class JsonSerde:
    """JSON objects externally tagged by class name, via cattrs and orjson.

    ``decode_types`` are the classes this side reads, ``encode_types`` those it writes; their
    names are the tags and must be distinct within each tuple.
    """

    __slots__ = (
        "_by_tag",
        "_encode_batch",
        "_encoders",
        "_fast_by_tag",
        "_known",
        "converter",
        "decode_types",
        "encode_types",
    )

    def __init__(
        self,
        decode_types: tuple[type, ...],
        encode_types: tuple[type, ...],
        *,
        converter: cattrs.Converter | None = None,
        serde_json: bool = False,
    ) -> None:
        if converter is not None and serde_json:
            raise ProtocolDefinitionError("JsonSerde: give a converter or serde_json, not both")
        self.converter = converter if converter is not None else _shared_converter(serde_json)
        self.decode_types = tuple(decode_types)
        self.encode_types = tuple(encode_types)
        for side in (self.decode_types, self.encode_types):
            names = [cls.__name__ for cls in side]
            if len(set(names)) != len(names):
                raise ProtocolDefinitionError(
                    f"message classes of one side must have distinct names (used as tags): {names}"
                )
        self._by_tag: dict[str, tuple[type, _StructureHook]] = {
            cls.__name__: (cls, self.converter.get_structure_hook(cls)) for cls in self.decode_types
        }
        if converter is None:
            fast = _DecoderSource(_StrictHooks(self.converter)).build(self.decode_types)
            self._fast_by_tag = {tag: (cls, fast[cls]) for tag, (cls, _) in self._by_tag.items()}
        else:
            self._fast_by_tag = self._by_tag
        source = _EncoderSource()
        for cls in self.encode_types:
            source.add(
                cls,
                cls.__name__,
                self.converter.get_unstructure_hook(cls),
                _inline_fields(cls, self.converter) if converter is None else None,
                bare=serde_json and not any(field.init for field in attrs.fields(cls)),
            )
        self._encoders, self._encode_batch = source.build()
        self._known = ", ".join(sorted(self._by_tag)) or "(none: this side receives nothing)"

    # ---- encoding

    def encode(self, message: Any) -> bytes:
        """One message as a JSON object; raises :class:`EncodeError` naming the message."""
        try:
            encode = self._encoders[type(message)]
        except KeyError:
            raise EncodeError(self._not_ours(message)) from None
        try:
            return encode(message)
        except EncodeError:
            raise
        except Exception as exc:
            raise EncodeError(
                f"cannot encode {_describe_message(message)}: {type(exc).__name__}: {exc}"
            ) from exc

    def encode_many(self, messages: Sequence[Any]) -> list[bytes]:
        """Every message encoded; the first one that cannot be raises :class:`EncodeError`."""
        try:
            return self._encode_batch(messages)
        except Exception:
            pass
        # Slow path, only after a failure: find the culprit and say what is wrong with it.
        for message in messages:
            self.encode(message)
        raise EncodeError("cannot encode the batch")  # pragma: no cover - failure not repeatable

    def _not_ours(self, message: Any) -> str:
        allowed = ", ".join(cls.__name__ for cls in self.encode_types) or "nothing"
        return (
            f"cannot encode {_describe_message(message)}: {type(message).__qualname__} is not a "
            f"message of this protocol side (it sends {allowed})"
        )

    # ---- decoding

    def decode(self, payload: bytes) -> Any:
        """One payload to a message; raises :class:`DecodeError` saying what was wrong."""
        try:
            return _structure(payload, self._fast_by_tag)
        except Exception:
            pass
        return self._decode_strictly(payload)

    def decode_many(self, payloads: list[bytes]) -> list[Any]:
        """Every payload decoded, a :class:`DecodeError` in place of each bad one; never raises.

        The loop spells out :func:`_structure` (one call less per message on the hot path).
        """
        by_tag = self._fast_by_tag
        loads = orjson.loads
        out: list[Any] = []
        append = out.append
        for payload in payloads:
            try:
                ((tag, body),) = loads(payload).items()
                cls, structure = by_tag[tag]
                append(structure(body, cls))
            except Exception:
                try:
                    append(self._decode_strictly(payload))
                except DecodeError as error:
                    append(error)
        return out

    def _decode_strictly(self, payload: bytes) -> Any:
        """The strict way, after the fast one failed: the message, or the DecodeError raised.

        The generated structure functions raise only where the strict ones do, but not always
        the same exception; this path decides, and explains a failure from the strict one.
        """
        try:
            return _structure(payload, self._by_tag)
        except Exception:
            pass
        raise self._diagnose(payload)

    def _diagnose(self, payload: bytes) -> DecodeError:
        """Work out, step by step, why ``payload`` does not decode (the slow path)."""
        try:
            reason = self._reason(payload)
        except Exception as exc:  # the explanation itself must never escape decode_many
            reason = f"undecodable frame ({type(exc).__name__}: {_short(str(exc))})"
        try:
            return DecodeError(reason, payload)
        except Exception:
            return DecodeError(reason)

    def _reason(self, payload: bytes) -> str:
        raw = bytes(payload)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return f"invalid UTF-8 at byte {exc.start}: {exc.reason}"
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            rest = text[exc.pos : exc.pos + 9].lstrip("-")
            if rest.startswith(("NaN", "Infinity")):
                return f"invalid JSON: NaN and Infinity are not JSON numbers (at char {exc.pos})"
            return f"invalid JSON: {exc}"
        if type(obj) is str:  # a message with no fields, serde_json's way
            return (
                f"expected a JSON object tagged with the message name ({self._known}), got "
                f"{_describe(obj)}: only a message with no fields may be a bare string"
            )
        if type(obj) is not dict:
            return (
                f"expected a JSON object tagged with the message name ({self._known}), "
                f"got {_describe(obj)}"
            )
        if len(obj) != 1:
            keys = _short(", ".join(repr(key) for key in obj))
            got = f"{len(obj)} keys: {keys}" if obj else "an empty object"
            return (
                f"expected an object with exactly one key, the message tag ({self._known}), "
                f"got {got}"
            )
        ((tag, body),) = obj.items()
        if tag not in self._by_tag:
            return f"unknown message tag {_short(repr(tag))}; expected one of {self._known}"
        cls, structure = self._by_tag[tag]
        try:
            structure(body, cls)
        except Exception as exc:
            # A user's converter may read a class from something else than an object.
            if type(body) is not dict and self.converter in _default_converters.values():
                return f"the body of {tag} must be a JSON object, got {_describe(body)}"
            return f"invalid {tag}: {_explain(exc, '$.' + tag)}"
        return "undecodable frame"  # pragma: no cover - decoding is deterministic
