"""The client's entry points: play one match, or many at once and tally them."""

from __future__ import annotations

from collections.abc import Callable

import attrs
import trio

import trio_reactive as tr

from .models import GameCancelled, GracefullyEnded, MatchConfig
from .processors import CONNECTION_CONFIG, Guest, Match, seeded_draws

__all__ = ["Tally", "play_match", "play_matches", "run_clients"]


async def play_match(guest: Guest, address: str, port: int) -> Match:
    """Connect, play ``guest``'s match to its end, and return it (a failed connect included)."""
    try:
        await tr.run_client(
            guest.service,
            None,
            address,
            port,
            config=CONNECTION_CONFIG,
            on_event=guest.on_event,
        )
    except tr.ConnectFailed as exc:
        guest.match.interrupt(str(exc))
    return guest.match


@attrs.frozen
class Tally:
    """Matches played at once, and how long they took together."""

    matches: list[Match]
    seconds: float

    @property
    def messages(self) -> int:
        return sum(match.messages for match in self.matches)

    def summary(self) -> str:
        outcomes = [match.outcome for match in self.matches]
        ended = sum(isinstance(outcome, GracefullyEnded) for outcome in outcomes)
        cancelled = sum(isinstance(outcome, GameCancelled) for outcome in outcomes)
        stopped = len(outcomes) - ended - cancelled
        rate = self.messages / self.seconds if self.seconds else 0.0
        return (
            f"{len(self.matches)} matches in {self.seconds:.2f} s: {ended} ended, "
            f"{cancelled} cancelled, {stopped} stopped; {self.messages:,} game messages in+out"
            f" = {rate:,.0f} msgs/s over all clients"
        )


async def play_matches(
    address: str,
    port: int,
    *,
    clients: int,
    config: MatchConfig,
    codec: tr.Codec,
    seed: int | None = None,
    on_match_end: Callable[[int, Match], object] | None = None,
) -> Tally:
    """Play ``clients`` matches concurrently, one connection each; ``on_match_end(number,
    match)`` hears of each as it ends."""
    draws = seeded_draws(seed, "guest")
    matches: list[Match] = []

    async def one(number: int) -> None:
        match = await play_match(Guest(config, codec, draw=draws()), address, port)
        matches.append(match)
        if on_match_end is not None:
            on_match_end(number, match)

    started = trio.current_time()
    async with trio.open_nursery() as nursery:
        for number in range(1, clients + 1):
            nursery.start_soon(one, number)
    return Tally(matches, trio.current_time() - started)


async def run_clients(
    address: str,
    port: int,
    *,
    clients: int,
    config: MatchConfig,
    codec: tr.Codec,
    seed: int | None = None,
) -> Tally:
    """Play the matches, printing one line per match as it ends, then the summary."""

    def report(number: int, match: Match) -> None:
        print(f"match {number:>3}  {match.describe()}", flush=True)

    tally = await play_matches(
        address,
        port,
        clients=clients,
        config=config,
        codec=codec,
        seed=seed,
        on_match_end=report,
    )
    print(tally.summary(), flush=True)
    return tally
