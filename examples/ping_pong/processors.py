"""The logic of both sides, stage by stage, and the composite services it makes.

A connection goes through two stages, each with its own protocol and codec::

    PRE_GAME (textual)   client: Version(3)          server: Version(3) | Error + close
                         client: Config(terms)       server: Config(terms) + goto | Error + close
                                                     client: goto(GAME)
    GAME (any codec)     server: GameStarted         the guest serves first, then the sides
                         alternate PingPongEvent reports, each checked by the other's umpire,
                         until GameOver; client: EndorsedScore | ContestedScore; server: GoodBye

:class:`Host` is the server's side (one object, every connection: a :class:`Match` per peer id)
and :class:`Guest` the client's (one object per connection).  What both sides do the same way
lives once: the game itself in :class:`~.umpire.Table`, the reaction to a reported event in
:func:`exchange`, the session in :class:`Match`.

Every processor is an async generator (what it yields is sent) because each has to end its
connection at some point, and a stream processor ends it simply by returning: the engine then
flushes what was yielded and closes.
"""

from __future__ import annotations

import contextlib
import enum
import itertools
import math
import random
from collections.abc import AsyncIterator, Callable, Sequence

import attrs
import trio

import trio_reactive as tr
from trio_reactive.processor import Processor

from .models import (
    PRE_GAME_PROTOCOL,
    PROTOCOL_VERSION,
    BrokenRule,
    Config,
    ContestedScore,
    DumpConfig,
    EndorsedScore,
    Error,
    ErrorKind,
    GameCancelled,
    GameEvent,
    GameStarted,
    GoodBye,
    GracefullyEnded,
    MatchConfig,
    Outcome,
    PingPongEvent,
    Player,
    Quit,
    ServerShutdown,
    Version,
    game_protocol,
)
from .umpire import Draw, Table

__all__ = [
    "CONNECTION_CONFIG",
    "DrawSource",
    "Guest",
    "Host",
    "Match",
    "Stage",
    "exchange",
    "fresh_draws",
    "reports",
    "seeded_draws",
]


class Stage(enum.Enum):
    PRE_GAME = "pre-game"
    GAME = "game"


#: Either side's errors end the connection, after an ``Error`` message (the protocols' hooks).
CONNECTION_CONFIG = tr.Config(close_on_input_error=True, close_on_processor_error=True)

#: Makes the lucky-number source of each new match.
DrawSource = Callable[[], Draw]


def fresh_draws() -> Draw:
    """An independently seeded generator per match."""
    return random.Random().random


def seeded_draws(seed: int | None, side: str) -> DrawSource:
    """Reproducible draws: match *n* of ``side`` gets its own generator seeded from ``seed``
    (None: :func:`fresh_draws`)."""
    if seed is None:
        return fresh_draws
    made = itertools.count()

    def source() -> Draw:
        return random.Random(f"{seed}/{side}/{next(made)}").random

    return source


@attrs.define
class Match:
    """One connection's match as one side saw it: the session both sides' processors keep.

    ``interruption`` says why the conversation stopped short of a verdict on the score, if it
    did; ``stats`` is the game stage's traffic, the benchmark figure.
    """

    address: str = "?"
    table: Table | None = None
    verdict: EndorsedScore | ContestedScore | None = None
    interruption: str | None = None
    stats: tr.StageStats | None = None

    @property
    def outcome(self) -> Outcome | None:
        return None if self.table is None else self.table.outcome

    @property
    def messages(self) -> int:
        """Game-stage messages in and out."""
        return 0 if self.stats is None else self.stats.messages_in + self.stats.messages_out

    def interrupt(self, why: str) -> None:
        """Note the first reason the match stopped early (later ones are consequences)."""
        if self.interruption is None:
            self.interruption = why

    def disconnected(self, reason: tr.DisconnectReason) -> None:
        if self.outcome is None:
            self.interrupt(reason.value)

    def describe(self) -> str:
        """One line: how the match ended, and its traffic."""
        outcome = self.outcome
        if isinstance(outcome, GracefullyEnded):
            winner = outcome.last_action.player.opponent.name.lower()
            said = "endorsed" if isinstance(self.verdict, EndorsedScore) else "not endorsed"
            result = f"ended      {outcome.final_score}, {winner} won ({said})"
        elif isinstance(outcome, GameCancelled):
            rule = outcome.broken_rule.name.lower().replace("_", " ")
            result = f"cancelled  {outcome.partial_score}: {rule}"
        elif self.table is not None:
            result = f"stopped    {self.table.score}: {self.interruption}"
        else:
            result = f"not played: {self.interruption}"
        if self.stats is None or not self.stats.duration:
            return result
        rate = self.messages / self.stats.duration
        return (
            f"{result:<58} {self.messages:>9,} msgs in+out in {self.stats.duration:5.2f} s"
            f" = {rate:>9,.0f} msgs/s"
        )


