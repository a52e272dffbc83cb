"""The ping-pong rules and the cross-check between the two sides' umpires, with no sockets."""

from __future__ import annotations

import math
import random
from collections.abc import Iterable

import attrs
import pytest

from examples.ping_pong.models import (
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
    PingPongEvent,
    Player,
    PlayerAction,
    Score,
    SoftFault,
    TurnFlip,
)
from examples.ping_pong.umpire import SERVICE_ATTEMPTS, Draw, Table, Umpire

HOST, GUEST = Player.HOST, Player.GUEST
CONFIG = MatchConfig(score_limit=3)
#: A draw that faults nothing.
CLEAN = 0.5
#: A service past the soft faults (mishit + net_touch = 0.008), inside pre_bounce: a lost point.
FAULTY_SERVICE = 0.009

# Cumulative hard-fault intervals for the default probabilities (0.001, 0.002, 0.003, 0.004,
# net_touch is not a hard fault, 0.006, 0.007): a number inside each, in order.
HARD_FAULT_DRAWS = [
    (0.0005, Fault.NO_BOUNCE),  # [0, 0.001)
    (0.002, Fault.NO_REBATE),  # [0.001, 0.003)
    (0.005, Fault.MISHIT),  # [0.003, 0.006)
    (0.008, Fault.PRE_BOUNCE),  # [0.006, 0.010)
    (0.012, Fault.NET_BLOCK),  # [0.010, 0.016)
    (0.020, Fault.BALL_OUT),  # [0.016, 0.023)
]


def scripted(numbers: Iterable[float], then: Draw | None = None) -> Draw:
    """Draws the given numbers, then from ``then`` (clean strokes by default)."""
    queue = list(numbers)

    def draw() -> float:
        if queue:
            return queue.pop(0)
        return then() if then is not None else CLEAN

    return draw


def act(player: Player, lucky_number: float = CLEAN) -> PlayerAction:
    return PlayerAction(player, lucky_number)


def judge_all(umpire: Umpire, *actions: PlayerAction) -> tuple[Umpire, list[GameEvent]]:
    events: list[GameEvent] = []
    for action in actions:
        ruling = umpire.judge(action)
        umpire = ruling.umpire
        events.extend(ruling.events)
    return umpire, events


def in_rally(first: Player = GUEST) -> Umpire:
    """An umpire after a clean service by ``first``: the opponent is to return the ball."""
    return Umpire.start(CONFIG, first).judge(act(first)).umpire


def relay(host: Table, guest: Table, *, limit: int = 1_000_000) -> int:
    """Play a match between two tables, every event through its wire form; messages exchanged."""
    inbox = [(host, event) for event in guest.play()]
    exchanged = 0
    while inbox:
        table, event = inbox.pop(0)
        exchanged += 1
        assert exchanged < limit, "the match does not end"
        on_the_wire = PingPongEvent.of(event).event
        other = guest if table is host else host
        inbox.extend((other, answer) for answer in table.receive(on_the_wire))
    return exchanged


# --- the rules ---------------------------------------------------------------------------------


def test_a_clean_rally_flips_the_turn_and_a_fault_scores_for_the_opponent() -> None:
    umpire = Umpire.start(CONFIG)
    assert (umpire.turn, umpire.attempt, umpire.score) == (GUEST, 1, MatchScore(3))

    umpire, events = judge_all(umpire, act(GUEST), act(HOST), act(GUEST))
    assert events == [
        TurnFlip(act(GUEST), Flip.SUCCESSFUL_SERVICE),
        TurnFlip(act(HOST), Flip.SUCCESSFUL_REBATE),
        TurnFlip(act(GUEST), Flip.SUCCESSFUL_REBATE),
    ]
    assert (umpire.turn, umpire.attempt) == (HOST, 0)

    out = act(HOST, 0.020)
    umpire, events = judge_all(umpire, out)
    assert events == [HardFault(out, Fault.BALL_OUT), Score(GUEST, out, Fault.BALL_OUT)]
    # The point's winner serves next, at the first attempt.
    assert (umpire.turn, umpire.attempt, umpire.score) == (GUEST, 1, MatchScore(3, 0, 1))


@pytest.mark.parametrize(("lucky_number", "fault"), HARD_FAULT_DRAWS)
def test_each_hard_fault_in_a_rally(lucky_number: float, fault: Fault) -> None:
    stroke = act(HOST, lucky_number)
    ruling = in_rally().judge(stroke)
    assert ruling.events == (HardFault(stroke, fault), Score(GUEST, stroke, fault))


