"""The fixed-binary serde: every message one record of one size, decoded by one ``struct`` call.

The layout comes from :mod:`.schema`: tag byte, fields, zero padding up to the largest class.
A read's whole records are decoded as one block (:meth:`FixedSerde.decode_block`): one
``iter_unpack`` when they are all of one class, one ``unpack_from`` each otherwise, and never a
slice per record.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .generate import BlockFill, block_starter, flat_decoder, flat_encoder, mixed_filler
from .nodes import Record
from .schema import SideSchema, fixed_schema
from .tagged import TaggedSerde

__all__ = ["FixedSerde"]


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
        self._fill_mixed = mixed_filler(records, [_pad(decode_schema, r) for r in records])

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