def reports(events: list[GameEvent]) -> list[PingPongEvent]:
    """Game events in their wire form."""
    return [PingPongEvent.of(event) for event in events]


def exchange(table: Table, message: PingPongEvent) -> list[PingPongEvent]:
    """Our answer to an event the other side reports, the same on both sides: nothing while its
    report is incomplete, our own strokes once it is confirmed, a cancellation if refused."""
    return reports(table.receive(message.event))


def _from_peer(kind: ErrorKind, who: str) -> str:
    return f"the {who} sent {kind.name.lower().replace('_', ' ')}"


def _service(pre_game: Processor, game: Processor, codec: tr.Codec) -> tr.Service:
    """Either side's composite service: the same stages and protocols, that side's processors."""
    return tr.Service(
        {
            Stage.PRE_GAME: tr.Stage(PRE_GAME_PROTOCOL, pre_game),
            Stage.GAME: tr.Stage(game_protocol(codec), game),
        },
        initial=Stage.PRE_GAME,
    )


def _address(peer: tr.Peer) -> str:
    address = peer.address
    if isinstance(address, tuple) and len(address) >= 2:
        return f"{address[0]}:{address[1]}"
    return str(address)


class Host:
    """The server's side of every match: its processors, and a :class:`Match` per connection.

    Matches are keyed by peer id, created on ``tr.Connected`` and dropped on ``tr.Disconnected``
    (fired exactly once per connection, however it ends), so no session outlives its
    connection.  ``on_match_end`` hears of each match as it is dropped.
    """

    def __init__(
        self,
        codec: tr.Codec | None = None,
        *,
        draws: DrawSource = fresh_draws,
        on_match_end: Callable[[Match], object] | None = None,
    ) -> None:
        codec = codec or tr.FixedBinary()
        self.game_codec = codec.name
        self.matches: dict[int, Match] = {}
        self._draws = draws
        self._on_match_end = on_match_end
        self.service = _service(self.pre_game, self.game, codec)

    def on_event(self, event: tr.Event) -> None:
        match event:
            case tr.Connected(peer):
                self.matches[peer.id] = Match(_address(peer))
            case tr.PeerLeft(peer, Stage.GAME, stats):
                self.matches[peer.id].stats = stats
            case tr.ServiceTerminating(peer) if peer is not None:
                self._announce_shutdown(peer)
            case tr.Disconnected(peer, reason):
                session = self.matches.pop(peer.id)
                session.disconnected(reason)
                if self._on_match_end is not None:
                    self._on_match_end(session)

    def _announce_shutdown(self, peer: tr.Peer) -> None:
        """Tell the guest before the server closes its connection (no await: an event callback)."""
        session = self.matches.get(peer.id)
        if session is not None and session.outcome is None:
            session.interrupt("the server shut down")
        in_game = peer.stage is Stage.GAME
        notice = ServerShutdown() if in_game else Error(ErrorKind.SERVER_SHUTTING_DOWN)
        with contextlib.suppress(tr.QueueFull, tr.ConnectionClosed):
            peer.send_nowait(notice)

    async def pre_game(
        self, peer: tr.Peer, messages: AsyncIterator[object]
    ) -> AsyncIterator[object]:
        session = self.matches[peer.id]
        versions_agreed = False
        async for message in messages:
            match message:
                case Version(version) if version == PROTOCOL_VERSION:
                    versions_agreed = True
                    yield Version(PROTOCOL_VERSION)
                case Version(version):
                    session.interrupt(f"the guest speaks protocol version {version}")
                    yield Error(ErrorKind.INCOMPATIBLE_PROTOCOLS)
                    return
                case Config(config, game_codec) if versions_agreed:
                    if game_codec != self.game_codec:
                        session.interrupt(
                            f"the guest plays over {game_codec}, this server over {self.game_codec}"
                        )
                        yield Error(ErrorKind.INCOMPATIBLE_PROTOCOLS)
                        return
                    session.table = Table(config, Player.HOST, self._draws())
                    yield message  # the terms are accepted
                    peer.goto(Stage.GAME)
                    return
                case Error(kind):
                    session.interrupt(_from_peer(kind, "guest"))
                    return
                case _:
                    session.interrupt(f"unexpected {type(message).__name__} before the game")
                    yield Error(ErrorKind.UNEXPECTED_MESSAGE)
                    return

    async def game(self, peer: tr.Peer, messages: AsyncIterator[object]) -> AsyncIterator[object]:
        session = self.matches[peer.id]
        table = session.table
        assert table is not None, "the pre-game stage sets the table up"
        yield GameStarted()
        patience = table.config.rally_timeout_millis / 1000 or math.inf
        incoming = aiter(messages)
        while True:
            message: object = None
            with trio.move_on_after(patience) as waiting:
                message = await anext(incoming, None)
            if waiting.cancelled_caught:
                for report in reports(table.cancel(BrokenRule.RALLY_TIMEOUT)):
                    yield report
                yield GoodBye()
                return
            match message:
                case PingPongEvent():
                    for report in exchange(table, message):
                        yield report
                case DumpConfig():
                    yield table.config
                case EndorsedScore() | ContestedScore():
                    session.verdict = message
                    # A verdict before our umpire saw the end: the guest's saw another match.
                    for report in reports(table.cancel(BrokenRule.UMPIRE_DISAGREEMENT)):
                        yield report
                    yield GoodBye()
                    return
                case Quit():
                    session.interrupt("the guest quit")
                    yield GoodBye()
                    return
                case Error(kind):
                    session.interrupt(_from_peer(kind, "guest"))
                    return
                case None:
                    return  # the guest closed the connection


