"""The variable-binary serde: a u8 tag, then the fields; strings, lists, dicts, optionals.

The layout is :mod:`.schema`'s variable schema; its construct form is the specification, but
parsing with construct costs 5-20 us a message.  Here each message class is compiled, once,
into a generated Python function:

* consecutive fixed-size fields (through nested classes) are read by one ``unpack_from`` with a
  merged format, which also takes the length, count or presence byte of the variable field that
  ends the run;
* strings and bytes are slices, fixed-size list items one ``iter_unpack`` of a slice, other items
  a loop over the same generated code;
* a class with no variable field is the fixed serde's one-``unpack`` function, without padding.

Decoding is safe on hostile input: a length or count is checked against the bytes that remain
*before* anything is sliced or allocated from it (every list or dict item takes at least one
byte, so nothing is built that the payload does not hold), and every payload must end exactly
where its message does.  Whatever fails, the schema is then asked to say what and where.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

from ..codegen import Source
from ..prefix import PREFIX_SIZE
from .generate import (
    BlockStart,
    Decode,
    Encode,
    access_leaves,
    apply_steps,
    as_scalar,
    block_starter,
    build_expr,
    flat_decoder,
    flat_encoder,
    leaves,
)
from .nodes import Chunk, DictOf, ListOf, Maybe, Node, Record, Scalar
from .schema import variable_schema
from .tagged import TaggedSerde

__all__ = ["VariableSerde"]

_HEADER_CODE = {Chunk: "I", ListOf: "I", DictOf: "I", Maybe: "B"}


class _Malformed(Exception):
    """Raised by generated decoders; the schema then explains what is wrong."""


# --- decoding --------------------------------------------------------------------------------


class _Reader:
    """Writes the code reading nodes from ``p`` at offset ``o``; ``n`` is ``len(p)``."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.malformed = source.const(_Malformed, "Malformed")

    def read(self, nodes: Sequence[Node]) -> list[str]:
        """Emit the reads of ``nodes``, in order; return an expression for each."""
        values: list[str] = []
        run: list[Node] = []
        for leaf in (leaf for node in nodes for leaf in leaves(node)):
            run.append(leaf)
            if not isinstance(leaf, Scalar):  # its header ends the run, then comes its body
                values.extend(self.run(run))
                values[-1] = self.body(leaf, values[-1])
                run = []
        values.extend(self.run(run))
        names = iter(values)
        return [build_expr(node, names, self.source) for node in nodes]

    def run(self, run: Sequence[Node]) -> list[str]:
        """One ``unpack_from`` for fixed-size leaves and, last, a variable leaf's header."""
        if not run:
            return []
        layout = _layout([_code(leaf) for leaf in run])
        names = [self.source.fresh("a") for _ in run]
        unpack = self.source.const(layout.unpack_from, "unpack")
        self.source.line(f"{_targets(names)} = {unpack}(p, o)")
        self.source.line(f"o += {layout.size}")
        return names

    def body(self, leaf: Node, header: str) -> str:
        """Emit the read of what follows a variable leaf's header; return its value's name."""
        value = self.source.fresh("v")
        if isinstance(leaf, Chunk):
            self.end_of(header, 1)
            decode = ".decode('utf-8')" if leaf.text else ""
            self.source.line(f"{value} = p[o:e]{decode}")
            self.source.line("o = e")
        elif isinstance(leaf, ListOf):
            self.items(value, header, [leaf.item], as_dict=False)
        elif isinstance(leaf, DictOf):
            self.items(value, header, [leaf.key, leaf.value], as_dict=True)
        elif isinstance(leaf, Maybe):
            with self.source.block(f"if {header} == 1:"):
                (item,) = self.read([leaf.item])
                self.source.line(f"{value} = {item}")
            with self.source.block(f"elif {header}:"):
                self.source.line(f"raise {self.malformed}")
            with self.source.block("else:"):
                self.source.line(f"{value} = None")
        return value

    def end_of(self, count: str, size: int) -> None:
        """``e``: where ``count`` items of ``size`` bytes end; refused past the payload."""
        self.source.line(f"e = o + {count}" if size == 1 else f"e = o + {count} * {size}")
        with self.source.block("if e > n:"):
            self.source.line(f"raise {self.malformed}")

    def items(self, value: str, count: str, parts: list[Node], as_dict: bool) -> None:
        """``count`` items (or key-value pairs) made of ``parts``."""
        opening, closing = "{}" if as_dict else "[]"
        sizes = [part.fixed_size for part in parts]
        if None not in sizes:  # fixed-size items: one iter_unpack over one checked slice
            self.end_of(count, sum(s or 0 for s in sizes))
            scalars = [leaf for part in parts for leaf in leaves(part)]
            names = [self.source.fresh("a") for _ in scalars]
            it = iter(names)
            element = ": ".join(build_expr(part, it, self.source) for part in parts)
            iterate = self.source.const(_layout([_code(s) for s in scalars]).iter_unpack, "iter")
            loop = f"for {_targets(names)} in {iterate}(p[o:e])"
            self.source.line(f"{value} = {opening}{element} {loop}{closing}")
            self.source.line("o = e")
            return
        minimum = sum(part.min_size for part in parts)  # >= 1: checked by the schema
        with self.source.block(f"if {count} * {minimum} > n - o:"):
            self.source.line(f"raise {self.malformed}")
        self.source.line(f"{value} = {opening}{closing}")
        with self.source.block(f"for _ in range({count}):"):
            read = self.read(parts)
            if as_dict:
                self.source.line(f"{value}[{read[0]}] = {read[1]}")
            else:
                self.source.line(f"{value}.append({read[0]})")


