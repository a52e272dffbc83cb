"""The fixed-binary serde: every message one record of one size, decoded by one ``struct`` call.

The layout comes from :mod:`.schema`; here each message class is compiled, once, into one
``struct.Struct`` (tag byte, fields, zero padding up to the largest class) and a generated
function around it.  A class whose fields need no conversion decodes as ``cls(*unpack(p))``;
conversions (enum and bool tables, padded strings, other byte orders) appear only for the
fields that need them, decided here and never re-examined per message.

This module also holds what the variable-binary serde shares with it: the small code generator
(:class:`Source`), the expressions that rebuild an object from its leaf values and that read a
message's leaf values for encoding, and the batch entry points (:class:`TaggedSerde`).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from ..errors import DecodeError, EncodeError
from .schema import Node, Record, Scalar, SideSchema, Step, fixed_schema

__all__ = [
    "Decode",
    "Encode",
    "FixedSerde",
    "Source",
    "TaggedSerde",
    "access_leaves",
    "apply_steps",
    "as_scalar",
    "build_expr",
    "flat_decoder",
    "flat_encoder",
    "leaves",
]

Decode = Callable[[bytes], Any]
Encode = Callable[[Any], bytes]

_REPR_LIMIT = 200


# --- code generation -----------------------------------------------------------------------------


class Source:
    """The source of one generated function, and the constants its names refer to.

    Generated code is plain Python: every per-class decision (which struct, which conversion,
    which constructor arguments) is made while writing it, so running it branches on nothing
    but the data.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.lines: list[str] = []
        self.namespace: dict[str, Any] = {}
        self._constants: dict[int, str] = {}
        self._count = 0
        self._depth = 0

    def const(self, value: Any, hint: str = "k") -> str:
        """A global name for ``value`` in the generated code (one per object)."""
        name = self._constants.get(id(value))
        if name is None:
            name = self.fresh(f"_{hint}")
            self._constants[id(value)] = name
            self.namespace[name] = value
        return name

    def fresh(self, hint: str) -> str:
        """A new local name."""
        self._count += 1
        return f"{hint}{self._count}"

    def line(self, text: str) -> None:
        self.lines.append("    " * self._depth + text)

    @contextmanager
    def block(self, header: str) -> Iterator[None]:
        self.line(header)
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1

    def compile(self) -> Callable[..., Any]:
        code = compile("\n".join(self.lines) + "\n", f"<trio_reactive {self.name}>", "exec")
        exec(code, self.namespace)
        function: Callable[..., Any] = self.namespace[self.name]
        return function


def apply_steps(expression: str, steps: Sequence[Step], source: Source) -> str:
    """``expression`` with each conversion applied in turn: tables indexed, functions called."""
    for step in steps:
        name = source.const(step, "t" if isinstance(step, (Mapping, tuple)) else "f")
        expression = (
            f"{name}[{expression}]"
            if isinstance(step, (Mapping, tuple))
            else f"{name}({expression})"
        )
    return expression


def leaves(node: Node) -> list[Node]:
    """The nodes read one after the other for ``node``: nested records are inline."""
    if isinstance(node, Record):
        return [leaf for field in node.fields for leaf in leaves(field.node)]
    return [node]


def build_expr(node: Node, values: Iterator[str], source: Source) -> str:
    """The expression rebuilding ``node`` from its leaves' values (names, in leaf order)."""
    if not isinstance(node, Record):
        steps: Sequence[Step] = getattr(node, "decode_steps", ())
        return apply_steps(next(values), steps, source)
    arguments = []
    for field in node.fields:
        value = build_expr(field.node, values, source)
        arguments.append(f"{field.alias}={value}" if field.kw_only else value)
    return f"{source.const(node.cls, 'cls')}({', '.join(arguments)})"


def access_leaves(node: Node, expression: str) -> list[tuple[Node, str]]:
    """Each leaf of ``node`` with the expression reading it from ``expression`` (``m.a.b``)."""
    if isinstance(node, Record):
        return [
            pair
            for field in node.fields
            for pair in access_leaves(field.node, f"{expression}.{field.name}")
        ]
    return [(node, expression)]


def _is_flat(record: Record) -> bool:
    """True when the unpacked tuple is exactly the constructor's positional arguments."""
    return all(
        isinstance(f.node, Scalar) and not f.node.decode_steps and not f.kw_only
        for f in record.fields
    )


def flat_decoder(record: Record, pad: int = 0) -> Decode:
    """Decode a fixed-size class: one ``unpack`` of tag (skipped), fields and ``pad`` bytes.

    ``unpack`` demands the exact length, so a short or long payload fails here too.
    """
    scalars = [leaf for leaf in leaves(record) if isinstance(leaf, Scalar)]
    layout = struct.Struct("<x" + "".join(s.code for s in scalars) + (f"{pad}x" if pad else ""))
    source = Source(f"decode_{record.cls.__name__}")
    unpack = source.const(layout.unpack, "unpack")
    with source.block(f"def {source.name}(p):"):
        if _is_flat(record):
            source.line(f"return {source.const(record.cls, 'cls')}(*{unpack}(p))")
        else:
            names = [source.fresh("a") for _ in scalars]
            source.line(f"({', '.join(names)},) = {unpack}(p)")
            source.line(f"return {build_expr(record, iter(names), source)}")
    decode: Decode = source.compile()
    return decode


