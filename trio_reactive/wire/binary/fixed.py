"""The fixed-binary serde: every message one record of one size, decoded by one ``struct`` call.

The layout comes from :mod:`.schema`; here each message class is compiled, once, into one
``struct.Struct`` (tag byte, fields, zero padding up to the largest class) and a generated
function around it.  A class whose fields need no conversion decodes as ``cls(*unpack(p))``;
conversions (enum and bool tables, padded strings, other byte orders) appear only for the
fields that need them, decided here and never re-examined per message.

A read's whole records are also decoded as one block (:meth:`FixedSerde.decode_block`): one
``iter_unpack`` when they are all of one class, one ``unpack_from`` each otherwise, and never a
slice per record.

This module also holds what the variable-binary serde shares with it: the small code generator
(:class:`Source`), the expressions that rebuild an object from its leaf values and that read a
message's leaf values for encoding, and the batch entry points (:class:`TaggedSerde`).
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from ..errors import DecodeError, EncodeError
from ..prefix import LENGTH
from .schema import BOOL_OF_BYTE, Node, Record, Scalar, SideSchema, Step, fixed_schema

__all__ = [
    "BlockFill",
    "BlockStart",
    "Decode",
    "Encode",
    "FixedSerde",
    "Source",
    "TaggedSerde",
    "access_leaves",
    "apply_steps",
    "as_scalar",
    "block_starter",
    "build_expr",
    "flat_decoder",
    "flat_encoder",
    "leaves",
    "length_prefixed_frames",
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


def _is_flat(record: Record, flags: bool = False) -> bool:
    """True when the unpacked tuple is exactly the constructor's positional arguments.

    With ``flags``: once bools are read as ``?`` (see :func:`_decode_layout`).
    """
    return all(
        isinstance(f.node, Scalar)
        and (not f.node.decode_steps or (flags and _is_bool(f.node)))
        and not f.kw_only
        for f in record.fields
    )


def _decode_layout(record: Record, pad: int, flags: bool = False) -> struct.Struct:
    """Tag (skipped), the fixed-size fields, then ``pad`` skipped bytes.

    With ``flags``, bools are read as ``?`` (true for any byte but 0): only for bytes known to
    be 0 or 1.
    """
    codes = "".join(
        "?" if flags and _is_bool(leaf) else as_scalar(leaf).code for leaf in leaves(record)
    )
    return struct.Struct("<x" + codes + (f"{pad}x" if pad else ""))


def _is_bool(leaf: Node) -> bool:
    """A bool, read as a byte and converted by the table that refuses anything but 0 and 1."""
    steps: Sequence[Step] = getattr(leaf, "decode_steps", ())
    return len(steps) == 1 and steps[0] is BOOL_OF_BYTE


def flat_decoder(record: Record, pad: int = 0) -> Decode:
    """Decode a fixed-size class: one ``unpack`` of tag (skipped), fields and ``pad`` bytes.

    ``unpack`` demands the exact length, so a short or long payload fails here too.
    """
    layout = _decode_layout(record, pad)
    source = Source(f"decode_{record.cls.__name__}")
    unpack = source.const(layout.unpack, "unpack")
    with source.block(f"def {source.name}(p):"):
        if _is_flat(record):
            source.line(f"return {source.const(record.cls, 'cls')}(*{unpack}(p))")
        else:
            names = [source.fresh("a") for _ in leaves(record)]
            source.line(f"({', '.join(names)},) = {unpack}(p)")
            source.line(f"return {build_expr(record, iter(names), source)}")
    decode: Decode = source.compile()
    return decode


#: ``fill(out, source, block)`` appends to ``out`` the messages of the records of ``block`` that
#: ``source`` yields (their values, or their offsets).  Raising leaves ``out`` holding the
#: messages before the failing record and ``source`` just past it: calling again goes on with
#: the next record, and nothing is decoded twice.
BlockFill = Callable[[list[Any], Iterator[Any], bytes], None]


def _run_filler(record: Record, flags: bool = False) -> BlockFill:
    """A :data:`BlockFill` for a block whose records are all ``record``'s class.

    ``source`` is the ``iter_unpack`` of the block with the class's own layout.  A class whose
    values are its constructor's arguments is built by ``starmap``, with no Python loop at all.
    """
    source = Source(f"fill_{record.cls.__name__}")
    with source.block(f"def {source.name}(out, values, block):"):
        if _is_flat(record, flags):
            starmap = source.const(itertools.starmap, "starmap")
            source.line(f"out.extend({starmap}({source.const(record.cls, 'cls')}, values))")
        else:
            names = [source.fresh("a") for _ in leaves(record)]
            source.line("append = out.append")
            with source.block(f"for ({', '.join(names)},) in values:"):
                source.line(f"append({build_expr(record, iter(names), source)})")
    fill: BlockFill = source.compile()
    return fill


#: How a block of one class starts decoding: the :data:`BlockFill` and the values it takes.
BlockStart = Callable[[bytes], tuple[BlockFill, Iterator[Any]]]


def block_starter(record: Record, pad: int) -> BlockStart:
    """The :data:`BlockStart` for blocks of ``record``'s class.

    A class flat but for its bools gets the flat case too when every bool byte of the block is
    0 or 1 (one C-level slice each): ``struct``'s ``?`` reads them.  Otherwise the table does,
    reporting the records it refuses.
    """
    layout = _decode_layout(record, pad)
    source = Source(f"start_{record.cls.__name__}")
    fill = source.const(_run_filler(record), "fill")
    iterate = source.const(layout.iter_unpack, "iter_unpack")
    with source.block(f"def {source.name}(block):"):
        if not _is_flat(record) and _is_flat(record, flags=True):
            checks = " and ".join(
                f"not block[{offset}::{layout.size}].translate(None, b'\\x00\\x01')"
                for offset in _bool_offsets(record)
            )
            with source.block(f"if {checks}:"):
                flat_fill = source.const(_run_filler(record, flags=True), "fill")
                as_flags = source.const(
                    _decode_layout(record, pad, flags=True).iter_unpack, "iter_unpack"
                )
                source.line(f"return {flat_fill}, {as_flags}(block)")
        source.line(f"return {fill}, {iterate}(block)")
    start: BlockStart = source.compile()
    return start


def _bool_offsets(record: Record) -> list[int]:
    """Where the bool bytes of a record are (its tag first)."""
    offsets = []
    offset = 1
    for leaf in leaves(record):
        if _is_bool(leaf):
            offsets.append(offset)
        offset += as_scalar(leaf).size
    return offsets


def _maker(record: Record) -> Callable[..., Any]:
    """The message from its leaf values: the class itself when they are its arguments."""
    if _is_flat(record):
        return record.cls
    source = Source(f"make_{record.cls.__name__}")
    names = [source.fresh("a") for _ in leaves(record)]
    with source.block(f"def {source.name}({', '.join(names)}):"):
        source.line(f"return {build_expr(record, iter(names), source)}")
    make: Callable[..., Any] = source.compile()
    return make


#: Per tag: a class's :func:`_maker` and the ``unpack_from`` of its layout.
_Kinds = tuple[tuple[Callable[..., Any], Callable[[bytes, int], tuple[Any, ...]]], ...]


def _mixed_filler(kinds: _Kinds) -> BlockFill:
    """A :data:`BlockFill` for records of any class: ``source`` yields their offsets in ``block``.

    ``kinds[tag]`` is the class's :func:`_maker` and ``unpack_from``; an unknown tag fails the
    tuple index, as it does in :meth:`TaggedSerde.decode_many`.
    """
    source = Source("fill_mixed")
    with source.block(f"def {source.name}(out, offsets, block):"):
        source.line("append = out.append")
        with source.block("for o in offsets:"):
            source.line(f"make, unpack = {source.const(kinds, 'kinds')}[block[o]]")
            source.line("append(make(*unpack(block, o)))")
    fill: BlockFill = source.compile()
    return fill


def flat_encoder(record: Record, tag: int, pad: int = 0, *, length_prefix: bool = False) -> Encode:
    """Encode a fixed-size class: one ``pack`` of tag, fields and ``pad`` zero bytes.

    With ``length_prefix``, the same ``pack`` first writes the length of the rest as a u32
    little-endian: the whole frame of a length-prefixed stream.
    """
    pairs = access_leaves(record, "m")
    codes = "".join(as_scalar(node).code for node, _ in pairs)
    layout = struct.Struct("<B" + codes + (f"{pad}x" if pad else ""))
    source = Source(f"encode_{record.cls.__name__}")
    arguments = [str(tag)] + [
        apply_steps(expression, as_scalar(node).encode_steps, source) for node, expression in pairs
    ]
    if length_prefix:
        arguments.insert(0, str(layout.size))
        layout = struct.Struct("<I" + layout.format[1:])
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

    def fill_reporting(
        self,
        out: list[Any],
        fill: BlockFill,
        source: Iterator[Any],
        block: bytes,
        payload_at: Callable[[int], bytes],
    ) -> None:
        """Run ``fill`` over the whole block; a record it fails on becomes a DecodeError.

        The error takes the record's place (``payload_at(i)`` is the payload of the block's
        record ``i``), and filling goes on from where ``source`` stopped, just past it: nothing
        is decoded twice.
        """
        first = len(out)
        while True:
            try:
                fill(out, source, block)
                return
            except Exception as exc:
                out.append(self._decode_error(payload_at(len(out) - first), exc))

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


def length_prefixed_frames(serde: TaggedSerde) -> Callable[[Sequence[Any]], list[bytes]] | None:
    """Frames of a u32-length-prefixed stream, one per message, each made in one step.

    For a serde of a variable schema, whose fixed-size classes encode with :func:`flat_encoder`
    unpadded: their frames are one ``pack`` of length, tag and fields (about 70 ns a message
    less than packing the length apart and joining); any other class's payload gets its length
    put in front (about as fast as framing it apart, plus one copy of the payload).  None when
    no class has a fixed size: nothing to gain.  The frames raise like ``encode_many``'s fast
    path (``KeyError`` for a foreign class, whatever a field makes fail): ask it why.
    """
    if serde.encode_schema.record_size is not None:
        raise ValueError("fixed records are padded: they are not framed with a length prefix")
    if all(record.fixed_size is None for record in serde.encode_schema.records):
        return None
    encoders = serde._encoders
    framed: dict[type, Encode] = {}
    for tag, record in enumerate(serde.encode_schema.records):
        if record.fixed_size is not None:
            framed[record.cls] = flat_encoder(record, tag, length_prefix=True)
        else:
            framed[record.cls] = _with_length(encoders[record.cls])

    def frames(messages: Sequence[Any]) -> list[bytes]:
        return [framed[type(message)](message) for message in messages]

    return frames


def _with_length(encode: Encode) -> Encode:
    pack = LENGTH.pack

    def encode_framed(message: Any) -> bytes:
        payload = encode(message)
        return pack(len(payload)) + payload

    return encode_framed


class FixedSerde(TaggedSerde):
    """Fixed-size binary records derived from the attrs fields (see :mod:`.schema`).

    ``decode_size`` and ``encode_size`` are the record sizes of the two directions (tag plus
    the largest class, every class zero-padded to it).
    """

    __slots__ = ("_fill_mixed", "_runs", "decode_size", "encode_size")

    def __init__(self, decode_types: tuple[type, ...], encode_types: tuple[type, ...]) -> None:
        decode_schema = fixed_schema(decode_types)
        encode_schema = fixed_schema(encode_types)
        records = decode_schema.records
        super().__init__(
            decode_schema,
            encode_schema,
            tuple(flat_decoder(r, _pad(decode_schema, r)) for r in records),
            {
                r.cls: flat_encoder(r, tag, _pad(encode_schema, r))
                for tag, r in enumerate(encode_schema.records)
            },
        )
        self.decode_size = _size(decode_schema)
        self.encode_size = _size(encode_schema)
        self._runs = tuple(block_starter(r, _pad(decode_schema, r)) for r in records)
        self._fill_mixed = _mixed_filler(
            tuple(
                (_maker(r), _decode_layout(r, _pad(decode_schema, r)).unpack_from) for r in records
            )
        )

    def decode_block(self, block: bytes) -> list[Any]:
        """The records of ``block`` (whole records only), as ``decode_many`` of its slices gives.

        A block of one class (the usual case, and every block of a one-class side that has no
        bad tag) is one ``iter_unpack``; otherwise each record is one ``unpack_from`` chosen by
        its tag, with no slicing.  A bad record yields a :class:`DecodeError` in its place.
        """
        out: list[Any] = []
        if not block:
            return out
        size = self.decode_size
        tags = block[::size]  # the tag byte of every record
        tag = tags[0]
        runs = self._runs
        fill: BlockFill
        source: Iterator[Any]
        if tag < len(runs) and tags.count(tag) == len(tags):
            fill, source = runs[tag](block)
        else:
            fill, source = self._fill_mixed, iter(range(0, len(block), size))
        self.fill_reporting(out, fill, source, block, lambda i: block[i * size : (i + 1) * size])
        return out


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