def _decoder(record: Record) -> Decode:
    if record.fixed_size is not None:
        return flat_decoder(record)
    source = Source(f"decode_{record.cls.__name__}")
    with source.block(f"def {source.name}(p):"):
        source.line("n = len(p)")
        source.line("o = 1")
        reader = _Reader(source)
        (message,) = reader.read([record])
        with source.block("if o != n:"):
            source.line(f"raise {reader.malformed}")
        source.line(f"return {message}")
    decode: Decode = source.compile()
    return decode


# --- encoding --------------------------------------------------------------------------------


class _Writer:
    """Writes the code putting the bytes of leaves into ``parts`` (``put`` appends)."""

    def __init__(self, source: Source) -> None:
        self.source = source

    def write(
        self,
        pairs: Sequence[tuple[Node, str]],
        codes: Sequence[str] = (),
        arguments: Sequence[str] = (),
    ) -> None:
        """Emit the writes of ``(leaf, expression)`` pairs after a run already holding
        ``codes``/``arguments``: fixed-size leaves and a variable leaf's header are one
        ``pack``, then comes the variable leaf's body."""
        run_codes, run_arguments = list(codes), list(arguments)
        for leaf, expression in pairs:
            if isinstance(leaf, Scalar):
                run_codes.append(leaf.code)
                run_arguments.append(apply_steps(expression, leaf.encode_steps, self.source))
                continue
            value = self.source.fresh("v")
            header = self.prepare(leaf, expression, value)
            run_codes.append(_code(leaf))
            run_arguments.append(header)
            self.pack(run_codes, run_arguments)
            run_codes, run_arguments = [], []
            self.body(leaf, value)
        self.pack(run_codes, run_arguments)

    def pack(self, codes: Sequence[str], arguments: Sequence[str]) -> None:
        if codes:
            pack = self.source.const(_layout(codes).pack, "pack")
            self.source.line(f"put({pack}({', '.join(arguments)}))")

    def prepare(self, leaf: Node, expression: str, value: str) -> str:
        """Bind the leaf's value to ``value``; return its header (length, count or flag)."""
        if isinstance(leaf, Chunk):
            expression = apply_steps(expression, leaf.encode_steps, self.source)
            encode = ".encode('utf-8')" if leaf.text else ""
            self.source.line(f"{value} = {expression}{encode}")
            return f"len({value})"
        self.source.line(f"{value} = {expression}")
        return f"{value} is not None" if isinstance(leaf, Maybe) else f"len({value})"

    def body(self, leaf: Node, value: str) -> None:
        if isinstance(leaf, Chunk):
            self.source.line(f"put({value})")
        elif isinstance(leaf, ListOf):
            item = self.source.fresh("x")
            self.items(f"{item} in {value}", [(leaf.item, item)])
        elif isinstance(leaf, DictOf):
            key, item = self.source.fresh("k"), self.source.fresh("x")
            self.items(f"{key}, {item} in {value}.items()", [(leaf.key, key), (leaf.value, item)])
        elif isinstance(leaf, Maybe):
            with self.source.block(f"if {value} is not None:"):
                self.write(access_leaves(leaf.item, value))

    def items(self, loop: str, parts: list[tuple[Node, str]]) -> None:
        pairs = [pair for part, name in parts for pair in access_leaves(part, name)]
        if all(isinstance(leaf, Scalar) for leaf, _ in pairs):  # fixed-size: one join
            codes = [_code(leaf) for leaf, _ in pairs]
            arguments = [
                apply_steps(expression, as_scalar(leaf).encode_steps, self.source)
                for leaf, expression in pairs
            ]
            pack = self.source.const(_layout(codes).pack, "pack")
            self.source.line(f"put(b''.join([{pack}({', '.join(arguments)}) for {loop}]))")
            return
        with self.source.block(f"for {loop}:"):
            self.write(pairs)