@pytest.mark.parametrize(
    ("lucky_number", "fault"),
    [(0.0, Fault.MISHIT), (0.0029, Fault.MISHIT), (0.007, Fault.NET_TOUCH)],
)
def test_soft_faults_while_serving(lucky_number: float, fault: Fault) -> None:
    stroke = act(GUEST, lucky_number)
    ruling = Umpire.start(CONFIG).judge(stroke)
    assert ruling.events == (SoftFault(stroke, fault),)
    assert (ruling.umpire.turn, ruling.umpire.attempt, ruling.umpire.score) == (
        GUEST,
        2,
        MatchScore(3),
    )


def test_a_service_that_clears_the_soft_faults_can_still_fault_hard() -> None:
    stroke = act(GUEST, FAULTY_SERVICE)
    assert Umpire.start(CONFIG).judge(stroke).events[0] == HardFault(stroke, Fault.PRE_BOUNCE)


def test_three_service_attempts_then_no_retake() -> None:
    umpire = Umpire.start(CONFIG)
    for attempt in range(1, SERVICE_ATTEMPTS):
        assert umpire.attempt == attempt
        umpire, events = judge_all(umpire, act(GUEST, 0.0))
        assert events == [SoftFault(act(GUEST, 0.0), Fault.MISHIT)]
    # The last attempt has no retake: the same draw is now a hard fault, and the point is lost.
    last = act(GUEST, 0.0)
    umpire, events = judge_all(umpire, last)
    assert events == [HardFault(last, Fault.NO_BOUNCE), Score(HOST, last, Fault.NO_BOUNCE)]
    assert (umpire.turn, umpire.attempt, umpire.score) == (HOST, 1, MatchScore(3, 1, 0))


def test_a_service_after_soft_faults_flips_as_a_retaken_service() -> None:
    umpire, events = judge_all(Umpire.start(CONFIG), act(GUEST, 0.0), act(GUEST, 0.007), act(GUEST))
    assert events[-1] == TurnFlip(act(GUEST), Flip.SOFT_FAULT_SERVICE)
    assert (umpire.turn, umpire.attempt) == (HOST, 0)


def test_reaching_the_score_limit_ends_the_match() -> None:
    umpire = Umpire.start(MatchConfig(score_limit=2))
    miss = act(GUEST, 0.0005)
    umpire, _ = judge_all(umpire, act(GUEST), act(HOST), miss)  # host 1 : 0
    umpire, events = judge_all(umpire, act(HOST), miss)  # host 2 : 0
    ended = GracefullyEnded(MatchScore(2, 2, 0), miss, Fault.NO_BOUNCE)
    assert events[-2:] == [HardFault(miss, Fault.NO_BOUNCE), GameOver(ended)]
    assert umpire.outcome == ended
    with pytest.raises(ValueError, match="over"):
        umpire.judge(act(umpire.turn))


def test_a_stroke_by_the_wrong_player_cancels_the_match() -> None:
    ruling = Umpire.start(CONFIG).judge(act(HOST))
    cancelled = GameCancelled(MatchScore(3), BrokenRule.WRONG_PLAYER)
    assert ruling.events == (GameOver(cancelled),)
    assert ruling.umpire.outcome == cancelled


@pytest.mark.parametrize("lucky_number", [1.0, -0.1, math.nan, math.inf])
def test_an_impossible_lucky_number_cancels_the_match(lucky_number: float) -> None:
    ruling = Umpire.start(CONFIG).judge(act(GUEST, lucky_number))
    assert ruling.events == (GameOver(GameCancelled(MatchScore(3), BrokenRule.INVALID_DRAW)),)


def test_configs_refuse_impossible_probabilities() -> None:
    with pytest.raises(ValueError, match="within"):
        MatchConfig(ball_out_probability=1.5)
    with pytest.raises(ValueError, match="add up"):
        MatchConfig(no_bounce_probability=0.6, ball_out_probability=0.6)
    with pytest.raises(ValueError):
        MatchConfig(score_limit=0)


# --- the table: our strokes and the check of the other side's ----------------------------------


def test_a_first_service_soft_fault_is_served_again_at_once() -> None:
    """The original's client stalled here: it waited for an answer to its soft fault."""
    guest = Table(CONFIG, GUEST, scripted([0.0, 0.007, CLEAN]))
    events = guest.play()
    assert events == [
        SoftFault(act(GUEST, 0.0), Fault.MISHIT),
        SoftFault(act(GUEST, 0.007), Fault.NET_TOUCH),
        TurnFlip(act(GUEST), Flip.SOFT_FAULT_SERVICE),
    ]
    host = Table(CONFIG, HOST, scripted([]))
    assert host.receive(events[0]) == []  # a soft fault: the guest serves again, no answer
    assert host.receive(events[1]) == []
    assert host.receive(events[2]) == [TurnFlip(act(HOST), Flip.SUCCESSFUL_REBATE)]