class Guest:
    """The client's side of one match: its processors and its :class:`Match` (one per connection).

    ``version`` is the pre-game protocol version to claim (another one shows the server's
    refusal).
    """

    def __init__(
        self,
        config: MatchConfig,
        codec: tr.Codec | None = None,
        *,
        draw: Draw | None = None,
        version: int = PROTOCOL_VERSION,
    ) -> None:
        codec = codec or tr.FixedBinary()
        self.config = config
        self.game_codec = codec.name
        self.match = Match()
        self._draw = draw if draw is not None else fresh_draws()
        self._version = version
        self.service = _service(self.pre_game, self.game, codec)

    def on_event(self, event: tr.Event) -> None:
        match event:
            case tr.Connected(peer):
                self.match.address = _address(peer)
            case tr.PeerLeft(_, Stage.GAME, stats):
                self.match.stats = stats
            case tr.Disconnected(_, reason):
                self.match.disconnected(reason)

    async def pre_game(
        self, peer: tr.Peer, messages: AsyncIterator[object]
    ) -> AsyncIterator[object]:
        session = self.match
        terms = Config(self.config, self.game_codec)
        yield Version(self._version)
        async for message in messages:
            match message:
                case Version(version) if version == self._version:
                    yield terms
                case Config() if message == terms:  # accepted: the server is in the game stage
                    session.table = Table(self.config, Player.GUEST, self._draw)
                    peer.goto(Stage.GAME)
                    return
                case Error(kind):
                    session.interrupt(_from_peer(kind, "server"))
                    return
                case _:
                    session.interrupt(f"unexpected {type(message).__name__} before the game")
                    yield Error(ErrorKind.UNEXPECTED_MESSAGE)
                    return

    async def game(self, peer: tr.Peer, messages: AsyncIterator[object]) -> AsyncIterator[object]:
        session = self.match
        table = session.table
        assert table is not None, "the pre-game stage sets the table up"
        async for message in messages:
            replies: Sequence[object] = ()
            match message:
                case PingPongEvent():
                    replies = exchange(table, message)
                case GameStarted():
                    # Check the terms the server plays by, and serve.
                    replies = [DumpConfig(), *reports(table.play())]
                case MatchConfig() if message != table.config:
                    # Terms other than ours: the umpires would judge different matches.
                    replies = reports(table.cancel(BrokenRule.CONFIG_MISMATCH))
                case GoodBye():
                    return
                case ServerShutdown():
                    session.interrupt("the server shut down")
                    return
                case Error(kind):
                    session.interrupt(_from_peer(kind, "server"))
                    return
            for reply in replies:
                yield reply
            if table.is_over and session.verdict is None:
                session.verdict = (
                    EndorsedScore()
                    if isinstance(table.outcome, GracefullyEnded)
                    else ContestedScore(table.score)
                )
                yield session.verdict
