"""The engine: one connection, owned by a nursery, moving batches (see :mod:`.connection`).

Files, in the order a message meets them: :mod:`.connection` (the connection's task),
:mod:`.stages` (its stages, one after another), :mod:`.inbound` (reads decoded into batches,
the cursor), :mod:`.inline` (a sync handler run over each read) or :mod:`.streamed` (a
processor in a task of its own), :mod:`.outbox` (every outgoing message, in order;
:mod:`.senders` when its queue is full), :mod:`.policies` (bad input and raising processors),
:mod:`.closing` (the graceful close, and the report of the end), :mod:`.lifecycle` (the state,
and why it ended).  :class:`Peer` is the public face of a connection.
"""

from .callbacks import EventSink, make_event_sink
from .connection import Connection
from .inbound import MessageStream
from .peer import Peer

__all__ = ["Connection", "EventSink", "MessageStream", "Peer", "make_event_sink"]
