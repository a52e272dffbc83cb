"""Generated encoding code for the JSON serde, and which classes need the NaN check."""

from __future__ import annotations

import datetime
import enum
import typing
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import cattrs
import cattrs.gen
import orjson
from cattrs.fns import identity

from ..codegen import Source
from ..errors import EncodeError
from ..typeinfo import strip_annotated
from .wording import first_non_finite, short

__all__ = ["EncoderSource", "describe_message", "float_fields", "inline_fields", "may_hold_float"]

Encode = Callable[[Any], bytes]



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


def may_hold_float(tp: Any, seen: set[type]) -> bool:
    """Whether a value of type ``tp`` can contain a float somewhere; True when unsure."""
    tp = strip_annotated(tp)
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
            return any(may_hold_float(hints.get(f.name, Any), seen) for f in attrs.fields(tp))
        if issubclass(tp, float):
            return True
        return not issubclass(tp, _NO_FLOAT)
    args = typing.get_args(tp)
    if typing.get_origin(tp) is typing.Literal:
        return any(isinstance(arg, float) for arg in args)
    if args:
        return any(may_hold_float(arg, seen) for arg in args if arg is not Ellipsis)
    return True  # Any, a TypeVar, a bare container: cannot tell


def describe_message(message: Any) -> str:
    return short(repr(message))


def float_fields(cls: type) -> tuple[tuple[str, ...], bool]:
    """A class's top-level ``float`` fields, and whether any other field may hold a float."""
    try:
        hints = typing.get_type_hints(cls, include_extras=True)
    except Exception:
        return (), True
    direct: list[str] = []
    deep = False
    for field in attrs.fields(cls):
        tp = hints.get(field.name, Any)
        if strip_annotated(tp) is float:
            direct.append(field.name)
        elif may_hold_float(tp, {cls}):
            deep = True
    return tuple(direct), deep


def inline_fields(cls: type, converter: cattrs.Converter) -> tuple[str, ...] | None:
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


#: Batches up to this many messages keep orjson's outputs as they are (see EncoderSource).
_COPY_FROM = 64


class EncoderSource:
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
        self.source = Source("json encoders")
        self.namespace = self.source.namespace
        self.namespace["dumps"] = orjson.dumps
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
        direct, deep = float_fields(cls)
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

    def build(self) -> tuple[dict[type, Encode], Callable[[Sequence[Any]], list[bytes]]]:
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
        self.source.lines = code
        self.source.run()
        for index, (cls_name, _) in enumerate(self.bodies):
            by_type[self.namespace[cls_name]] = self.namespace["encoders"][index]
        encode_many: Callable[[Sequence[Any]], list[bytes]] = self.namespace["encode_many"]
        return dict(by_type), encode_many


def _non_finite_check(tag: str, unstructure: Callable[[Any], Any]) -> Callable[[Any], None]:
    """The exact check, run when the cheap one saw something: raise if a float is not finite."""

    def check(message: Any) -> None:
        where = first_non_finite({tag: unstructure(message)}, "$")
        if where is not None:
            raise EncodeError(
                f"cannot encode {describe_message(message)}: JSON has no NaN or infinity, "
                f"found {where}"
            )

    return check


