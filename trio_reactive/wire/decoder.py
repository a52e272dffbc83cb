"""Decoders: per-connection state that turns reads into batches of messages.

A :class:`Decoder` pairs a framer (where frames end) with a serde (what a frame means).  The
built-in binary codecs have faster decoders for the same framer and serde kinds, which decode a
read's records as one block; they give exactly what the plain decoder would.  Every decoder
reports, through :meth:`Decoder.unconsumed`, the exact bytes a stage read but did not consume,
so that a stage hand-over can give them to the next stage's codec.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .errors import FrameTooLarge
from .framing import RUN_MINIMUM, FixedFramer, FramerBase, LengthPrefixedFramer
from .serde import BatchSerde

if TYPE_CHECKING:
    from .binary.fixed import FixedSerde
    from .binary.variable import VariableSerde

__all__ = ["Decoded", "Decoder", "FixedDecoder", "VariableDecoder"]


class Decoded:
    """What one read decoded: its messages, and the bytes of their frames for a hand-over.

    ``messages`` holds a :class:`~trio_reactive.wire.errors.DecodeError` in place of each bad
    frame.  ``overflow`` is the :class:`~trio_reactive.wire.errors.FrameTooLarge` met after
    them: past it the input cannot be framed by this codec, and the decoder takes no more.  The
    frame bytes are kept by reference (no copy); only :meth:`Decoder.unconsumed` slices them.
    """

    __slots__ = ("_end", "_region", "messages", "overflow")

    def __init__(
        self, messages: list[Any], overflow: FrameTooLarge | None, region: bytes, end: int
    ) -> None:
        self.messages = messages
        self.overflow = overflow
        self._region = region
        self._end = end


class Decoder:
    """Per-connection decoding state: a framer's partial frame and the serde to apply."""

    __slots__ = ("_decode_one", "_lone", "decode_frames", "framer")

    def __init__(self, framer: FramerBase, serde: BatchSerde) -> None:
        self.framer = framer
        self.decode_frames: Callable[[list[bytes]], list[Any]] = serde.decode_many
        self._lone = framer.lone
        self._decode_one = serde.decode

    def decode(self, data: bytes | bytearray) -> Decoded:
        """Decode every complete frame in ``data``, as :meth:`decode_batch` does, never raising.

        An oversize frame ends the :class:`Decoded` (its ``overflow``) with the frames before it
        decoded; the bytes from that frame on stay available to :meth:`unconsumed`.  A read
        that is one whole frame (``framer.lone``) is decoded as one message, with no batch.
        """
        payload = self._lone(data)
        if payload is not None:
            try:
                messages = [self._decode_one(payload)]
            except Exception:
                messages = self.decode_frames([payload])  # the DecodeError the batch way makes
            region = data if type(data) is bytes else bytes(data)  # kept: never a bytearray
            return Decoded(messages, None, region, len(data))
        return self._decode_read(data)

    def _decode_read(self, data: bytes | bytearray) -> Decoded:
        overflow = None
        try:
            messages = self.decode_batch(data)
        except FrameTooLarge as exc:
            messages = self.decode_frames(exc.frames)
            # A value from now on, like a DecodeError in ``messages``: its traceback would keep
            # the caller's frames (and what they hold) alive for as long as it is kept.
            overflow = exc.with_traceback(None)
        framer = self.framer
        return Decoded(messages, overflow, framer.region, framer.end)

    def decode_batch(self, data: bytes | bytearray) -> list[Any]:
        """Decode every complete frame in ``data``; a bad frame yields a DecodeError in its place.

        Raises :class:`~trio_reactive.wire.errors.FrameTooLarge` (with the frames accepted
        before it in ``.frames``) when a frame exceeds the limit.
        """
        return self.decode_frames(self.framer.feed(data))

    def finish(self) -> Decoded:
        """The input has ended: what the partial frame kept still makes.

        Usually nothing.  An incomplete frame is reported as a
        :class:`~trio_reactive.wire.errors.DecodeError` saying where the input ended (a peer
        that closed mid-message, a last line with no newline), unless the codec delivers such
        a line (``Textual(deliver_last_line=True)``), which is then decoded.
        """
        framer = self.framer
        frames, error = framer.flush()
        messages = self.decode_frames(frames) if frames else []
        if error is not None:
            messages.append(error)
        return Decoded(messages, None, framer.region, framer.end)

    def unconsumed(self, batches: Sequence[Decoded], consumed: int = 0) -> bytes:
        """The exact bytes read and not consumed, for another codec to frame afresh.

        ``batches``: every :class:`Decoded` of this decoder not yet wholly consumed, oldest
        first, of which the first has had ``consumed`` messages handled.  The result is their
        remaining frames' bytes, then the partial frame this decoder keeps.
        """
        parts = []
        offset_after = self.framer.offset_after
        for index, batch in enumerate(batches):
            region, end = batch._region, batch._end
            start = 0
            if index == 0 and consumed:
                # All of a batch's messages: its frames end at ``end`` (an overflow's bytes,
                # from the frame too large on, follow them).
                whole = consumed >= len(batch.messages) and batch.overflow is None
                start = end if whole else offset_after(region, consumed)
            if start < end:
                parts.append(region[start:end])
        parts.append(self.framer.pending)
        return b"".join(parts)


class FixedDecoder(Decoder):
    """The built-in fixed codec's decoder: a read's whole records go to the serde as one block.

    The records are not sliced one by one: ``FixedFramer.feed_block`` hands over the aligned
    block and ``FixedSerde.decode_block`` decodes it with one ``iter_unpack`` (see there), giving
    exactly what ``decode_frames(framer.feed(data))`` would.
    """

    __slots__ = ("_decode_block", "_feed_block")

    def __init__(self, framer: FixedFramer, serde: FixedSerde) -> None:
        super().__init__(framer, serde)
        self._feed_block = framer.feed_block
        self._decode_block = serde.decode_block

    def decode_batch(self, data: bytes | bytearray) -> list[Any]:
        return self._decode_block(self._feed_block(data))


class VariableDecoder(Decoder):
    """The built-in variable codec's decoder: a run of frames of one length is not sliced.

    ``LengthPrefixedFramer.feed_run`` leaves the read's leading run of frames of one length
    where it lies, and ``VariableSerde.decode_run`` decodes it as one block when it is of one
    fixed-size class (see both); the frames after it go the ``Decoder`` way.  The messages are
    exactly what ``decode_frames(framer.feed(data))`` would give, and an oversize frame raises
    the same :class:`~trio_reactive.wire.errors.FrameTooLarge`, with the run in its ``.frames``.
    """

    __slots__ = ("_decode_run", "_feed", "_feed_run", "_run_bytes")

    def __init__(
        self, framer: LengthPrefixedFramer, serde: VariableSerde, smallest_frame: int
    ) -> None:
        super().__init__(framer, serde)
        self._feed = framer.feed
        self._feed_run = framer.feed_run
        self._decode_run = serde.decode_run
        #: A read shorter than this holds no run worth decoding as a block: it is not looked at.
        self._run_bytes = RUN_MINIMUM * smallest_frame

    def decode_batch(self, data: bytes | bytearray) -> list[Any]:
        if len(data) < self._run_bytes:
            return self.decode_frames(self._feed(data))
        buffer, stride, count, frames = self._feed_run(data)
        if not count:
            return self.decode_frames(frames)
        out = self._decode_run(buffer, stride, count)
        if frames:
            out += self.decode_frames(frames)
        return out
