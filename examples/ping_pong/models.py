"""What the ping-pong game is made of: the match's terms, its events, and the messages that travel.

Two layers live here, on purpose apart:

* the **game's vocabulary** (:class:`PlayerAction`, :class:`MatchScore`, and the events
  :class:`TurnFlip`, :class:`SoftFault`, :class:`HardFault`, :class:`Score`, :class:`GameOver`)
  is a precise sum type, which is what the umpire and the tests reason about;
* the **messages** are what the wire carries.  The game stage may run over ``FixedBinary``, where
  every message is one record of one size, so no field may be a union or have a variable size:
  :class:`PingPongEvent` is therefore a flat record whose ``kind`` says which of its fields count,
  converted to and from the events in one place (:meth:`PingPongEvent.of`,
  :attr:`PingPongEvent.event`).

Numbers carry binary layout hints (``Annotated[int, construct.Int32ul]``, enums as one byte); the
textual and variable-binary codecs ignore them.  Lucky numbers and probabilities stay 64-bit
floats: the other side's umpire must judge the very number the acting side drew, and a 32-bit
float would round it on the way.
"""

from __future__ import annotations

import enum
from typing import Annotated

import attrs
import construct as c  # type: ignore[import-untyped]

import trio_reactive as tr

__all__ = [
    "GAME_MESSAGES_FROM_CLIENT",
    "GAME_MESSAGES_FROM_SERVER",
    "PRE_GAME_PROTOCOL",
    "PROTOCOL_VERSION",
    "BrokenRule",
    "Config",
    "ContestedScore",
    "DumpConfig",
    "EndorsedScore",
    "Error",
    "ErrorKind",
    "EventKind",
    "Fault",
    "Flip",
    "GameCancelled",
    "GameEvent",
    "GameOver",
    "GameStarted",
    "GoodBye",
    "GracefullyEnded",
    "HardFault",
    "MatchConfig",
    "MatchScore",
    "Outcome",
    "PingPongEvent",
    "Player",
    "PlayerAction",
    "Quit",
    "Score",
    "ServerShutdown",
    "SoftFault",
    "TurnFlip",
    "Version",
    "game_protocol",
]

#: The pre-game protocol version this implementation speaks (the original's is 3 too).
PROTOCOL_VERSION = 3

U8 = c.Int8ul
U32 = c.Int32ul


# --- the game's vocabulary -------------------------------------------------------------------


class Player(enum.IntEnum):
    """Who plays: absolute names, so both sides' umpires describe a match the same way.

    ``HOST`` plays on the server side, ``GUEST`` on the client side ("server" would clash with
    the player who serves the ball).
    """

    HOST = 1
    GUEST = 2

    @property
    def opponent(self) -> Player:
        return Player.GUEST if self is Player.HOST else Player.HOST


class Fault(enum.IntEnum):
    """What went wrong with a stroke, in the order the umpire considers hard faults."""

    NO_BOUNCE = 1
    """Hit the ball before it bounced on the player's side."""
    NO_REBATE = 2
    """Let the ball bounce twice, or out of reach, without returning it."""
    MISHIT = 3
    """Missed the ball (a soft fault while serving, except on the last attempt)."""
    PRE_BOUNCE = 4
    """The ball touched the player's own side before crossing the net."""
    NET_TOUCH = 5
    """The ball touched the net and went over (a soft fault while serving, a let)."""
    NET_BLOCK = 6
    """The net stopped the ball."""
    BALL_OUT = 7
    """The ball missed the opponent's side."""


class Flip(enum.IntEnum):
    """Why the turn passed to the opponent without a point."""

    SUCCESSFUL_SERVICE = 1
    """The service went over at the first attempt."""
    SOFT_FAULT_SERVICE = 2
    """The service went over after one or more soft faults (a retaken service)."""
    SUCCESSFUL_REBATE = 3
    """The ball was returned during the rally."""


class BrokenRule(enum.IntEnum):
    """Why a match was cancelled instead of played to the score limit."""

    WRONG_PLAYER = 1
    """A player acted out of turn."""
    INVALID_DRAW = 2
    """A lucky number outside [0, 1) was reported."""
    UMPIRE_DISAGREEMENT = 3
    """The two umpires judged an action differently."""
    RALLY_TIMEOUT = 4
    """The guest took longer than ``rally_timeout_millis`` to play."""
    CONFIG_MISMATCH = 5
    """The server plays with another configuration than the one the client proposed."""


