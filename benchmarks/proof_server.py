"""The server the proof scripts attack: ``python -m benchmarks.proof_server [options]``.

It serves every codec on a port of its own (``textual``, ``fixed``, ``variable`` echo
:data:`~benchmarks.model.PROTOCOL`; ``raw`` echoes bytes; ``composite`` is a text login stage
followed by a fixed-record ping stage), all in one process, so that what a fuzzer or a fault
does to one port can be seen, or not, by a neighbour on another.

It speaks JSON lines: the first on stdout says where it listens, then every event the servers
report follows as a line of its own (``{"event": "Disconnected", "port": 53122, ...}``, the port
being the remote one, so a client can find the events of its own connections), except
``InputError``, only counted (garbage makes thousands a second).  A line ``stats`` on stdin is
answered with the process's open descriptors, live peers, trio tasks and input errors: what
the scripts compare before and after a case to find leaks.
"""

from __future__ import annotations

import argparse
import enum
import errno
import json
import os
import resource
import ssl
import sys
from typing import Any

import attrs
import trio

import trio_reactive as tr

from .model import protocol_for, respond
from .stats import raise_open_files_limit

__all__ = ["LOGIN_PASSWORD", "SERVICES", "Login", "Welcome", "composite_protocols", "main"]

SERVICES = ("textual", "fixed", "variable", "raw", "composite")
LOGIN_PASSWORD = "secret"
RAW = tr.Protocol(client=bytes, server=bytes, codec=tr.Raw())


@attrs.frozen
class Login:
    """The composite service's first stage, client to server (a JSON line)."""

    user: str
    password: str


@attrs.frozen
class Welcome:
    """Its answer: ``ok`` means the connection has moved on to fixed-record pings."""

    ok: bool


class Flow(enum.Enum):
    LOGIN = 1
    PINGS = 2


def composite_protocols() -> tuple[tr.Protocol, tr.Protocol]:
    """The login stage (textual) and the ping stage (fixed records) of the composite service."""
    return tr.Protocol(client=Login, server=Welcome, codec=tr.Textual()), protocol_for("fixed")


def _login(peer: tr.Peer, login: Login) -> Welcome:
    if login.password == LOGIN_PASSWORD:
        peer.goto(Flow.PINGS)
        return Welcome(True)
    return Welcome(False)


def _echo(_peer: tr.Peer, chunk: bytes) -> bytes:
    return chunk


def service(name: str) -> tr.Service:
    if name == "raw":
        return tr.Service({Flow.PINGS: (RAW, _echo)}, Flow.PINGS)
    if name == "composite":
        login, pings = composite_protocols()
        return tr.Service({Flow.LOGIN: (login, _login), Flow.PINGS: (pings, respond)}, Flow.LOGIN)
    return tr.Service({Flow.PINGS: (protocol_for(name), respond)}, Flow.PINGS)


def _remote_port(address: Any) -> int | None:
    if isinstance(address, tuple) and len(address) >= 2:
        return int(address[1])
    return None


def _say(line: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


#: Undecodable frames seen so far.
counted = {"input_errors": 0}


def report(name: str) -> Any:
    """An ``on_event`` callback writing each event as a JSON line tagged with its service."""

    def on_event(event: tr.Event) -> None:
        if isinstance(event, tr.InputError):
            counted["input_errors"] += 1
            return
        line: dict[str, Any] = {"event": type(event).__name__, "service": name}
        if isinstance(event, tr.Rejected):
            line["port"] = _remote_port(event.address)
        elif hasattr(event, "peer") and event.peer is not None:
            line["port"] = _remote_port(event.peer.address)
            line["peer"] = event.peer.id
        reason = getattr(event, "reason", None)
        if reason is not None:
            line["reason"] = reason.name
        error = getattr(event, "error", None)
        if error is not None:
            line["error"] = type(error).__name__
        _say(line)

    return on_event


def count_tasks() -> int:
    """Every trio task alive in this run."""
    root = trio.lowlevel.current_root_task()
    pending = [root] if root is not None else []
    total = 0
    while pending:
        task = pending.pop()
        total += 1
        for nursery in task.child_nurseries:
            pending.extend(nursery.child_tasks)
    return total


async def open_fds() -> int:
    """How many descriptors this process holds.  Listing them takes one: while the server is
    out of descriptors (the EMFILE case) it waits for one to be free, as a newcomer would."""
    while True:
        try:
            return len(os.listdir("/proc/self/fd")) - 1  # less the one the listing used
        except OSError as exc:
            if exc.errno != errno.EMFILE:
                raise
            await trio.sleep(0.01)


async def _answer_stats(servers: list[tr.Server[Any]]) -> None:
    """Answer ``stats`` lines on stdin until it closes (then the process ends)."""
    stdin = trio.lowlevel.FdStream(os.dup(sys.stdin.fileno()))
    buffer = b""
    async with stdin:
        while True:
            data = await stdin.receive_some(4096)
            if not data:
                return
            buffer += data
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                if line.strip() == b"stats":
                    peers = sum(len(server.peers) for server in servers)
                    stats = {
                        "fds": await open_fds(),
                        "peers": peers,
                        "tasks": count_tasks(),
                        "input_errors": counted["input_errors"],
                    }
                    _say({"stats": stats})


def config_from(options: argparse.Namespace) -> tr.Config:
    extra: dict[str, Any] = {}
    if options.idle_timeout is not None:
        extra["idle_timeout"] = options.idle_timeout
    return tr.Config(
        max_message_size=options.max_message_size,
        handshake_timeout=options.handshake_timeout,
        max_connections=options.max_connections,
        **extra,
    )


async def serve(options: argparse.Namespace) -> None:
    config = config_from(options)
    ssl_context: ssl.SSLContext | None = None
    if options.tls_certificate:
        ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ssl_context.load_cert_chain(options.tls_certificate)
    names = options.services.split(",")
    wanted = [int(port) for port in options.ports.split(",")] if options.ports else [0] * len(names)
    async with trio.open_nursery() as nursery:
        servers: list[tr.Server[Any]] = []
        for name, port in zip(names, wanted, strict=True):
            server = await nursery.start(_serve_one, name, port, config, ssl_context)
            servers.append(server)
        ports = {name: server.port for name, server in zip(names, servers, strict=True)}
        _say({"ports": ports, "pid": os.getpid()})
        await _answer_stats(servers)
        nursery.cancel_scope.cancel()


async def _serve_one(
    name: str,
    port: int,
    config: tr.Config,
    ssl_context: ssl.SSLContext | None,
    task_status: trio.TaskStatus[tr.Server[Any]] = trio.TASK_STATUS_IGNORED,
) -> None:
    await tr.serve_tcp(
        service(name),
        None,
        port,
        "127.0.0.1",
        config=config,
        on_event=report(name),
        ssl_context=ssl_context,
        task_status=task_status,
    )


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.proof_server")
    parser.add_argument("--services", default=",".join(SERVICES))
    parser.add_argument("--ports", default="", help="one per service (default: free ports)")
    parser.add_argument("--max-message-size", type=int, default=64 << 10)
    parser.add_argument("--handshake-timeout", type=float, default=10.0)
    parser.add_argument("--idle-timeout", type=float, default=None)
    parser.add_argument("--max-connections", type=int, default=None)
    parser.add_argument("--nofile", type=int, default=None, help="RLIMIT_NOFILE to run with")
    parser.add_argument("--tls-certificate", default="", help="PEM with key and chain: TLS ports")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    options = parse(argv)
    if options.nofile is not None:
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (options.nofile, hard))
    else:
        raise_open_files_limit()
    trio.run(serve, options)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
