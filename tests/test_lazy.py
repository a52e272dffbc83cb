"""The waiting primitives made on first wait behave as trio's own (engine/lazy.py)."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

from trio_reactive.engine.lazy import Latch, Lot

pytestmark = pytest.mark.timeout(30)


async def test_a_latch_set_before_anyone_waits_never_makes_an_event() -> None:
    latch = Latch()
    assert not latch.is_set()
    latch.set()
    assert latch.is_set()
    with trio.fail_after(1):
        await latch.wait()  # returns at once, after a checkpoint
    assert latch._event is None


async def test_a_latch_wakes_every_waiter_when_set() -> None:
    latch = Latch()
    woken: list[int] = []

    async def waiter(n: int) -> None:
        await latch.wait()
        woken.append(n)

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            for n in range(3):
                nursery.start_soon(waiter, n)
            await trio.testing.wait_all_tasks_blocked()
            assert woken == []
            latch.set()
    assert sorted(woken) == [0, 1, 2]


async def test_a_lot_is_true_only_while_a_task_is_parked() -> None:
    lot = Lot()
    assert not lot
    lot.unpark_all()  # nobody parked, nothing made
    assert lot._lot is None
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(lot.park)
            await trio.testing.wait_all_tasks_blocked()
            assert lot
            lot.unpark_all()
    assert not lot


async def test_a_parked_task_can_be_cancelled(autojump_clock: Any) -> None:
    lot = Lot()
    with trio.move_on_after(1) as scope:
        await lot.park()
    assert scope.cancelled_caught
    assert not lot
