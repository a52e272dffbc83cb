"""The rules of the game, and the cross-check between the two sides: pure logic, no I/O.

* :class:`Rules` turns a :class:`~.models.MatchConfig` into the thresholds a lucky number is
  compared with.
* :class:`Umpire` is one umpire's view of a match, immutable: judging a stroke gives the events it
  caused and the next view.  Being immutable, a judgement can be held back until the other side's
  report confirms it, and dropped if it does not.
* :class:`Table` is one side of the table: it plays its own strokes and checks, with its own
  umpire, every event the other side reports.  Both sides run the same :class:`Table`; they differ
  only in which :class:`~.models.Player` they are.

The rules, as in the original:

* a player acts by drawing a lucky number in [0, 1);
* while a service is awaited, up to :data:`SERVICE_ATTEMPTS` attempts: a draw under ``mishit`` (or
  under ``mishit + net_touch``) is a *soft fault*, and the same player serves again; on the last
  attempt there is no retake;
* otherwise the cumulative hard-fault thresholds, in the order no_bounce, no_rebate, mishit,
  pre_bounce, net_block, ball_out, decide a lost point; otherwise the ball goes over and the turn
  flips (a service starts the rally; in a rally, it is a rebate);
* a lost point scores for the opponent, who serves next; reaching the score limit ends the match;
* a stroke by the wrong player, an impossible lucky number, or any disagreement between the two
  umpires cancels the match.

Thresholds are cumulative (each fault's interval is as wide as its probability), where the
original compared the lucky number with each raw probability in turn, so that, for instance, a
``net_touch`` of 0.005 after a ``mishit`` of 0.003 happened only 0.2% of the time.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import attrs

from .models import (
    BrokenRule,
    Fault,
    Flip,
    GameCancelled,
    GameEvent,
    GameOver,
    GracefullyEnded,
    HardFault,
    MatchConfig,
    MatchScore,
    Outcome,
    Player,
    PlayerAction,
    Score,
    SoftFault,
    TurnFlip,
)

__all__ = ["SERVICE_ATTEMPTS", "Draw", "Rules", "Ruling", "Table", "Umpire"]

#: Attempts a player has at serving when only soft faults happen.
SERVICE_ATTEMPTS = 3

#: Where a side's lucky numbers come from: anything returning floats in [0, 1).
Draw = Callable[[], float]

Thresholds = tuple[tuple[float, Fault], ...]


def _cumulative(*chances: tuple[float, Fault]) -> Thresholds:
    """Stack probabilities into upper bounds: fault *i* covers [sum of the ones before, + p_i)."""
    bounds = []
    total = 0.0
    for probability, fault in chances:
        total += probability
        bounds.append((total, fault))
    return tuple(bounds)


def _first_under(thresholds: Thresholds, lucky_number: float) -> Fault | None:
    for bound, fault in thresholds:
        if lucky_number < bound:
            return fault
    return None


@attrs.frozen
class Rules:
    """A match configuration as thresholds, worked out once per match rather than per stroke."""

    config: MatchConfig
    soft: Thresholds
    hard: Thresholds

    @classmethod
    def of(cls, config: MatchConfig) -> Rules:
        return cls(
            config,
            soft=_cumulative(
                (config.mishit_probability, Fault.MISHIT),
                (config.net_touch_probability, Fault.NET_TOUCH),
            ),
            hard=_cumulative(
                (config.no_bounce_probability, Fault.NO_BOUNCE),
                (config.no_rebate_probability, Fault.NO_REBATE),
                (config.mishit_probability, Fault.MISHIT),
                (config.pre_bounce_probability, Fault.PRE_BOUNCE),
                (config.net_block_probability, Fault.NET_BLOCK),
                (config.ball_out_probability, Fault.BALL_OUT),
            ),
        )

    def soft_fault(self, lucky_number: float) -> Fault | None:
        """The soft fault of a service attempt that may be retaken, if any."""
        return _first_under(self.soft, lucky_number)

    def hard_fault(self, lucky_number: float) -> Fault | None:
        """The fault that loses the point, if any."""
        return _first_under(self.hard, lucky_number)


@attrs.frozen
class Ruling:
    """What one judgement gives: the events, in order, and the umpire's view after them."""

    umpire: Umpire
    events: tuple[GameEvent, ...]


