"""asyncio streams on the standard event loop: the stdlib's high-level API, used well."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from ..model import respond
from ..wire import server_wire

RECEIVE_SIZE = 65536
#: Listen backlog: asyncio's default of 100 drops SYNs when 1,000 clients connect at once.
BACKLOG = 4096


def serve(codec: str, announce: Callable[[dict[str, Any]], None]) -> None:
    wire = server_wire(codec)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        feed = wire.decoder()
        encode_batch = wire.encode_batch
        try:
            while data := await reader.read(RECEIVE_SIZE):
                replies = [reply for m in feed(data) if (reply := respond(None, m)) is not None]
                if replies:
                    writer.write(encode_batch(replies))
                    await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=BACKLOG)
        announce({"host": "127.0.0.1", "port": server.sockets[0].getsockname()[1]})
        async with server:
            await server.serve_forever()

    asyncio.run(main())