def test_a_report_is_answered_only_once_complete() -> None:
    guest = Table(CONFIG, GUEST, scripted([FAULTY_SERVICE]))
    host = Table(CONFIG, HOST, scripted([]))
    fault, score = guest.play()
    assert isinstance(fault, HardFault)
    assert host.receive(fault) == []  # the score must follow before the host serves
    assert host.score == MatchScore(3)
    assert host.receive(score) == [TurnFlip(act(HOST), Flip.SUCCESSFUL_SERVICE)]
    assert host.score == guest.score == MatchScore(3, 1, 0)


def test_a_stroke_reported_out_of_turn_cancels_the_match() -> None:
    host = Table(CONFIG, HOST, scripted([]))
    answer = host.receive(TurnFlip(act(HOST), Flip.SUCCESSFUL_SERVICE))  # the guest serves first
    assert answer == [GameOver(GameCancelled(MatchScore(3), BrokenRule.WRONG_PLAYER))]
    assert host.is_over
    assert host.receive(TurnFlip(act(GUEST), Flip.SUCCESSFUL_SERVICE)) == []  # over: ignored


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda e: attrs.evolve(e, fault=Fault.NET_BLOCK), id="another-fault"),
        pytest.param(lambda e: TurnFlip(e.action, Flip.SUCCESSFUL_SERVICE), id="no-fault"),
        pytest.param(lambda e: Score(GUEST, e.action, e.fault), id="skipped-fault"),
    ],
)
def test_a_report_our_umpire_disagrees_with_cancels_the_match(tamper: object) -> None:
    guest = Table(CONFIG, GUEST, scripted([FAULTY_SERVICE]))
    host = Table(CONFIG, HOST, scripted([]))
    fault, _score = guest.play()
    answer = host.receive(tamper(fault))  # type: ignore[operator]
    # The partial score is the one before the disputed stroke.
    assert answer == [GameOver(GameCancelled(MatchScore(3), BrokenRule.UMPIRE_DISAGREEMENT))]
    # The reporting side accepts the cancellation, with its own count of the score.
    assert guest.receive(answer[0]) == []
    assert guest.outcome == GameCancelled(MatchScore(3, 1, 0), BrokenRule.UMPIRE_DISAGREEMENT)


def test_umpires_with_different_rules_cancel_the_match() -> None:
    host = Table(CONFIG, HOST, random.Random(1).random)
    guest = Table(attrs.evolve(CONFIG, ball_out_probability=0.5), GUEST, random.Random(2).random)
    relay(host, guest)
    assert isinstance(host.outcome, GameCancelled)
    assert host.outcome.broken_rule is BrokenRule.UMPIRE_DISAGREEMENT
    assert guest.outcome == host.outcome


def test_a_cancellation_overrides_an_ending_the_other_side_refused() -> None:
    guest = Table(MatchConfig(score_limit=1), GUEST, scripted([FAULTY_SERVICE]))
    guest.play()
    assert isinstance(guest.outcome, GracefullyEnded)
    refusal = GameOver(GameCancelled(MatchScore(1), BrokenRule.UMPIRE_DISAGREEMENT))
    assert guest.receive(refusal) == []
    assert guest.outcome == GameCancelled(MatchScore(1, 1, 0), BrokenRule.UMPIRE_DISAGREEMENT)
    assert guest.cancel(BrokenRule.RALLY_TIMEOUT) == []  # already over: nothing more to cancel


def test_two_umpires_agree_over_a_long_random_match() -> None:
    config = MatchConfig(score_limit=200)
    host = Table(config, HOST, random.Random(2024).random)
    guest = Table(config, GUEST, random.Random(42).random)
    exchanged = relay(host, guest)
    assert isinstance(host.outcome, GracefullyEnded)
    assert guest.outcome == host.outcome
    final = host.outcome.final_score
    assert max(final.host, final.guest) == 200 > min(final.host, final.guest)
    # About 40 strokes a point with the default probabilities: a long match indeed.
    assert exchanged > 20 * (final.host + final.guest)


# --- the wire form -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "event",
    [
        TurnFlip(act(GUEST, 0.25), Flip.SOFT_FAULT_SERVICE),
        SoftFault(act(GUEST, 0.001), Fault.NET_TOUCH),
        HardFault(act(HOST, 0.015), Fault.NET_BLOCK),
        Score(GUEST, act(HOST, 0.015), Fault.NET_BLOCK),
        GameOver(GracefullyEnded(MatchScore(9, 9, 7), act(GUEST, 0.0001), Fault.NO_BOUNCE)),
        GameOver(GameCancelled(MatchScore(9, 3, 4), BrokenRule.RALLY_TIMEOUT)),
    ],
)
def test_every_event_survives_its_fixed_size_wire_form(event: GameEvent) -> None:
    assert PingPongEvent.of(event).event == event
