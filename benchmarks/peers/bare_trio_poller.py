"""Bare trio with one shared poller task: the design trio_reactive's poller is measured against.

One task waits for one ``select.epoll`` (``trio.lowlevel.wait_readable`` on its descriptor),
then serves every ready socket inline: one non-blocking read, the whole read decoded, the
handler, one non-blocking write — no task per connection, no library around it.  It keeps
none of the library's promises: no backpressure, no events, no stage changes, and a write the
kernel does not take whole stalls every connection until it does.  What it shows is how fast
trio itself can serve many connections; the gap to ``trio_reactive`` is what the library's
guarantees cost.  Linux only (epoll).
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
from collections.abc import Callable
from typing import Any

import trio

from ..model import respond
from ..wire import server_wire

#: Bytes per read, as trio_reactive's default ``receive_size``.
RECEIVE_SIZE = 65536
#: Most ready sockets served per round, as trio_reactive's poller.
MAX_EVENTS = 256


def serve(codec: str, announce: Callable[[dict[str, Any]], None]) -> None:
    wire = server_wire(codec)

    async def main() -> None:
        listener = trio.socket.socket()
        await listener.bind(("127.0.0.1", 0))
        listener.listen(1024)
        poller = select.epoll()
        feeds: dict[int, tuple[socket.socket, Callable[[bytes], list[Any]]]] = {}

        async def accept() -> None:
            while True:
                sock, _ = await listener.accept()
                raw = socket.socket(fileno=sock.detach())
                raw.setblocking(False)
                raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                feeds[raw.fileno()] = (raw, wire.decoder())
                poller.register(raw.fileno(), select.EPOLLIN)

        def drop(fd: int) -> None:
            raw, _ = feeds.pop(fd)
            poller.unregister(fd)
            raw.close()

        async def write_all(fd: int, data: bytes) -> None:
            view = memoryview(data)
            while view:
                try:
                    view = view[os.write(fd, view) :]
                except BlockingIOError:
                    await trio.lowlevel.wait_writable(fd)

        encode_batch = wire.encode_batch
        async with trio.open_nursery() as nursery:
            nursery.start_soon(accept)
            announce({"host": "127.0.0.1", "port": listener.getsockname()[1]})
            while True:
                await trio.lowlevel.wait_readable(poller.fileno())
                for fd, _ in poller.poll(0, MAX_EVENTS):
                    _, feed = feeds[fd]
                    try:
                        data = os.read(fd, RECEIVE_SIZE)
                    except BlockingIOError:
                        continue
                    except OSError:
                        data = b""
                    if not data:
                        drop(fd)
                        continue
                    replies = [reply for m in feed(data) if (reply := respond(None, m)) is not None]
                    if replies:
                        with contextlib.suppress(OSError):
                            await write_all(fd, encode_batch(replies))

    trio.run(main)
