"""Hand-written codecs for the peers, producing exactly trio_reactive's bytes.

Every peer server (bare trio, asyncio, uvloop, zmq) and the load generator use these, so the peers
differ only in their I/O model.  Each is what an author would write by hand for *this* message
pair, in its fastest idiomatic form:

* ``textual``: JSON lines ``{"Ping":{...}}``, split with ``bytes.split``, decoded with orjson and a
  cattrs structure hook fetched once (cattrs' orjson preset, as its docs recommend);
* ``fixed``: 22-byte records (u8 tag, then the fields), decoded with ``struct.iter_unpack`` over
  the whole read (one C call per read, a constructor call per record);
* ``variable``: a u32-LE length, then the same tagged record, walked with ``unpack_from``.

One trick is borrowed from trio_reactive because without it the comparison would be of glibc's
heap, not of servers: orjson returns each output in a 1 KiB buffer shrunk with ``realloc``, and
thousands of them alive at once (a batch waiting for ``b"\n".join``) make every batch grow and
trim the heap again: 2.6-3 µs per message instead of 0.47 µs here.  The textual peers copy each
output into a right-sized object first, as trio_reactive's JSON serde does.

``tests/test_benchmarks_smoke.py`` checks that these bytes equal trio_reactive's, so that the
same load generator can drive every server.  Frames are also offered unframed
(:meth:`WireCodec.encode_payload` / :meth:`WireCodec.decode_payload`) for zmq, which frames
messages itself.
"""

from __future__ import annotations

import struct
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

import orjson
from cattrs.preconf.orjson import make_converter

from .model import Ping, Pong

__all__ = ["Feed", "WireCodec", "client_wire", "server_wire", "wire"]

#: Stateful decoder: bytes as they arrive in, complete messages out.
Feed = Callable[[bytes], list[Any]]

#: The tag byte of the first (here: only) class of a protocol side.
_TAG = 0
#: Tag, u32 seq, i64 sent_ns, f64 value, u8 flags: the fixed record and the variable payload.
_RECORD = struct.Struct("<BIqdB")
_LENGTH = struct.Struct("<I")
#: Length prefix and record in one ``pack``: the payload size is known for this message.
_PREFIXED = struct.Struct("<IBIqdB")


class WireCodec(ABC):
    """Decodes messages of class ``incoming`` and encodes those of class ``outgoing``."""

    name: str

    def __init__(self, incoming: type, outgoing: type) -> None:
        self.incoming = incoming
        self.outgoing = outgoing

    @abstractmethod
    def decoder(self) -> Feed:
        """A fresh per-connection decoder, keeping a partial frame between calls."""

    @abstractmethod
    def encode_batch(self, messages: Sequence[Any]) -> bytes:
        """Many messages framed into one buffer, for one write."""

    @abstractmethod
    def decode_payload(self, payload: bytes) -> Any:
        """One unframed payload (as zmq delivers it) to a message."""

    @abstractmethod
    def encode_payload(self, message: Any) -> bytes:
        """One message, unframed (zmq frames it)."""

    @abstractmethod
    def counter(self) -> Callable[[bytes], int]:
        """A per-connection frame counter: how many frames each chunk completes.

        The load generator only counts replies, never decodes them, so that the client stays
        far cheaper than any server it measures.
        """


class TextualWire(WireCodec):
    name = "textual"

    def __init__(self, incoming: type, outgoing: type) -> None:
        super().__init__(incoming, outgoing)
        converter = make_converter()
        self._by_tag = {incoming.__name__: (incoming, converter.get_structure_hook(incoming))}
        self._tag = outgoing.__name__
        self._unstructure = converter.get_unstructure_hook(outgoing)

    def decoder(self) -> Feed:
        by_tag = self._by_tag
        loads = orjson.loads
        pending = b""

        def feed(data: bytes) -> list[Any]:
            nonlocal pending
            lines = (pending + data if pending else data).split(b"\n")
            pending = lines.pop()
            out = []
            append = out.append
            for line in lines:
                ((tag, body),) = loads(line).items()
                cls, structure = by_tag[tag]
                append(structure(body, cls))
            return out

        return feed

    def encode_batch(self, messages: Sequence[Any]) -> bytes:
        if not messages:
            return b""
        dumps, tag, unstructure = orjson.dumps, self._tag, self._unstructure
        # ``.decode().encode()``: a right-sized copy of each output (see the module docstring).
        return b"\n".join([dumps({tag: unstructure(m)}).decode().encode() for m in messages]) + (
            b"\n"
        )

    def decode_payload(self, payload: bytes) -> Any:
        ((tag, body),) = orjson.loads(payload).items()
        cls, structure = self._by_tag[tag]
        return structure(body, cls)

    def encode_payload(self, message: Any) -> bytes:
        return orjson.dumps({self._tag: self._unstructure(message)})

    def counter(self) -> Callable[[bytes], int]:
        return lambda data: data.count(b"\n")


