"""The errors of the wire layer, and the base of the library's exception tree.

Every error trio_reactive raises or reports derives from :class:`ReactiveError`.  The ones the
sans-IO wire layer raises live here, so that the layer imports nothing above it;
:mod:`trio_reactive.errors` re-exports them beside the engine's own.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DecodeError",
    "EncodeError",
    "FrameTooLarge",
    "ProtocolDefinitionError",
    "ReactiveError",
    "WireError",
]

_PREVIEW = 48


def _preview(frame: bytes) -> str:
    shown = bytes(frame[:_PREVIEW])
    more = f"... ({len(frame)} bytes)" if len(frame) > _PREVIEW else ""
    return f"{shown!r}{more}"


class ReactiveError(Exception):
    """Base of every error raised or reported by trio_reactive."""


class WireError(ReactiveError):
    """Something about bytes on the wire: framing, decoding or encoding."""


class FrameTooLarge(WireError):
    """A frame is longer than ``max_message_size``.

    Raised by a framer as soon as the excess is seen, before buffering it.  ``frames`` holds the
    complete frames that preceded the oversize one in the same feed, so nothing already accepted
    is lost; the stream after it cannot be trusted and is closed by the engine.
    """

    def __init__(self, size: int, limit: int, frames: list[bytes] | None = None) -> None:
        self.size = size
        self.limit = limit
        self.frames: list[bytes] = frames if frames is not None else []
        #: What was wrong, as :class:`DecodeError` has it, so one input-error hook fits both.
        self.reason = f"frame of at least {size} bytes exceeds max_message_size={limit}"
        super().__init__(self.reason)


class DecodeError(WireError):
    """A complete frame could not be turned into a message.

    Decoders return these *in place of* the bad frame's message instead of raising, so one bad
    frame never stops the frames after it from being decoded.  ``reason`` says what was wrong.
    """

    def __init__(self, reason: str, frame: bytes = b"") -> None:
        self.reason = reason
        self.frame = bytes(frame)
        super().__init__(f"{reason} (frame {_preview(self.frame)})")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DecodeError):
            return NotImplemented
        return (self.reason, self.frame) == (other.reason, other.frame)

    def __hash__(self) -> int:
        return hash((self.reason, self.frame))


class EncodeError(WireError, TypeError):
    """A message cannot be encoded: wrong type for the protocol, or a value that does not fit."""


class ProtocolDefinitionError(ReactiveError, TypeError):
    """A protocol, a model class or a composite service is declared in a way that cannot work."""


class ConfigError(ReactiveError, ValueError):
    """A configuration value is out of range or inconsistent."""
