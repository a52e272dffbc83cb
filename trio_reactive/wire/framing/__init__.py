"""Framers: where one message ends and the next begins, with no I/O.

A framer is fed the byte stream in whatever chunks the network delivers and returns the complete
frames (payloads without their delimiters) found so far, keeping a partial frame for the next
call.  Each enforces a hard ``max_message_size``: an oversize frame raises
:class:`~trio_reactive.wire.errors.FrameTooLarge` as soon as it is seen, never buffering the
excess.

Costs are linear in the bytes fed, however they are cut.  The partial frame is kept as a list of
the pieces that make it, and a piece that completes no frame is only appended (after a check
that needs the piece alone: a newline in it, a length reached); the pieces are joined once, by
the read that completes a frame (``python -m benchmarks.codecs --large`` measures it).

Hot paths split with C-level operations (``bytes.split``, slicing by a fixed stride,
``struct.unpack_from`` with offsets); Python loops run once per *frame*, never per byte.

For a stage hand-over the decoder needs the bytes the frames came from: after each ``feed``,
``region`` holds the bytes framed (the joined partial and the read, or nothing when no frame
completed) and ``end`` where its last complete frame ends, and ``offset_after`` finds where
the first frames of such bytes end.  ``region`` and ``end`` are the built-in framers' own
(:class:`FramerBase`), read by the decoders only.
"""

from ..prefix import MAX_U32
from .base import RUN_MINIMUM, Framer, FramerBase
from .binary import FixedFramer, LengthPrefixedFramer
from .lines import LineFramer

__all__ = [
    "MAX_U32",
    "RUN_MINIMUM",
    "FixedFramer",
    "Framer",
    "FramerBase",
    "LengthPrefixedFramer",
    "LineFramer",
]