class _RecordWire(WireCodec):
    """What the two binary forms share: the tagged record and its checks."""

    def decode_payload(self, payload: bytes) -> Any:
        tag, seq, sent_ns, value, flags = _RECORD.unpack(payload)
        if tag != _TAG:
            raise ValueError(f"unknown tag {tag}")
        return self.incoming(seq, sent_ns, value, flags)

    def encode_payload(self, message: Any) -> bytes:
        return _RECORD.pack(_TAG, message.seq, message.sent_ns, message.value, message.flags)

    def counter(self) -> Callable[[bytes], int]:
        size = self.frame_size
        held = 0

        def count(data: bytes) -> int:
            nonlocal held
            frames, held = divmod(held + len(data), size)
            return frames

        return count

    @property
    @abstractmethod
    def frame_size(self) -> int:
        """Bytes per frame on the wire (every message of this pair has one size)."""


class FixedWire(_RecordWire):
    name = "fixed"
    frame_size = _RECORD.size

    def decoder(self) -> Feed:
        cls = self.incoming
        size = _RECORD.size
        iter_unpack = _RECORD.iter_unpack
        pending = b""

        def feed(data: bytes) -> list[Any]:
            nonlocal pending
            joined = pending + data if pending else data
            end = len(joined) - len(joined) % size
            pending = joined[end:]
            return [
                cls(seq, sent_ns, value, flags)
                for tag, seq, sent_ns, value, flags in iter_unpack(memoryview(joined)[:end])
                if tag == _TAG or _bad_tag(tag)
            ]

        return feed

    def encode_batch(self, messages: Sequence[Any]) -> bytes:
        pack = _RECORD.pack
        return b"".join([pack(_TAG, m.seq, m.sent_ns, m.value, m.flags) for m in messages])


class VariableWire(_RecordWire):
    name = "variable"
    frame_size = _PREFIXED.size

    def decoder(self) -> Feed:
        cls = self.incoming
        length_from = _LENGTH.unpack_from
        record_from = _RECORD.unpack_from
        record_size = _RECORD.size
        pending = b""

        def feed(data: bytes) -> list[Any]:
            nonlocal pending
            joined = pending + data if pending else data
            available = len(joined)
            position = 0
            out = []
            append = out.append
            while available - position >= 4:
                (size,) = length_from(joined, position)
                end = position + 4 + size
                if end > available:
                    break
                if size != record_size:
                    raise ValueError(f"a {size}-byte payload is no message of this protocol")
                tag, seq, sent_ns, value, flags = record_from(joined, position + 4)
                if tag != _TAG:
                    _bad_tag(tag)
                append(cls(seq, sent_ns, value, flags))
                position = end
            pending = joined[position:]
            return out

        return feed

    def encode_batch(self, messages: Sequence[Any]) -> bytes:
        pack = _PREFIXED.pack
        size = _RECORD.size
        return b"".join([pack(size, _TAG, m.seq, m.sent_ns, m.value, m.flags) for m in messages])


def _bad_tag(tag: int) -> bool:
    raise ValueError(f"unknown tag {tag}")


_WIRES: dict[str, type[WireCodec]] = {
    "textual": TextualWire,
    "fixed": FixedWire,
    "variable": VariableWire,
}


def wire(codec: str, incoming: type, outgoing: type) -> WireCodec:
    """The hand-written codec named ``codec`` for one direction pair."""
    return _WIRES[codec](incoming, outgoing)


def server_wire(codec: str) -> WireCodec:
    """A server's view: decodes :class:`Ping`, encodes :class:`Pong`."""
    return wire(codec, Ping, Pong)


def client_wire(codec: str) -> WireCodec:
    """The load generator's view: encodes :class:`Ping`, counts :class:`Pong` frames."""
    return wire(codec, Pong, Ping)
