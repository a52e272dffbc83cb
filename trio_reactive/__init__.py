"""trio_reactive: stream-based, reactive client/server messaging on Trio.

Protocols are attrs classes (a union per direction); logic is a processor from the stream of
incoming messages to the stream of outgoing ones; the engine moves batches between a reader, the
processor and a writer, with bounded queues everywhere.
"""

from .broadcast import Delivery, PeerGroup, broadcast
from .client import run_client, run_client_unix
from .composite import Service, Stage
from .config import Config, RetryPolicy, Strategy
from .connecting import ClientConnection, Connector, connect, connect_unix
from .engine import Peer
from .errors import (
    ConfigError,
    ConnectFailed,
    ConnectionClosed,
    DecodeError,
    EncodeError,
    FrameTooLarge,
    ProtocolDefinitionError,
    QueueFull,
    ReactiveError,
    StageError,
    WireError,
)
from .events import (
    Connected,
    Disconnected,
    DisconnectReason,
    Event,
    InputError,
    PeerArrived,
    PeerLeft,
    ProcessorError,
    Rejected,
    ServiceTerminating,
    StageStats,
)
from .processor import Processor, per_message
from .protocol import Protocol
from .server import Server
from .serving import (
    client_task,
    open_server,
    run_server,
    serve_forever,
    serve_listeners,
    serve_tcp,
    serve_unix,
    server_task,
)
from .stats import ServerStats
from .wire import layout
from .wire.codec import Codec, FixedBinary, Raw, Textual, VariableBinary
from .wire.serde import Serde
from .workers import serve_workers

__all__ = [
    "ClientConnection",
    "Codec",
    "Config",
    "ConfigError",
    "ConnectFailed",
    "Connected",
    "ConnectionClosed",
    "Connector",
    "DecodeError",
    "Delivery",
    "DisconnectReason",
    "Disconnected",
    "EncodeError",
    "Event",
    "FixedBinary",
    "FrameTooLarge",
    "InputError",
    "Peer",
    "PeerArrived",
    "PeerGroup",
    "PeerLeft",
    "Processor",
    "ProcessorError",
    "Protocol",
    "ProtocolDefinitionError",
    "QueueFull",
    "Raw",
    "ReactiveError",
    "Rejected",
    "RetryPolicy",
    "Serde",
    "Server",
    "ServerStats",
    "Service",
    "ServiceTerminating",
    "Stage",
    "StageError",
    "StageStats",
    "Strategy",
    "Textual",
    "VariableBinary",
    "WireError",
    "broadcast",
    "client_task",
    "connect",
    "connect_unix",
    "layout",
    "open_server",
    "per_message",
    "run_client",
    "run_client_unix",
    "run_server",
    "serve_forever",
    "serve_listeners",
    "serve_tcp",
    "serve_unix",
    "serve_workers",
    "server_task",
]

__version__ = "0.1.0"
