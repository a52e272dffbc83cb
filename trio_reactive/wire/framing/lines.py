"""The textual codec's framer: one frame per line."""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import DecodeError, EncodeError
from ..prefix import MAX_U32
from .base import FramerBase

__all__ = ["LineFramer"]


class LineFramer(FramerBase):
    """UTF-8 text, one message per line ending in ``\\n`` (or ``\\r\\n``).

    ``max_message_size`` bounds a line's length without its line ending.  By default a frame
    is the line without its ending and empty lines are skipped, as line protocols do;
    ``keep_endings`` delivers every line with its ending (so an empty line is ``b"\\r\\n"`` or
    ``b"\\n"``, never skipped), and then each payload to send must end in ``\\n`` itself.
    ``deliver_last_line`` makes a last line that the input ends without a newline a frame,
    instead of reporting it.
    """

    __slots__ = ("deliver_last_line", "keep_endings", "skip_empty")

    def __init__(
        self,
        max_message_size: int = MAX_U32,
        *,
        keep_endings: bool = False,
        skip_empty: bool = True,
        deliver_last_line: bool = False,
    ) -> None:
        super().__init__(max_message_size)
        self.keep_endings = keep_endings
        self.skip_empty = skip_empty and not keep_endings
        self.deliver_last_line = deliver_last_line

    def lone(self, data: bytes | bytearray) -> bytes | None:
        if (
            self._kept
            or self.keep_endings
            or type(data) is not bytes
            or data.find(b"\n") != len(data) - 1  # the first newline ends it: one line
            or b"\r" in data
            or not 1 < len(data) <= self.max_message_size + 1
        ):
            return None
        return data[:-1]

    def feed(self, data: bytes | bytearray) -> list[bytes]:
        limit = self.max_message_size
        if b"\n" not in data:
            size = self._kept_size + len(data)
            if size > limit + data.endswith(b"\r"):  # a last \r may start a \r\n ending
                self._kept.append(bytes(data))  # the bytes from the long line on are left over
                raise self._overflow(size, [], None)
            return self._keep(data)
        joined = self._joined(data)
        lines = joined.split(b"\n")
        tail = lines.pop()
        # A line can only be too long when the joined bytes are; skip the scan otherwise.
        if len(joined) > limit and max(map(len, lines)) > limit:
            self._raise_on_long_line(lines, limit, joined)
        if len(tail) > limit + tail.endswith(b"\r"):
            raise self._overflow(len(tail), self._frames(lines, joined), joined)
        self._rest(joined, len(joined) - len(tail))
        return self._frames(lines, joined)

    def _raise_on_long_line(self, lines: list[bytes], limit: int, joined: bytes) -> None:
        for index, line in enumerate(lines):
            size = len(line) - (1 if line.endswith(b"\r") else 0)
            if size > limit:
                raise self._overflow(size, self._frames(lines[:index], joined), joined)

    def _frames(self, lines: list[bytes], joined: bytes) -> list[bytes]:
        """The frames of complete ``lines`` (split off their ``\\n``), as the options want them."""
        if self.keep_endings:
            return [line + b"\n" for line in lines]
        if b"\r" in joined:
            lines = [line[:-1] if line.endswith(b"\r") else line for line in lines]
        if self.skip_empty and b"" in lines:
            lines = [line for line in lines if line]
        return lines

    def _flush(self, rest: bytes) -> tuple[list[bytes], DecodeError | None]:
        if self.deliver_last_line:  # as it is: with no newline to strip or keep
            return ([rest] if self.keep_endings else self._frames([rest], rest)), None
        reason = f"the input ended inside a line: {len(rest)} bytes with no newline after them"
        return [], DecodeError(reason, rest)

    def frame(self, payload: bytes) -> bytes:
        if self.keep_endings:
            if not payload or payload.find(b"\n") != len(payload) - 1:
                raise EncodeError(
                    f"a kept-ending line payload must end in its one newline: {payload[:48]!r}"
                )
            return payload
        if b"\n" in payload:
            raise EncodeError(f"a line payload cannot contain a newline: {payload[:48]!r}")
        return payload + b"\n"

    def frame_all(self, payloads: Iterable[bytes]) -> bytes:
        items = payloads if isinstance(payloads, list) else list(payloads)
        if not items:
            return b""
        if self.keep_endings:
            return b"".join([self.frame(payload) for payload in items])
        joined = b"\n".join(items)
        if joined.count(b"\n") != len(items) - 1:  # one C-level count checks every payload
            for payload in items:
                self.frame(payload)
        return joined + b"\n"

    def join(self, payloads: list[bytes]) -> bytes:
        if self.keep_endings:
            return b"".join(payloads)
        return b"\n".join(payloads) + b"\n" if payloads else b""

    def offset_after(self, data: bytes, count: int) -> int:
        """Where the first ``count`` frames of ``data`` end.

        A skipped empty line goes with the frame before it: the offset is past the empty lines
        that follow the last of the ``count`` frames, as it is past those between them.
        """
        if not count:
            return 0
        offset = 0
        empty = self._empty_line
        for _ in range(count):
            start = offset
            offset = data.index(b"\n", offset) + 1
            while empty(data, start, offset):
                start = offset
                offset = data.index(b"\n", offset) + 1
        while True:
            stop = data.find(b"\n", offset) + 1
            if not (stop and empty(data, offset, stop)):
                return offset
            offset = stop

    def _empty_line(self, data: bytes, start: int, stop: int) -> bool:
        """Whether ``data[start:stop]``, a line with its ``\n``, is one this framer skips."""
        size = stop - start
        return self.skip_empty and (size == 1 or (size == 2 and data[start] == 13))


