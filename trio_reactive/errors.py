"""The exception tree.

Every error the library raises or reports derives from :class:`ReactiveError`, so callers can
catch the library's failures without catching their own.  The wire layer's errors (and the base)
are defined in :mod:`trio_reactive.wire.errors`, below everything else, and re-exported here
beside the engine's own.
"""

from __future__ import annotations

from .wire.errors import (
    ConfigError,
    DecodeError,
    EncodeError,
    FrameTooLarge,
    ProtocolDefinitionError,
    ReactiveError,
    WireError,
)

__all__ = [
    "ConfigError",
    "ConnectFailed",
    "ConnectionClosed",
    "DecodeError",
    "EncodeError",
    "FrameTooLarge",
    "ProtocolDefinitionError",
    "QueueFull",
    "ReactiveError",
    "StageError",
    "WireError",
]


class ConnectionClosed(ReactiveError):
    """The connection is closed: nothing more can be sent or received on it."""


class QueueFull(ReactiveError):
    """The outgoing queue is at capacity (raised by ``send_nowait``)."""


class ConnectFailed(ReactiveError, OSError):
    """A client could not connect to any resolved address within its retry policy."""


class StageError(ReactiveError):
    """A composite service was asked to enter a stage it does not declare."""