def _probability(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:  # also refuses NaN
        raise ValueError(f"{attribute.name} must be within [0, 1], got {value!r}")


@attrs.frozen
class MatchConfig:
    """The terms of a match: the client proposes them, both umpires apply them.

    Each probability is the chance of its fault on one stroke: the umpire stacks them into
    cumulative thresholds, so they must add up to at most 1.
    """

    score_limit: Annotated[int, U32] = attrs.field(default=15000, validator=attrs.validators.ge(1))
    rally_timeout_millis: Annotated[int, U32] = 1000
    """How long the server waits for the guest's next stroke before cancelling (0: forever)."""
    no_bounce_probability: float = attrs.field(default=0.001, validator=_probability)
    no_rebate_probability: float = attrs.field(default=0.002, validator=_probability)
    mishit_probability: float = attrs.field(default=0.003, validator=_probability)
    pre_bounce_probability: float = attrs.field(default=0.004, validator=_probability)
    net_touch_probability: float = attrs.field(default=0.005, validator=_probability)
    net_block_probability: float = attrs.field(default=0.006, validator=_probability)
    ball_out_probability: float = attrs.field(default=0.007, validator=_probability)

    def __attrs_post_init__(self) -> None:
        hard = (
            self.no_bounce_probability
            + self.no_rebate_probability
            + self.mishit_probability
            + self.pre_bounce_probability
            + self.net_block_probability
            + self.ball_out_probability
        )
        if hard > 1.0 or self.mishit_probability + self.net_touch_probability > 1.0:
            raise ValueError("fault probabilities must add up to at most 1")


@attrs.frozen
class MatchScore:
    """Points of each player, and the limit that ends the match."""

    limit: Annotated[int, U32]
    host: Annotated[int, U32] = 0
    guest: Annotated[int, U32] = 0

    def of(self, player: Player) -> int:
        return self.host if player is Player.HOST else self.guest

    def won_by(self, player: Player) -> MatchScore:
        """The score after ``player`` wins a point."""
        if player is Player.HOST:
            return MatchScore(self.limit, self.host + 1, self.guest)
        return MatchScore(self.limit, self.host, self.guest + 1)

    @property
    def leader(self) -> Player | None:
        if self.host == self.guest:
            return None
        return Player.HOST if self.host > self.guest else Player.GUEST

    def __str__(self) -> str:
        return f"host {self.host} : {self.guest} guest"


@attrs.frozen
class PlayerAction:
    """A stroke: who played, and the lucky number in [0, 1) that decides how it went."""

    player: Annotated[Player, U8]
    lucky_number: float


@attrs.frozen
class TurnFlip:
    """The ball reached the other side: the opponent must answer."""

    action: PlayerAction
    flip: Flip


@attrs.frozen
class SoftFault:
    """A failed service the player may retake (no point is lost)."""

    action: PlayerAction
    fault: Fault


@attrs.frozen
class HardFault:
    """A stroke that loses the point; a :class:`Score` or :class:`GameOver` follows."""

    action: PlayerAction
    fault: Fault


@attrs.frozen
class Score:
    """The opponent of the faulting player won the point, and serves next."""

    winner: Player
    last_action: PlayerAction
    last_fault: Fault


@attrs.frozen
class GracefullyEnded:
    """A player reached the score limit."""

    final_score: MatchScore
    last_action: PlayerAction
    last_fault: Fault


@attrs.frozen
class GameCancelled:
    """The match stopped because a rule was broken."""

    partial_score: MatchScore
    broken_rule: BrokenRule


Outcome = GracefullyEnded | GameCancelled


@attrs.frozen
class GameOver:
    """The match is over, one way or the other."""

    outcome: Outcome


GameEvent = TurnFlip | SoftFault | HardFault | Score | GameOver


# --- pre-game messages (textual) -------------------------------------------------------------


@attrs.frozen
class Version:
    """The client's protocol version; the server echoes its own when it speaks the client's."""

    version: Annotated[int, U32]


@attrs.frozen
class Config:
    """The client proposes the match's terms; the server accepts them by echoing them, and both
    sides move to the game stage.

    ``game_codec`` names the game stage's wire form (a codec's ``name``), which both sides must
    share: a server over another one refuses with ``Error(INCOMPATIBLE_PROTOCOLS)``, where the
    two sides would otherwise misread each other's bytes.  The echo makes the client move on
    only once the server has: a refusal arrives while the client still reads the pre-game
    codec, so the client can read it.
    """

    config: MatchConfig
    game_codec: str = "fixed"


class ErrorKind(enum.IntEnum):
    INCOMPATIBLE_PROTOCOLS = 1
    UNEXPECTED_MESSAGE = 2
    UNDECODABLE_MESSAGE = 3
    INTERNAL_ERROR = 4
    SERVER_SHUTTING_DOWN = 5


@attrs.frozen
class Error:
    """Something went wrong; the sender closes the connection after it (both stages use it)."""

    kind: Annotated[ErrorKind, U8]


PRE_GAME_PROTOCOL = tr.Protocol(
    client=Version | Config | Error,
    server=Version | Config | Error,
    codec=tr.Textual(),
    input_error=lambda error: Error(ErrorKind.UNDECODABLE_MESSAGE),
    processor_error=lambda error: Error(ErrorKind.INTERNAL_ERROR),
)


# --- game messages (fixed size) --------------------------------------------------------------


class EventKind(enum.IntEnum):
    TURN_FLIP = 1
    SOFT_FAULT = 2
    HARD_FAULT = 3
    SCORE = 4
    GAME_ENDED = 5
    GAME_CANCELLED = 6


_NO_ACTION = PlayerAction(Player.HOST, 0.0)
_NO_SCORE = MatchScore(0)


@attrs.frozen
class PingPongEvent:
    """A :data:`GameEvent` as one fixed-size record.

    ``kind`` says which event it is; fields the kind does not use keep their defaults and are
    ignored.  ``action`` is the stroke (the last one, for a score or a graceful end), ``score``
    the final or partial score of a game over.
    """

    kind: Annotated[EventKind, U8]
    action: PlayerAction = _NO_ACTION
    flip: Annotated[Flip, U8] = Flip.SUCCESSFUL_SERVICE
    fault: Annotated[Fault, U8] = Fault.NO_BOUNCE
    winner: Annotated[Player, U8] = Player.HOST
    score: MatchScore = _NO_SCORE
    broken_rule: Annotated[BrokenRule, U8] = BrokenRule.WRONG_PLAYER

    @classmethod
    def of(cls, event: GameEvent) -> PingPongEvent:
        match event:
            case TurnFlip(action, flip):
                return cls(EventKind.TURN_FLIP, action, flip=flip)
            case SoftFault(action, fault):
                return cls(EventKind.SOFT_FAULT, action, fault=fault)
            case HardFault(action, fault):
                return cls(EventKind.HARD_FAULT, action, fault=fault)
            case Score(winner, action, fault):
                return cls(EventKind.SCORE, action, fault=fault, winner=winner)
            case GameOver(GracefullyEnded(score, action, fault)):
                return cls(EventKind.GAME_ENDED, action, fault=fault, score=score)
            case GameOver(GameCancelled(score, rule)):
                return cls(EventKind.GAME_CANCELLED, score=score, broken_rule=rule)
        raise TypeError(f"not a game event: {event!r}")

    @property
    def event(self) -> GameEvent:
        kind = self.kind
        if kind is EventKind.TURN_FLIP:
            return TurnFlip(self.action, self.flip)
        if kind is EventKind.SOFT_FAULT:
            return SoftFault(self.action, self.fault)
        if kind is EventKind.HARD_FAULT:
            return HardFault(self.action, self.fault)
        if kind is EventKind.SCORE:
            return Score(self.winner, self.action, self.fault)
        if kind is EventKind.GAME_ENDED:
            return GameOver(GracefullyEnded(self.score, self.action, self.fault))
        return GameOver(GameCancelled(self.score, self.broken_rule))


@attrs.frozen
class GameStarted:
    """The server is ready: the guest serves first."""


@attrs.frozen
class GoodBye:
    """The server's last word after the client's verdict on the score (or its quitting)."""


@attrs.frozen
class ServerShutdown:
    """The server is going away: the match is interrupted."""


@attrs.frozen
class EndorsedScore:
    """The client agrees with how the match ended."""


@attrs.frozen
class ContestedScore:
    """The client does not accept the ending (a cancelled match); here is its own score."""

    score: MatchScore


@attrs.frozen
class DumpConfig:
    """The client asks which terms the server plays by (answered with a :class:`MatchConfig`)."""


@attrs.frozen
class Quit:
    """The client leaves before the end (answered with :class:`GoodBye`)."""


GAME_MESSAGES_FROM_SERVER = (
    GameStarted | MatchConfig | PingPongEvent | Error | GoodBye | ServerShutdown
)
GAME_MESSAGES_FROM_CLIENT = (
    PingPongEvent | EndorsedScore | ContestedScore | DumpConfig | Error | Quit
)
_game_protocols: dict[tr.Codec, tr.Protocol] = {}


def game_protocol(codec: tr.Codec) -> tr.Protocol:
    """The game stage's protocol over ``codec`` (the same messages fit every codec).

    Cached, so that every service over one codec shares one protocol, compiled once: a client
    making many connections would otherwise compile its codec for each.
    """
    protocol = _game_protocols.get(codec)
    if protocol is None:
        protocol = _game_protocols[codec] = tr.Protocol(
            client=GAME_MESSAGES_FROM_CLIENT,
            server=GAME_MESSAGES_FROM_SERVER,
            codec=codec,
            input_error=lambda error: Error(ErrorKind.UNDECODABLE_MESSAGE),
            processor_error=lambda error: Error(ErrorKind.INTERNAL_ERROR),
        )
    return protocol
