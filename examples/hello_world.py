"""Hello, World: the client says ``Hello``, the server answers ``World("Earth")``, they hang up.

    python -m examples.hello_world                     # server and client in one process
    python -m examples.hello_world server-only         # until Ctrl-C; from another terminal:
    python -m examples.hello_world client-only
    python -m examples.hello_world --codec fixed       # the same program over another wire form

One set of message classes serves every codec, picked at run time.  The fixed-binary codec gives
every message one size, so ``World.place`` says how it is laid out: 16 bytes of UTF-8, padded
with NUL bytes (``tr.layout.Padded(16)``).  The variable-binary codec honours the same hint: the
field is those 16 bytes there too, not a length-prefixed string.  The textual codec ignores
layout hints and writes an ordinary JSON string.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Annotated

import attrs
import trio

import trio_reactive as tr

__all__ = [
    "CODECS", "PROTOCOL", "Hello", "World", "announce", "answer", "main", "run", "say_hello",
    "serve",
]


@attrs.frozen
class Hello:
    """What the client says."""


@attrs.frozen
class World:
    """What the server answers."""

    place: Annotated[str, tr.layout.Padded(16)]


PROTOCOL = tr.Protocol(client=Hello, server=World)
CODECS: dict[str, tr.Codec] = {
    "textual": tr.Textual(),
    "fixed": tr.FixedBinary(),
    "variable": tr.VariableBinary(),
}
DEFAULT_PORT = 9758


def answer(peer: tr.Peer, hello: Hello) -> World:
    """The server's logic: a plain function per message, whose return value is the reply."""
    world = World("Earth")
    print(f"server  <- {hello} from {peer.address[0]}:{peer.address[1]}, answering {world}")
    return world


async def serve(
    codec: str,
    host: str,
    port: int,
    *,
    task_status: trio.TaskStatus[tr.Server] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve until ``server.shutdown()`` or cancellation; ``nursery.start`` gives the server."""
    protocol = PROTOCOL.with_codec(CODECS[codec])
    await tr.serve_tcp(protocol, answer, port, host, task_status=task_status)


def announce(codec: str, host: str) -> Callable[[tr.Server], None]:
    """What server-only mode prints once listening: the port, and how to talk to it by hand."""

    def listening(server: tr.Server) -> None:
        print(f"server  listening on {host}:{server.port} ({codec} codec)")
        if codec == "textual":
            hello_line = '{"Hello":{}}'  # Hello() as JSON, the way the textual codec writes it
            print(f"        try: echo '{hello_line}' | nc -N {host} {server.port}")
        print("        Ctrl-C to stop", flush=True)

    return listening


async def say_hello(codec: str, host: str, port: int) -> World:
    """The client: send ``Hello``, wait for the answer; leaving the block flushes and closes."""
    async with tr.connect(PROTOCOL.with_codec(CODECS[codec]), host, port) as connection:
        print(f"client  -> {Hello()}")
        await connection.send(Hello())
        world: World = await connection.receive()
        print(f"client  <- {world}")
        return world


async def run(mode: str, codec: str, host: str, port: int) -> World | None:
    """Run one mode: ``both`` (one process), ``server-only`` (until Ctrl-C or SIGTERM, then a
    graceful shutdown) or ``client-only``."""
    if mode == "client-only":
        return await say_hello(codec, host, port)
    protocol = PROTOCOL.with_codec(CODECS[codec])
    if mode == "server-only":
        stopped_by = await tr.serve_forever(
            protocol, answer, port=port, host=host, on_listening=announce(codec, host)
        )
        print(f"server  stopped by {stopped_by.name}")
        return None
    async with tr.open_server(protocol, answer, port=port, host=host) as server:
        print(f"server  listening on {host}:{server.port} ({codec} codec)")
        return await say_hello(codec, host, server.port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m examples.hello_world", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", nargs="?", default="both",
                        choices=["both", "server-only", "client-only"])
    parser.add_argument("--codec", choices=list(CODECS), default="textual")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0: any free port")
    args = parser.parse_args(argv)
    status = 0
    try:
        trio.run(run, args.mode, args.codec, args.host, args.port)
    except KeyboardInterrupt:  # server-only mode stops on Ctrl-C by itself; the others here
        print("bye")
    except tr.ConnectFailed:
        print(f"client  no server at {args.host}:{args.port}; start one with: "
              f"python -m examples.hello_world server-only --codec {args.codec}")
        status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
