"""Events a service reports to its ``on_event`` callback.

``Connected`` / ``Disconnected`` fire exactly once per TCP connection: the place to create and
drop server-side sessions.  ``PeerArrived`` / ``PeerLeft`` fire around each stage a connection
enters (once, for a single-protocol service).  The rest report errors that the engine handled
without crashing anything.  ``Rejected`` is the one event about a connection that never became a
peer: the server closed it before starting the service on it (too many connections, a TLS
handshake that failed or took too long).
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from .engine.peer import Peer

__all__ = [
    "Connected",
    "DisconnectReason",
    "Disconnected",
    "Event",
    "InputError",
    "PeerArrived",
    "PeerLeft",
    "ProcessorError",
    "Rejected",
    "ServiceTerminating",
    "StageStats",
]


class DisconnectReason(enum.Enum):
    """Why a connection ended."""

    PEER_CLOSED = "the peer closed the connection"
    RESET = "the connection broke (reset or I/O error)"
    PROCESSOR_ENDED = "the processor ended"
    CLOSED = "closed locally with flush_and_close"
    ABORTED = "aborted locally"
    SHUTDOWN = "the service shut down"
    PROCESSOR_ERROR = "the processor raised"
    INPUT_ERROR = "undecodable input"
    FRAME_TOO_LARGE = "a frame exceeded max_message_size"
    SLOW_PEER = "a queue stayed full past the retry policy"
    STAGE_ERROR = "a transition to an unknown stage"
    HANDSHAKE_TIMEOUT = (
        "the connection did not complete its handshake (TLS, then a first whole message) "
        "within handshake_timeout"
    )
    HANDSHAKE_FAILED = "the TLS handshake failed"
    TOO_MANY_CONNECTIONS = "the server held max_connections connections, or ran out of descriptors"
    IDLE_TIMEOUT = "no traffic either way for idle_timeout"
    WRITE_TIMEOUT = "the peer took nothing of what was queued for it for write_timeout"
    HEARTBEAT_TIMEOUT = "nothing at all was received for heartbeat_timeout"


@attrs.frozen
class StageStats:
    """What one stage of one connection did."""

    messages_in: int
    messages_out: int
    bytes_in: int
    bytes_out: int
    duration: float


@attrs.frozen
class Connected:
    """A TCP connection is up (once per connection, before any stage): create its state here."""

    peer: Peer


@attrs.frozen
class Disconnected:
    """A connection has ended, once per connection: drop its state here.

    ``reason`` says why; ``error`` is the exception behind it, if one was.
    """

    peer: Peer
    reason: DisconnectReason
    error: BaseException | None = None


@attrs.frozen
class PeerArrived:
    """A connection entered a stage (``stage``: its key; once, for a single-protocol service)."""

    peer: Peer
    stage: Any


@attrs.frozen
class PeerLeft:
    """A stage ended. A callback may call ``peer.goto(stage)`` to choose the next one."""

    peer: Peer
    stage: Any
    stats: StageStats


@attrs.frozen
class ServiceTerminating:
    """The service is shutting down; ``peer`` is set for the per-connection notices."""

    peer: Peer | None = None


@attrs.frozen
class Rejected:
    """A server closed a connection before it became a peer; no other event is seen for it.

    ``address`` is the remote address (``None`` where the transport has none), ``reason`` one of
    ``TOO_MANY_CONNECTIONS``, ``HANDSHAKE_TIMEOUT``, ``HANDSHAKE_FAILED`` or ``SHUTDOWN`` (the
    server began shutting down first), and ``error`` what the TLS layer raised, if anything.
    """

    address: Any
    reason: DisconnectReason
    error: BaseException | None = None


@attrs.frozen
class InputError:
    """A frame could not be decoded (or was too large); see ``error``."""

    peer: Peer
    error: Exception


@attrs.frozen
class ProcessorError:
    """The processor (or encoding one of its replies) raised; see ``error``."""

    peer: Peer
    error: BaseException


Event = (
    Connected
    | Disconnected
    | PeerArrived
    | PeerLeft
    | ServiceTerminating
    | InputError
    | ProcessorError
    | Rejected
)
"""Any of the events above: what an ``on_event`` callback receives (sync or async)."""
