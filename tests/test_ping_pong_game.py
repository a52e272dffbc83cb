"""The ping-pong example end to end: real sockets on 127.0.0.1, both stages, every game codec."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio

import trio_reactive as tr
from examples.ping_pong.client import play_match
from examples.ping_pong.models import (
    BrokenRule,
    EndorsedScore,
    GameCancelled,
    GameOver,
    GameStarted,
    GoodBye,
    GracefullyEnded,
    MatchConfig,
    MatchScore,
    PingPongEvent,
)
from examples.ping_pong.processors import Guest, Host, Match
from examples.ping_pong.server import serve

CONFIG = MatchConfig(score_limit=5)
CODECS = {"textual": tr.Textual(), "fixed": tr.FixedBinary(), "variable": tr.VariableBinary()}
LOCAL = "127.0.0.1"


@asynccontextmanager
async def serving(host: Host) -> AsyncIterator[tr.Server]:
    """A server for the block; leaving it shuts the server down and waits for every connection
    to end, so the host has reported every match by then."""
    async with trio.open_nursery() as nursery:
        server: tr.Server = await nursery.start(serve, host, 0, LOCAL)
        yield server
        await server.shutdown()


@pytest.mark.parametrize("codec_name", sorted(CODECS))
async def test_a_short_match_over_each_game_codec(codec_name: str) -> None:
    codec = CODECS[codec_name]
    ended: list[Match] = []
    host = Host(codec, draws=lambda: random.Random(7).random, on_match_end=ended.append)
    with trio.fail_after(5):
        async with serving(host) as server:
            guest = Guest(CONFIG, codec, draw=random.Random(8).random)
            played = await play_match(guest, LOCAL, server.port)

    assert isinstance(played.outcome, GracefullyEnded)
    assert played.verdict == EndorsedScore()
    assert played.interruption is None
    assert played.stats is not None and played.messages > 20

    [served] = ended
    assert served.outcome == played.outcome  # the two umpires saw the same match
    assert served.verdict == EndorsedScore()
    assert served.interruption is None
    assert host.matches == {}  # the session went with its connection


async def test_a_soft_fault_on_the_very_first_service_does_not_stall_the_match() -> None:
    """The original's client waited forever here; ours serves again at once.  A stall would
    show as the server's rally timeout cancelling the match, or as the hard timeout."""
    first_draws = [0.0, 0.007]  # a mishit, then a net touch: two soft faults
    rest = random.Random(9).random

    def draw() -> float:
        return first_draws.pop(0) if first_draws else rest()

    host = Host(draws=lambda: random.Random(10).random)
    with trio.fail_after(5):
        async with serving(host) as server:
            played = await play_match(Guest(CONFIG, draw=draw), LOCAL, server.port)
    assert not first_draws
    assert isinstance(played.outcome, GracefullyEnded)


async def test_an_incompatible_version_gets_an_error_and_a_disconnect() -> None:
    ended: list[Match] = []
    with trio.fail_after(5):
        async with serving(Host(on_match_end=ended.append)) as server:
            stream = await trio.open_tcp_stream(LOCAL, server.port)
            async with stream:
                await stream.send_all(b'{"Version":{"version":2}}\n')
                received = b""
                while chunk := await stream.receive_some():  # until the server closes
                    received += chunk
            played = await play_match(Guest(CONFIG, version=2), LOCAL, server.port)

    assert received == b'{"Error":{"kind":1}}\n'  # INCOMPATIBLE_PROTOCOLS, then end of stream
    assert played.table is None
    assert played.interruption == "the server sent incompatible protocols"
    assert [match.interruption for match in ended] == ["the guest speaks protocol version 2"] * 2


async def test_a_guest_over_another_game_codec_is_refused_before_the_game() -> None:
    ended: list[Match] = []
    with trio.fail_after(5):
        async with serving(Host(tr.FixedBinary(), on_match_end=ended.append)) as server:
            played = await play_match(Guest(CONFIG, tr.Textual()), LOCAL, server.port)
    assert played.table is None
    assert played.interruption == "the server sent incompatible protocols"
    assert ended[0].interruption == "the guest plays over textual, this server over fixed"


async def test_a_server_shutdown_mid_game_tells_the_guest() -> None:
    ended: list[Match] = []
    host = Host(on_match_end=ended.append)
    rally_under_way = trio.Event()
    rng = random.Random(11)

    def draw() -> float:
        rally_under_way.set()
        return rng.random()

    guest = Guest(MatchConfig(score_limit=1_000_000), draw=draw)
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            server: tr.Server = await nursery.start(serve, host, 0, LOCAL)
            nursery.start_soon(play_match, guest, LOCAL, server.port)
            await rally_under_way.wait()
            await trio.sleep(0.05)
            await server.shutdown(grace=1.0)

    assert guest.match.interruption == "the server shut down"
    assert guest.match.outcome is None
    assert guest.match.messages > 10
    [served] = ended
    assert served.interruption == "the server shut down"


class SilentGuest(Guest):
    """Goes through the pre-game stage, then only listens: it never serves."""

    heard: list[object]

    async def game(self, peer: tr.Peer, messages: AsyncIterator[object]) -> None:  # type: ignore[override]
        self.heard = []
        async for message in messages:
            self.heard.append(message)


async def test_the_server_cancels_a_match_whose_guest_stops_playing() -> None:
    ended: list[Match] = []
    impatient = MatchConfig(score_limit=5, rally_timeout_millis=50)
    with trio.fail_after(5):
        async with serving(Host(on_match_end=ended.append)) as server:
            guest = SilentGuest(impatient)
            await play_match(guest, LOCAL, server.port)

    timed_out = GameCancelled(MatchScore(5), BrokenRule.RALLY_TIMEOUT)
    assert guest.heard == [GameStarted(), PingPongEvent.of(GameOver(timed_out)), GoodBye()]
    assert ended[0].outcome == timed_out