def flat_encoder(record: Record, tag: int, pad: int = 0) -> Encode:
    """Encode a fixed-size class: one ``pack`` of tag, fields and ``pad`` zero bytes."""
    pairs = access_leaves(record, "m")
    codes = "".join(as_scalar(node).code for node, _ in pairs)
    layout = struct.Struct("<B" + codes + (f"{pad}x" if pad else ""))
    source = Source(f"encode_{record.cls.__name__}")
    arguments = [str(tag)] + [
        apply_steps(expression, as_scalar(node).encode_steps, source) for node, expression in pairs
    ]
    with source.block(f"def {source.name}(m):"):
        source.line(f"return {source.const(layout.pack, 'pack')}({', '.join(arguments)})")
    encode: Encode = source.compile()
    return encode


def as_scalar(node: Node) -> Scalar:
    """``node``, known to be a scalar because its record has a fixed size."""
    if not isinstance(node, Scalar):
        raise TypeError(f"{node.where} has no fixed size")
    return node


# --- batch entry points ----------------------------------------------------------------------


class TaggedSerde:
    """The serde shape shared by the binary codecs: a u8 tag selects a compiled function.

    Decoding indexes a tuple of decoders by the tag byte, encoding looks a dict of encoders up
    by ``type(message)``; neither checks anything a malformed message would not make fail
    anyway.  Only when something fails is the construct schema asked why, so error messages
    name the class, field and problem without costing good messages anything.
    """

    __slots__ = ("_decoders", "_encoders", "decode_schema", "encode_schema")

    def __init__(
        self,
        decode_schema: SideSchema,
        encode_schema: SideSchema,
        decoders: tuple[Decode, ...],
        encoders: dict[type, Encode],
    ) -> None:
        self.decode_schema = decode_schema
        self.encode_schema = encode_schema
        self._decoders = decoders
        self._encoders = encoders

    def decode(self, payload: bytes) -> Any:
        """One message; raises :class:`DecodeError` saying what is wrong where."""
        try:
            return self._decoders[payload[0]](payload)
        except Exception as exc:
            raise self._decode_error(payload, exc) from exc

    def decode_many(self, payloads: list[bytes]) -> list[Any]:
        """Every payload decoded; a bad one yields a :class:`DecodeError` in its place."""
        decoders = self._decoders
        out: list[Any] = []
        append = out.append
        for payload in payloads:
            try:
                append(decoders[payload[0]](payload))
            except Exception as exc:  # a try costs nothing in 3.11 until it catches
                append(self._decode_error(payload, exc))
        return out

    def encode(self, message: Any) -> bytes:
        """One payload; raises :class:`EncodeError` naming the message and the field."""
        try:
            return self._encoders[type(message)](message)
        except Exception as exc:
            raise self._encode_error(message, exc) from exc

    def encode_many(self, messages: Sequence[Any]) -> list[bytes]:
        """Every payload; raises :class:`EncodeError` for the first message that cannot be."""
        encoders = self._encoders
        try:
            return [encoders[type(message)](message) for message in messages]
        except Exception:
            encode = self.encode  # find the culprit and say what is wrong with it
            return [encode(message) for message in messages]

    def _decode_error(self, payload: bytes, exc: Exception) -> DecodeError:
        try:
            reason = self.decode_schema.why_undecodable(payload)
        except Exception as failure:  # the explanation must never be what raises
            reason = f"{type(failure).__name__}: {failure}"
        return DecodeError(reason or f"{type(exc).__name__}: {exc}", payload)

    def _encode_error(self, message: Any, exc: Exception) -> EncodeError:
        shown = repr(message)
        if len(shown) > _REPR_LIMIT:
            shown = shown[:_REPR_LIMIT] + "..."
        if type(message) not in self._encoders:
            reason = (
                f"{type(message).__qualname__} is not a message of this protocol side "
                f"(it has {self.encode_schema.names()})"
            )
        else:
            reason = self.encode_schema.why_unencodable(message) or f"{type(exc).__name__}: {exc}"
        return EncodeError(f"cannot encode {shown}: {reason}")


class FixedSerde(TaggedSerde):
    """Fixed-size binary records derived from the attrs fields (see :mod:`.schema`).

    ``decode_size`` and ``encode_size`` are the record sizes of the two directions (tag plus
    the largest class, every class zero-padded to it).
    """

    __slots__ = ("decode_size", "encode_size")

    def __init__(self, decode_types: tuple[type, ...], encode_types: tuple[type, ...]) -> None:
        decode_schema = fixed_schema(decode_types)
        encode_schema = fixed_schema(encode_types)
        super().__init__(
            decode_schema,
            encode_schema,
            tuple(flat_decoder(r, _pad(decode_schema, r)) for r in decode_schema.records),
            {
                r.cls: flat_encoder(r, tag, _pad(encode_schema, r))
                for tag, r in enumerate(encode_schema.records)
            },
        )
        self.decode_size = _size(decode_schema)
        self.encode_size = _size(encode_schema)


def _size(schema: SideSchema) -> int:
    if schema.record_size is None:
        raise TypeError("a fixed schema has a record size")
    return schema.record_size


def _pad(schema: SideSchema, record: Record) -> int:
    """Zero bytes after ``record`` so that it fills a whole record of ``schema``."""
    return _size(schema) - 1 - _fixed_size(record)


def _fixed_size(record: Record) -> int:
    size = record.fixed_size
    if size is None:
        raise TypeError(f"{record.where} has no fixed size")
    return size
