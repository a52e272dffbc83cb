"""The types a user's checker sees: messages inferred from the protocol, wrong ones refused.

Two small user programs are written to a temporary directory and checked with ``mypy
--strict``, the package found through ``MYPYPATH`` as a user's checker would find an installed
one (``tests/test_installed_typing.py`` checks the installation itself): the right program
passes, and each mistake in the wrong one is the exact error a user must see.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.process_support import ROOT, run_python, without_python_paths

pytestmark = pytest.mark.timeout(240)

#: The messages and the protocol both programs declare.
MESSAGES = """\
@attrs.frozen
class Ping:
    n: int


@attrs.frozen
class Pong:
    n: int


@attrs.frozen
class Quit:
    pass


PROTOCOL = tr.Protocol(client=Ping, server=Pong | Quit)
"""

RIGHT = """\
from __future__ import annotations

from collections.abc import AsyncIterator

import attrs
import trio

import trio_reactive as tr
from trio_reactive.testing import MemoryServer, run_processor


""" + MESSAGES + """declared: tr.Protocol[Ping, Pong | Quit] = PROTOCOL
ROOM: tr.PeerGroup[Pong | Quit] = tr.PeerGroup()


def handler(peer: tr.Peer[Pong | Quit], ping: Ping) -> Pong | None:
    ROOM.add(peer)
    ROOM.broadcast(Quit())
    tr.broadcast([peer], Pong(ping.n))
    return Pong(ping.n) if ping.n else None


async def stream(peer: tr.Peer[Pong | Quit], pings: AsyncIterator[Ping]) -> AsyncIterator[Pong]:
    async for ping in pings:
        yield Pong(ping.n)


async def pusher(peer: tr.Peer[Pong | Quit], pings: AsyncIterator[Ping]) -> None:
    async for ping in pings:
        await peer.send(Quit() if ping.n < 0 else Pong(ping.n))


async def player(peer: tr.Peer[Ping], replies: AsyncIterator[Pong | Quit]) -> AsyncIterator[Ping]:
    async for reply in replies:
        if isinstance(reply, Pong):
            yield Ping(reply.n + 1)


async def main() -> None:
    async with tr.open_server(PROTOCOL, handler) as server:
        peers: list[tr.Peer[Pong | Quit]] = server.peers
        tr.broadcast(peers, Quit())
        async with tr.connect(PROTOCOL, "127.0.0.1", server.port) as conn:
            await conn.send(Ping(1))
            reply = await conn.receive()
            if isinstance(reply, Pong):
                number: int = reply.n
                print(number)
        await tr.run_client(PROTOCOL, player, "127.0.0.1", server.port)
    async with trio.open_nursery() as nursery:
        await nursery.start(tr.server_task(PROTOCOL, stream))
        await nursery.start(tr.server_task(PROTOCOL, pusher))
    replies: list[Pong | Quit] = await run_processor(PROTOCOL, handler, [Ping(1)])
    pings: list[Ping] = await run_processor(PROTOCOL, player, [Pong(1)], role="client")
    print(replies, pings)
    async with MemoryServer(PROTOCOL, pusher) as memory:
        async with memory.connect() as client:
            await client.send(Ping(2))
            got: Pong | Quit = await client.receive()
            print(got)


trio.run(main)
"""

WRONG = """\
from __future__ import annotations

from collections.abc import AsyncIterator

import attrs

import trio_reactive as tr


""" + MESSAGES + """

def wrong_reply(peer: tr.Peer[Pong | Quit], ping: Ping) -> str:
    return "not a Pong"


async def wrong_send(peer: tr.Peer[Pong | Quit], pings: AsyncIterator[Ping]) -> None:
    async for ping in pings:
        await peer.send(Ping(ping.n))


async def main() -> None:
    async with tr.open_server(PROTOCOL, wrong_reply) as server:
        async with tr.connect(PROTOCOL, "127.0.0.1", server.port) as conn:
            await conn.send("not a Ping")
            reply = await conn.receive()
            print(reply.n)
            wrong: Ping = await conn.receive()
            print(wrong)
"""

PROCESSOR_SHAPES = (
    '"Callable[[Peer[Pong | Quit], AsyncIterator[Ping]], AsyncIterator[Pong | Quit]] | '
    "Callable[[Peer[Pong | Quit], AsyncIterator[Ping]], Awaitable[None]] | "
    "Callable[[Peer[Pong | Quit], Ping], Pong | Quit | Iterable[Pong | Quit] | None] | "
    'Callable[[Peer[Pong | Quit], Ping], Awaitable[Pong | Quit | Iterable[Pong | Quit] | None]] '
    '| None"'
)


def _mypy(program: str, directory: Path) -> list[str]:
    (directory / "program.py").write_text(program, encoding="utf-8")
    env = {**without_python_paths(), "MYPYPATH": str(ROOT)}
    mypy = ("-m", "mypy", "--strict", "--no-incremental", "program.py")
    checked = run_python(*mypy, cwd=directory, env=env, timeout=200)
    return checked.stdout.splitlines()


def test_a_right_program_passes_mypy_strict(tmp_path: Path) -> None:
    assert _mypy(RIGHT, tmp_path) == ["Success: no issues found in 1 source file"]


def test_wrong_message_types_are_the_errors_a_user_sees(tmp_path: Path) -> None:
    assert _mypy(WRONG, tmp_path) == [
        'program.py:34: error: Argument 1 to "send" of "Peer" has incompatible type "Ping"; '
        'expected "Pong | Quit"  [arg-type]',
        'program.py:38: error: Argument 2 to "open_server" has incompatible type '
        f'"Callable[[Peer[Pong | Quit], Ping], str]"; expected {PROCESSOR_SHAPES}  [arg-type]',
        'program.py:40: error: Argument 1 to "send" of "ClientConnection" has incompatible '
        'type "str"; expected "Ping"  [arg-type]',
        'program.py:42: error: Item "Quit" of "Pong | Quit" has no attribute "n"  [union-attr]',
        'program.py:43: error: Incompatible types in assignment (expression has type '
        '"Pong | Quit", variable has type "Ping")  [assignment]',
        "Found 5 errors in 1 file (checked 1 source file)",
    ]
