"""HTTP/1.0, client and server: headers as text lines, then the body as raw bytes.

    python -m examples.http10 serve --port 8000 --root .     # serve files over HTTP/1.0
    python -m examples.http10 get http://127.0.0.1:8000/README.md

HTTP is not split into messages of one kind: a request or response starts with lines of text
ending in ``\\r\\n`` up to an empty line, and then comes a body of bytes, which ends where the
``Content-Length`` says or where the server closes the connection (HTTP/1.0 closes after each
response).  Here that is a composite service of two stages on one connection:

* ``Stage.HEAD`` uses the textual codec with a tiny serde that makes every line a :class:`Line`
  and keeps its line ending (``keep_line_endings=True``), so the empty line that ends the head
  arrives as ``"\\r\\n"`` instead of being skipped as an empty line;
* ``Stage.BODY`` uses the raw codec: its messages are ``bytes`` chunks as they arrive, and what
  the head stage read past the empty line is handed over to it, byte for byte.

Both ends work against any HTTP/1.0 or 1.1 peer: the tests run this client against
``python -m http.server`` and this server under ``urllib`` and ``curl``.
"""

from __future__ import annotations

import argparse
import enum
import mimetypes
import sys
import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import trio

import trio_reactive as tr

__all__ = ["BODY", "HEAD", "Line", "Response", "Stage", "fetch", "main", "serve", "server"]

CHUNK = 64 * 1024


class Stage(enum.Enum):
    HEAD = 1
    BODY = 2


@attrs.frozen
class Line:
    """One line of a request or response head, with its line ending."""

    text: str


class Latin1Lines:
    """A line is its text: HTTP heads are ISO-8859-1, which maps every byte to a character."""

    def encode(self, message: Line) -> bytes:
        return message.text.encode("latin-1")

    def decode(self, payload: bytes) -> Line:
        return Line(payload.decode("latin-1"))


HEAD = tr.Protocol(
    client=Line, server=Line, codec=tr.Textual(serde=Latin1Lines(), keep_line_endings=True)
)
BODY = tr.Protocol(client=bytes, server=bytes, codec=tr.Raw())


def _header(text: str) -> tuple[str, str]:
    name, _, value = text.partition(":")
    return name.strip().lower(), value.strip()


# ---------------------------------------------------------------- the client


@attrs.define
class Response:
    """What the server answered: filled in by the client's two stages."""

    status: int = 0
    reason: str = ""
    headers: dict[str, str] = attrs.Factory(dict)
    body: bytearray = attrs.Factory(bytearray)


def client(path: str, host: str, response: Response) -> tr.Service:
    """A client service that GETs ``path`` and fills ``response``."""

    async def head(peer: tr.Peer, lines: AsyncIterator[Line]) -> AsyncIterator[Line]:
        yield Line(f"GET {path} HTTP/1.0\r\n")
        yield Line(f"Host: {host}\r\n")
        yield Line("Connection: close\r\n")
        yield Line("\r\n")
        async for line in lines:
            text = line.text.rstrip("\r\n")
            if not response.status:
                _, code, response.reason = [*text.split(" ", 2), "", ""][:3]
                response.status = int(code)
            elif text:
                name, value = _header(text)
                response.headers[name] = value
            else:
                peer.goto(Stage.BODY)
                return

    async def body(peer: tr.Peer, chunks: AsyncIterator[bytes]) -> None:
        length = response.headers.get("content-length")
        async for chunk in chunks:  # until the server closes, or the length is in
            response.body += chunk
            if length is not None and len(response.body) >= int(length):
                return

    return tr.Service({Stage.HEAD: (HEAD, head), Stage.BODY: (BODY, body)}, initial=Stage.HEAD)


async def fetch(url: str, *, config: tr.Config | None = None) -> Response:
    """GET ``url`` (``http://host:port/path``) over HTTP/1.0."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or parts.hostname is None:
        raise ValueError(f"an http:// URL is needed, got {url!r}")
    port = parts.port or 80
    path = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
    response = Response()
    service = client(path, parts.netloc, response)
    await tr.run_client(service, None, parts.hostname, port, config=config)
    return response


# ---------------------------------------------------------------- the server


def _answer(root: Path, request_line: str) -> tuple[list[Line], bytes]:
    """The response head and body for a request line, files served from ``root``."""
    method, _, rest = request_line.partition(" ")
    target = rest.rsplit(" ", 1)[0] if " " in rest else rest
    if method != "GET":
        return _status(501, "Not Implemented", b"only GET is served\n")
    relative = urllib.parse.unquote(urllib.parse.urlsplit(target).path).lstrip("/")
    base = root.resolve()
    file = (base / relative).resolve()
    if not file.is_relative_to(base) or not file.is_file():
        return _status(404, "Not Found", b"no such file\n")
    kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    return _status(200, "OK", file.read_bytes(), kind)


def _status(
    code: int, reason: str, body: bytes, kind: str = "text/plain"
) -> tuple[list[Line], bytes]:
    head = [
        f"HTTP/1.0 {code} {reason}\r\n",
        f"Content-Type: {kind}\r\n",
        f"Content-Length: {len(body)}\r\n",
        "\r\n",
    ]
    return [Line(text) for text in head], body


def server(root: Path) -> tr.Service:
    """A server service that answers GET requests with the files under ``root``."""

    def head(peer: tr.Peer, line: Line) -> list[Line] | None:
        text = line.text.rstrip("\r\n")
        if "request" not in peer.session:
            peer.session["request"] = text
            return None
        if text:
            return None  # a header: this server needs none of them
        replies, peer.session["body"] = _answer(root, peer.session["request"])
        peer.goto(Stage.BODY)
        return replies

    async def body(peer: tr.Peer, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        data: bytes = peer.session["body"]
        for start in range(0, len(data), CHUNK):
            yield data[start : start + CHUNK]
        # Returning ends the last stage: the connection is flushed and closed, as HTTP/1.0 does.

    return tr.Service({Stage.HEAD: (HEAD, head), Stage.BODY: (BODY, body)}, initial=Stage.HEAD)


async def serve(
    root: Path,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    task_status: trio.TaskStatus[tr.Server] = trio.TASK_STATUS_IGNORED,
) -> None:
    await tr.serve_tcp(server(root), None, port, host, task_status=task_status)


# ---------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m examples.http10", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serving = commands.add_parser("serve", help="serve files over HTTP/1.0")
    serving.add_argument("--host", default="127.0.0.1")
    serving.add_argument("--port", type=int, default=8000)
    serving.add_argument("--root", type=Path, default=Path("."))
    getting = commands.add_parser("get", help="GET a URL and print the body")
    getting.add_argument("url")
    args = parser.parse_args(argv)
    if args.command == "serve":

        async def run_server() -> None:
            async with trio.open_nursery() as nursery:
                running: Any = await nursery.start(serve, args.root, args.host, args.port)
                print(f"serving {args.root} on http://{args.host}:{running.port}/", flush=True)

        trio.run(run_server)
        return 0
    response = trio.run(fetch, args.url)
    print(f"{response.status} {response.reason}", file=sys.stderr)
    sys.stdout.buffer.write(response.body)
    return 0 if response.status == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
