"""Bare trio, hand-written: the ceiling trio_reactive pays its overhead against.

Two layouts.  ``serve_one_task`` is what an expert writes for raw speed: one task per
connection that reads 64 KiB, decodes the whole read with C-level splitting, runs the handler and
writes all replies with one ``send_all``.  ``serve_three_tasks`` has trio_reactive's layout
(reader, processor and writer tasks joined by two bounded memory channels whose items are
batches), to tell the cost of the layout from the cost of the library.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import trio

from ..model import respond
from ..wire import WireCodec, server_wire

#: Bytes per read, as trio_reactive's default ``receive_size``.
RECEIVE_SIZE = 65536
#: Batches buffered per channel in the three-task layout.
CHANNEL_BATCHES = 64


async def one_task(wire: WireCodec, stream: trio.SocketStream) -> None:
    """One task: read, decode, handle, write, in a loop."""
    feed = wire.decoder()
    encode_batch = wire.encode_batch
    receive_some = stream.receive_some
    send_all = stream.send_all
    try:
        while data := await receive_some(RECEIVE_SIZE):
            replies = [reply for m in feed(data) if (reply := respond(None, m)) is not None]
            if replies:
                await send_all(encode_batch(replies))
    except trio.BrokenResourceError:
        pass


async def three_tasks(wire: WireCodec, stream: trio.SocketStream) -> None:
    """Reader -> processor -> writer, each a task, with batches on two memory channels."""
    to_processor, from_reader = trio.open_memory_channel[list[Any]](CHANNEL_BATCHES)
    to_writer, from_processor = trio.open_memory_channel[bytes](CHANNEL_BATCHES)

    async def reader() -> None:
        feed = wire.decoder()
        async with to_processor:
            while data := await stream.receive_some(RECEIVE_SIZE):
                await to_processor.send(feed(data))

    async def processor() -> None:
        encode_batch = wire.encode_batch
        async with from_reader, to_writer:
            async for batch in from_reader:
                replies = [reply for m in batch if (reply := respond(None, m)) is not None]
                if replies:
                    await to_writer.send(encode_batch(replies))

    async def writer() -> None:
        async with from_processor:
            async for data in from_processor:
                # Coalesce whatever else is already queued into the same write.
                parts = [data]
                while True:
                    try:
                        parts.append(from_processor.receive_nowait())
                    except (trio.WouldBlock, trio.EndOfChannel):
                        break
                await stream.send_all(parts[0] if len(parts) == 1 else b"".join(parts))

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(reader)
            nursery.start_soon(processor)
            nursery.start_soon(writer)
    except* (trio.BrokenResourceError, trio.ClosedResourceError):
        pass


def _serve(handler: Callable[[WireCodec, trio.SocketStream], Any], codec: str,
           announce: Callable[[dict[str, Any]], None]) -> None:
    wire = server_wire(codec)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            listeners = await nursery.start(
                partial(trio.serve_tcp, partial(handler, wire), 0, host="127.0.0.1")
            )
            announce({"host": "127.0.0.1", "port": listeners[0].socket.getsockname()[1]})

    trio.run(main)


def serve_one_task(codec: str, announce: Callable[[dict[str, Any]], None]) -> None:
    _serve(one_task, codec, announce)


def serve_three_tasks(codec: str, announce: Callable[[dict[str, Any]], None]) -> None:
    _serve(three_tasks, codec, announce)
