"""The flood tool's CPU floor: the same server as plain blocking sockets, standard library only.

``--server blocking`` (or ``both``) runs this instead of (or besides) the trio_reactive server, to
measure what the same work costs with no framework at all: what an expert would write for low
CPU in plain Python.  One thread per connection, a blocking ``recv(65536)``, every message of a
read decoded at once and every answer to it encoded at once, one ``sendall`` per read.

The messages go through the same compiled trio_reactive codec objects the engine uses (the
decoder and encoder of the protocol's server side), so that each message costs the same
decoding, checking and encoding here as there, and what differs is only the I/O around them.
(``benchmarks/wire.py``'s hand-written codecs would not do: they are for the benchmarks'
``Ping``/``Pong`` pair, not for two message classes a side with a payload of any ``--size``.)
"""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Callable

from .flood_protocol import Arrivals, Wire

__all__ = ["handle", "serve_blocking", "serve_forever"]

#: As much as one read takes: what is already there, never waiting for more.
READ_SIZE = 65536


def handle(connection: socket.socket, wire: Wire) -> None:
    """Serve one connection until the client closes it: read, decode, answer, send, again.

    A frame that does not decode ends the connection, said on stderr: the client then counts
    what was not acknowledged as lost.
    """
    side = wire.protocol.side("server")
    decode = side.codec.decoder(wire.config.max_message_size).decode_batch
    encode = side.codec.encoder(wire.config.max_message_size).encode_batch
    answer = Arrivals().answer
    recv, sendall = connection.recv, connection.sendall
    with connection:
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while data := recv(READ_SIZE):
            replies = []
            for message in decode(data):
                if isinstance(message, Exception):  # a DecodeError in a bad frame's place
                    print(f"flood server: {message}; closing the connection", file=sys.stderr)
                    return
                replies.append(answer(message))
            if replies:
                sendall(encode(replies))


def serve_forever(listener: socket.socket, wire: Wire) -> None:
    """Accept connections for ever, each served by a thread of its own."""
    while True:
        connection, _ = listener.accept()
        threading.Thread(target=handle, args=(connection, wire), daemon=True).start()


def serve_blocking(wire: Wire, host: str, announce: Callable[[int], None]) -> None:
    """The server process: ``announce(port)``, then serve until stdin closes.

    The accepting thread is a daemon: when stdin ends (the parent is done or gone) the process
    exits with it and with every connection's thread.
    """
    listener = socket.create_server((host, 0))
    announce(listener.getsockname()[1])
    threading.Thread(target=serve_forever, args=(listener, wire), daemon=True).start()
    sys.stdin.buffer.read()