def _encoder(record: Record, tag: int) -> Encode:
    if record.fixed_size is not None:
        return flat_encoder(record, tag)
    source = Source(f"encode_{record.cls.__name__}")
    with source.block(f"def {source.name}(m):"):
        source.line("parts = []")
        source.line("put = parts.append")
        _Writer(source).write(access_leaves(record, "m"), ["B"], [str(tag)])
        source.line("return b''.join(parts)")
    encode: Encode = source.compile()
    return encode


# --- the serde -------------------------------------------------------------------------------


def _code(leaf: Node) -> str:
    """A leaf's struct code in a run: its own, or its header's for a variable leaf."""
    return leaf.code if isinstance(leaf, Scalar) else _HEADER_CODE[type(leaf)]


def _targets(names: Sequence[str]) -> str:
    """A tuple target for an unpacked run: ``(a, b,)``."""
    return f"({', '.join(names)},)"


def _layout(codes: Sequence[str]) -> struct.Struct:
    return struct.Struct("<" + "".join(codes))


class VariableSerde(TaggedSerde):
    """Variable-size binary payloads derived from the attrs fields (see :mod:`.schema`).

    Besides the payloads of ``decode_many``, it decodes a run of frames of one length left in
    a read (:meth:`decode_run`), as ``LengthPrefixedFramer.feed_run`` finds them.
    """

    __slots__ = ("_runs", "smallest_fixed_frame")

    def __init__(self, decode_types: tuple[type, ...], encode_types: tuple[type, ...]) -> None:
        decode_schema = variable_schema(decode_types)
        encode_schema = variable_schema(encode_types)
        super().__init__(
            decode_schema,
            encode_schema,
            tuple(_decoder(record) for record in decode_schema.records),
            {record.cls: _encoder(record, tag) for tag, record in enumerate(encode_schema.records)},
        )
        # Per tag, for a fixed-size class: its payload size and how a block of its frames
        # starts decoding.  The block starts at the first tag, so each of its records is a
        # payload and the next frame's prefix: the fixed serde's layout, padded by a prefix.
        self._runs: tuple[tuple[int, BlockStart] | None, ...] = tuple(
            None
            if record.fixed_size is None
            else (1 + record.fixed_size, block_starter(record, PREFIX_SIZE))
            for record in decode_schema.records
        )
        sizes = [run[0] for run in self._runs if run is not None]
        #: The smallest frame (prefix included) of a fixed-size class, or None when no class
        #: has a fixed size: no run of frames is ever decoded as a block.
        self.smallest_fixed_frame = PREFIX_SIZE + min(sizes) if sizes else None

    def decode_run(self, buffer: bytes, stride: int, count: int) -> list[Any]:
        """The first ``count`` frames of ``buffer``, each ``stride`` bytes with its prefix, as
        ``decode_many`` of their payloads gives: a bad one yields a :class:`DecodeError`.

        When the frames are of a fixed-size class of that length, those with the first one's
        tag (one stride slice and an ``lstrip`` find how many) decode as one block, the fixed
        codec's way: one ``iter_unpack``, no slice per frame.  The rest of the run is sliced
        and goes to ``decode_many``.
        """
        out: list[Any] = []
        done = 0
        size = stride - PREFIX_SIZE
        tag = buffer[PREFIX_SIZE] if size else len(self._runs)  # an empty payload has no tag
        run = self._runs[tag] if tag < len(self._runs) else None
        if run is not None and run[0] == size:
            tags = buffer[PREFIX_SIZE : count * stride : stride]
            done = len(tags) - len(tags.lstrip(tags[:1]))
            self._decode_block(out, run[1], buffer, stride, done)
        if done < count:
            rest = range(done * stride, count * stride, stride)
            payloads = [buffer[start + PREFIX_SIZE : start + stride] for start in rest]
            out += self.decode_many(payloads)
        return out

    def _decode_block(
        self, out: list[Any], start: BlockStart, buffer: bytes, stride: int, count: int
    ) -> None:
        """Append the messages of the first ``count`` frames, all of ``start``'s class.

        A bad frame is reported as ``FixedSerde.decode_block`` reports a bad record, and the
        frames after it go on from where the block's iterator stopped.
        """
        size = count * stride
        block = buffer[PREFIX_SIZE : PREFIX_SIZE + size]
        if len(block) < size:  # the buffer ends with the run: the last record lacks its padding
            block = block.ljust(size, b"\0")
        fill, source = start(block)
        self.fill_reporting(
            out, fill, source, block, lambda i: buffer[i * stride + PREFIX_SIZE : (i + 1) * stride]
        )

