"""``python -m trio_reactive``: talk to a textual server by hand, or listen and print what comes.

    python -m trio_reactive connect 127.0.0.1 9758     # type JSON lines, see replies
    python -m trio_reactive listen --port 9758         # print every JSON line that arrives

No model classes are needed: the protocol here carries any JSON value per line
(:data:`JSON_LINES`), so it speaks to any server using the textual codec.  Each line typed is
checked as JSON before it is sent; replies are pretty-printed (``--compact``: one per line).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import AsyncIterable, Sequence
from typing import Any, TextIO

import attrs
import orjson
import trio

from .connecting import ClientConnection, connect
from .engine import Peer
from .errors import ConnectFailed
from .events import Event, InputError
from .protocol import Protocol
from .server import Server
from .serving import serve_forever
from .wire.codec import Textual

__all__ = ["JSON_LINES", "JsonLines", "JsonValue", "main"]

DESCRIPTION = """\
Talk to a trio_reactive server that uses the textual codec (one JSON object per line), or
listen on a port and print what arrives.  No message classes are needed.

  python -m trio_reactive connect 127.0.0.1 9758
      then type one JSON value per line, e.g. {"Hello":{}}; replies are pretty-printed.
      Lines can be piped in too:  echo '{"Hello":{}}' | python -m trio_reactive connect ...
  python -m trio_reactive listen --port 9758
      prints every JSON line a client sends, one per line; Ctrl-C (or SIGTERM) stops it.
"""

#: After stdin ends, how long ``connect`` still waits for replies once the last one came.
DEFAULT_LINGER = 0.5


@attrs.frozen
class JsonValue:
    """Any JSON value: one line of the textual codec, sent or received as it is."""

    value: Any


class JsonLines:
    """A serde that passes JSON through: a line's value in, the same value out."""

    def encode(self, message: JsonValue) -> bytes:
        return orjson.dumps(message.value)

    def decode(self, payload: bytes) -> JsonValue:
        return JsonValue(orjson.loads(payload))


#: One JSON value per line in each direction, whatever the messages of the other end.
JSON_LINES = Protocol(client=JsonValue, server=JsonValue, codec=Textual(serde=JsonLines()))


def _render(value: Any, *, compact: bool) -> str:
    option = 0 if compact else orjson.OPT_INDENT_2
    return orjson.dumps(value, option=option).decode()


def _report_bad_input(event: Event) -> None:
    """Say so on stderr when the other end sends a line that is not JSON (another codec?)."""
    if isinstance(event, InputError):
        print(f"not a JSON line from {event.peer.address}: {event.error}", file=sys.stderr)


# -- connect -----------------------------------------------------------------------------------


async def talk(
    host: str, port: int, *, compact: bool, linger: float, stdin: TextIO, stdout: TextIO
) -> None:
    """Send each JSON line of ``stdin``, print each reply; after the last line, print what
    still arrives until ``linger`` seconds pass with nothing new, or the server closes."""
    async with connect(JSON_LINES, host, port, on_event=_report_bad_input) as conn:
        replied = [trio.Event()]
        async with trio.open_nursery() as nursery:

            async def print_replies() -> None:
                async for reply in conn:
                    print(_render(reply.value, compact=compact), file=stdout, flush=True)
                    replied[0].set()
                    replied[0] = trio.Event()
                nursery.cancel_scope.cancel()  # the server closed: nothing more to type

            nursery.start_soon(print_replies)
            await _send_lines(conn, trio.wrap_file(stdin))
            while True:
                with trio.move_on_after(linger):
                    await replied[0].wait()
                    continue
                break
            nursery.cancel_scope.cancel()


async def _send_lines(conn: ClientConnection, lines: AsyncIterable[str]) -> None:
    async for line in lines:
        text = line.strip()
        if not text:
            continue
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            print(f"not JSON, not sent: {exc}", file=sys.stderr, flush=True)
            continue
        await conn.send(JsonValue(value))


# -- listen ------------------------------------------------------------------------------------


def printer(stdout: TextIO) -> Any:
    """The listening processor: print each line as it came (compact JSON), answer nothing."""

    def show(peer: Peer, message: JsonValue) -> None:
        print(_render(message.value, compact=True), file=stdout, flush=True)

    return show


async def listen(host: str, port: int, *, stdout: TextIO) -> None:
    """Accept connections on ``host:port`` and print what arrives, until SIGINT or SIGTERM."""

    def listening(server: Server) -> None:
        print(f"listening on {host}:{server.port} (Ctrl-C to stop)", file=sys.stderr, flush=True)

    await serve_forever(
        JSON_LINES,
        printer(stdout),
        port=port,
        host=host,
        on_event=_report_bad_input,
        on_listening=listening,
    )


# -- the command line --------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    """The ``python -m trio_reactive`` argument parser."""
    top = argparse.ArgumentParser(
        prog="python -m trio_reactive",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    top.add_argument("-v", "--verbose", action="store_true", help="log connections to stderr")
    modes = top.add_subparsers(dest="mode", required=True)
    talk_mode = modes.add_parser(
        "connect",
        help="connect to a textual server; send JSON lines from stdin, print the replies",
        description="Each stdin line must be one JSON value, e.g. {\"Hello\":{}}; a line "
        "that is not JSON is refused on stderr and not sent.  Replies are pretty-printed.",
    )
    talk_mode.add_argument("host")
    talk_mode.add_argument("port", type=int)
    talk_mode.add_argument("--compact", action="store_true", help="one reply per line")
    talk_mode.add_argument(
        "--linger",
        type=float,
        default=DEFAULT_LINGER,
        metavar="SECONDS",
        help=f"after stdin ends, wait this long for more replies (default {DEFAULT_LINGER})",
    )
    listen_mode = modes.add_parser(
        "listen",
        help="accept connections and print every JSON line that arrives",
        description="Prints each line received, as compact JSON, one per line, on stdout.",
    )
    listen_mode.add_argument("--host", default="127.0.0.1", help="address to listen on")
    listen_mode.add_argument("--port", type=int, default=0, help="0 (default): any free port")
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; the exit status is the return value."""
    args = parser().parse_args(argv)
    level = logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if args.mode == "connect":
        try:
            trio.run(
                lambda: talk(
                    args.host,
                    args.port,
                    compact=args.compact,
                    linger=args.linger,
                    stdin=sys.stdin,
                    stdout=sys.stdout,
                )
            )
        except ConnectFailed as exc:
            print(exc, file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            return 130
        return 0
    trio.run(lambda: listen(args.host, args.port, stdout=sys.stdout))
    return 0
