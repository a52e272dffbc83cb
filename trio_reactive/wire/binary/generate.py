"""The generated fast paths both binary serdes are made of.

Each message class is compiled, once, into a ``struct.Struct`` and a generated function around
it (through :class:`~trio_reactive.wire.codegen.Source`): the expressions that rebuild an
object from its leaf values and that read a message's leaf values for encoding, whole-record
decoders and encoders, and the fillers that decode a block of records with one ``iter_unpack``.
A class whose fields need no conversion decodes as ``cls(*unpack(p))``; conversions (enum and
bool tables, padded strings, other byte orders) appear only for the fields that need them.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from ..codegen import Source
from ..prefix import LENGTH
from .nodes import BOOL_OF_BYTE, Node, Record, Scalar, Step

__all__ = [
    "BlockFill",
    "BlockStart",
    "Decode",
    "Encode",
    "access_leaves",
    "apply_steps",
    "as_scalar",
    "block_starter",
    "build_expr",
    "flat_decoder",
    "flat_encoder",
    "leaves",
    "mixed_filler",
]

Decode = Callable[[bytes], Any]
Encode = Callable[[Any], bytes]

_REPR_LIMIT = 200
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


def mixed_filler(records: Sequence[Record], pads: Sequence[int]) -> BlockFill:
    """The filler for a block of records of any of ``records`` (each padded by its ``pads``)."""
    kinds = tuple(
        (_maker(record), _decode_layout(record, pad).unpack_from)
        for record, pad in zip(records, pads, strict=True)
    )
    return _mixed_filler(kinds)


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
        layout = struct.Struct(LENGTH.format + layout.format[1:])  # the u32 prefix, then it
    with source.block(f"def {source.name}(m):"):
        source.line(f"return {source.const(layout.pack, 'pack')}({', '.join(arguments)})")
    encode: Encode = source.compile()
    return encode


def as_scalar(node: Node) -> Scalar:
    """``node``, known to be a scalar because its record has a fixed size."""
    if not isinstance(node, Scalar):
        raise TypeError(f"{node.where} has no fixed size")
    return node


