"""asyncio's low-level Protocol API on uvloop: callbacks, no coroutine per read.

This is the fastest way to write an asyncio server and the shape uvloop's own benchmarks use;
flow control is honoured the usual way (stop reading while the transport asks us to pause).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, cast

import uvloop

from ..model import respond
from ..wire import WireCodec, server_wire

BACKLOG = 4096


class PingProtocol(asyncio.Protocol):
    __slots__ = ("encode_batch", "feed", "transport")

    def __init__(self, wire: WireCodec) -> None:
        self.feed = wire.decoder()
        self.encode_batch = wire.encode_batch
        self.transport: asyncio.Transport = cast(asyncio.Transport, None)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCPTransport implements asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        replies = [reply for m in self.feed(data) if (reply := respond(None, m)) is not None]
        if replies:
            self.transport.write(self.encode_batch(replies))

    def pause_writing(self) -> None:
        self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.transport.resume_reading()


def serve(codec: str, announce: Callable[[dict[str, Any]], None]) -> None:
    wire = server_wire(codec)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: PingProtocol(wire), "127.0.0.1", 0, backlog=BACKLOG
        )
        announce({"host": "127.0.0.1", "port": server.sockets[0].getsockname()[1]})
        async with server:
            await server.serve_forever()

    uvloop.run(main())