@attrs.frozen
class Umpire:
    """One umpire's view of a match: whose turn it is, the score, the service attempt, the end.

    ``attempt`` is the service attempt awaited (1 to :data:`SERVICE_ATTEMPTS`), or 0 during a
    rally.  Every method returns a new view; none changes this one.
    """

    rules: Rules
    turn: Player
    score: MatchScore
    attempt: int = 1
    outcome: Outcome | None = None

    @classmethod
    def start(cls, config: MatchConfig, first_server: Player = Player.GUEST) -> Umpire:
        return cls(Rules.of(config), first_server, MatchScore(config.score_limit))

    @property
    def config(self) -> MatchConfig:
        return self.rules.config

    @property
    def is_over(self) -> bool:
        return self.outcome is not None

    def judge(self, action: PlayerAction) -> Ruling:
        """The events ``action`` causes: one, or two when a point is lost (the fault, then the
        score or the end of the match).  Raises ``ValueError`` once the match is over."""
        if self.outcome is not None:
            raise ValueError(f"the match is over ({self.outcome}); no more strokes to judge")
        if action.player is not self.turn:
            return self.cancel(BrokenRule.WRONG_PLAYER)
        lucky_number = action.lucky_number
        if not 0.0 <= lucky_number < 1.0:  # also refuses NaN
            return self.cancel(BrokenRule.INVALID_DRAW)
        rules = self.rules
        attempt = self.attempt
        if attempt:
            if attempt < SERVICE_ATTEMPTS:
                soft = rules.soft_fault(lucky_number)
                if soft is not None:
                    serve_again = Umpire(rules, self.turn, self.score, attempt + 1)
                    return Ruling(serve_again, (SoftFault(action, soft),))
            flip = Flip.SUCCESSFUL_SERVICE if attempt == 1 else Flip.SOFT_FAULT_SERVICE
        else:
            flip = Flip.SUCCESSFUL_REBATE
        fault = rules.hard_fault(lucky_number)
        if fault is None:
            rally = Umpire(rules, self.turn.opponent, self.score, 0)
            return Ruling(rally, (TurnFlip(action, flip),))
        return self._point_lost(action, fault)

    def _point_lost(self, action: PlayerAction, fault: Fault) -> Ruling:
        winner = action.player.opponent
        score = self.score.won_by(winner)
        if score.of(winner) >= score.limit:
            ended = GracefullyEnded(score, action, fault)
            return Ruling(
                Umpire(self.rules, winner, score, 0, ended),
                (HardFault(action, fault), GameOver(ended)),
            )
        return Ruling(
            Umpire(self.rules, winner, score),
            (HardFault(action, fault), Score(winner, action, fault)),
        )

    def cancel(self, rule: BrokenRule) -> Ruling:
        """End the match at the current score because ``rule`` was broken."""
        cancelled = GameCancelled(self.score, rule)
        return Ruling(
            Umpire(self.rules, self.turn, self.score, self.attempt, cancelled),
            (GameOver(cancelled),),
        )


def _action_of(event: GameEvent) -> PlayerAction | None:
    """The stroke an event reports, for the events that open a report; else None."""
    if isinstance(event, TurnFlip | SoftFault | HardFault):
        return event.action
    return None


class Table:
    """One side of the table: our strokes, judged by our umpire, and a check of the other side's.

    Whoever acts draws a lucky number, has its own umpire judge the stroke and reports the
    events.  The other side has its own umpire judge the same stroke and accepts the report only
    if every event agrees; the umpire's view moves on only once the whole report is confirmed,
    so a cancellation carries the score from before the disputed stroke.  Any disagreement
    cancels the match, and the cancellation is reported back.
    """

    def __init__(
        self,
        config: MatchConfig,
        me: Player,
        draw: Draw,
        first_server: Player = Player.GUEST,
    ) -> None:
        self.me = me
        self.umpire = Umpire.start(config, first_server)
        self._draw = draw
        self._expected: deque[GameEvent] = deque()
        self._confirmed: Umpire | None = None

    @property
    def config(self) -> MatchConfig:
        return self.umpire.config

    @property
    def score(self) -> MatchScore:
        return self.umpire.score

    @property
    def outcome(self) -> Outcome | None:
        return self.umpire.outcome

    @property
    def is_over(self) -> bool:
        return self.umpire.outcome is not None

    def play(self) -> list[GameEvent]:
        """Our strokes, for as long as it is our turn, as events to report.

        A soft fault keeps the service with us, so we serve again at once: the original's
        client waited here for an answer that never came when its very first service was a
        soft fault.
        """
        umpire = self.umpire
        me = self.me
        draw = self._draw
        events: list[GameEvent] = []
        while umpire.outcome is None and umpire.turn is me:
            ruling = umpire.judge(PlayerAction(me, draw()))
            umpire = ruling.umpire
            events.extend(ruling.events)
        self.umpire = umpire
        return events

    def receive(self, reported: GameEvent) -> list[GameEvent]:
        """Check one event the other side reported; return what we report in turn.

        That is nothing while a report is incomplete, our strokes once it is confirmed and it is
        our turn, or a cancellation when it is refused.  A cancellation from the other side is
        always accepted (with our own count of the score); after the end, reports change nothing.
        """
        if isinstance(reported, GameOver) and isinstance(reported.outcome, GameCancelled):
            self._accept_cancellation(reported.outcome.broken_rule)
            return []
        if self.umpire.outcome is not None:
            return []
        if not self._expected:
            action = _action_of(reported)
            if action is None:
                return self.cancel(BrokenRule.UMPIRE_DISAGREEMENT)
            ruling = self.umpire.judge(action)
            if isinstance(ruling.umpire.outcome, GameCancelled):
                self.umpire = ruling.umpire  # our umpire's own verdict, e.g. a wrong player
                return list(ruling.events)
            self._expected.extend(ruling.events)
            self._confirmed = ruling.umpire
        if reported != self._expected.popleft():
            return self.cancel(BrokenRule.UMPIRE_DISAGREEMENT)
        if self._expected:
            return []
        assert self._confirmed is not None
        self.umpire, self._confirmed = self._confirmed, None
        return self.play()

    def cancel(self, rule: BrokenRule) -> list[GameEvent]:
        """Cancel the match ourselves; nothing to report if it is already over."""
        if self.umpire.outcome is not None:
            return []
        self._expected.clear()
        self._confirmed = None
        ruling = self.umpire.cancel(rule)
        self.umpire = ruling.umpire
        return list(ruling.events)

    def _accept_cancellation(self, rule: BrokenRule) -> None:
        """The other side cancelled; that overrides even an ending we had reached."""
        if isinstance(self.umpire.outcome, GameCancelled):
            return
        self._expected.clear()
        self._confirmed = None
        self.umpire = self.umpire.cancel(rule).umpire
