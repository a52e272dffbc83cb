"""The converters the JSON serde uses: the default one, serde_json's, and the one users extend."""

from __future__ import annotations

import enum
from typing import Any

import cattrs
import cattrs.gen
from cattrs.cols import is_mapping
from cattrs.preconf.orjson import make_converter

from ..typeinfo import strip_annotated
from .hooks import StrictHooks, is_enum, mapping_form, unstructure_bytes

__all__ = ["default_converters", "make_json_converter", "shared_converter"]


def make_json_converter(*, serde_json: bool = False) -> cattrs.Converter:
    """The converter :class:`JsonSerde` uses by default: orjson preconf, strict, base64 bytes.

    Exposed so that users can register hooks for their own types on a converter that already
    behaves like the default, then pass it as ``Textual(converter=...)``.  With ``serde_json``,
    bytes are written as arrays of numbers and int enums (values and map keys) by member name,
    as Rust's serde_json writes ``Vec<u8>`` and C-like enums; both forms are read either way.
    """
    converter = make_converter(forbid_extra_keys=True)
    if serde_json:
        converter.register_unstructure_hook(bytes, list)
        converter.register_unstructure_hook_factory(_is_int_enum, lambda _: _enum_name)
    else:
        converter.register_unstructure_hook(bytes, unstructure_bytes)
    key = _serde_json_enum_key if serde_json else _enum_key
    converter.register_unstructure_hook_factory(
        _has_enum_keys, lambda tp: converter.gen_unstructure_mapping(tp, key_handler=key)
    )
    StrictHooks(converter).install()
    return converter


def _has_enum_keys(tp: Any) -> bool:
    return is_mapping(tp) and is_enum(strip_annotated(mapping_form(tp)[0]))


def _enum_key(member: enum.Enum, _: Any = None) -> str:
    """An enum as a JSON object key: its value, as ``StrictHooks.key_hook`` reads it back.

    The orjson preset keys any enum that is not a ``str`` subclass by ``str(member)``
    (``"Size.BIG"``), which no enum structures from.  (cattrs calls a key handler with the key
    alone; its annotation names a second, optional argument.)
    """
    value = member.value
    return value if isinstance(value, str) else str(value)


def _serde_json_enum_key(member: enum.Enum, _: Any = None) -> str:
    """An enum key as serde_json writes it: an int enum by member name, a str enum by value."""
    value = member.value
    return value if isinstance(value, str) else member.name


def _is_int_enum(tp: Any) -> bool:
    return is_enum(tp) and all(type(member.value) is int for member in tp)


def _enum_name(member: enum.Enum) -> str:
    return member.name


#: The default converters, plain and serde_json's, built on first use and then reused (cattrs
#: caches the hooks it makes on them).
default_converters: dict[bool, cattrs.Converter] = {}


def shared_converter(serde_json: bool) -> cattrs.Converter:
    converter = default_converters.get(serde_json)
    if converter is None:
        converter = default_converters[serde_json] = make_json_converter(serde_json=serde_json)
    return converter


