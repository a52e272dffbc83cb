"""Bounded memory under slow peers and slow processors, and each retry strategy as named."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import attrs
import pytest
import trio

import trio_reactive as tr
from tests.engine_support import Recorder, raw_connect, start_server

pytestmark = pytest.mark.timeout(30)


@attrs.frozen
class Blob:
    data: str


@attrs.frozen
class Tick:
    n: int


BLOBS = tr.Protocol(client=Tick, server=Blob)
PAYLOAD = "x" * 60_000
CAPACITY = 8


def _stuck(peers: list[tr.Peer]) -> Any:
    """A processor that sends blobs forever to a client that never reads."""

    async def flood(peer: tr.Peer, messages: Any) -> None:
        peers.append(peer)
        while True:
            await peer.send(Blob(PAYLOAD))

    return flood


async def _sample_a_client_that_never_reads(
    config: tr.Config, seconds: float, measure: Callable[[tr.Peer], int]
) -> tuple[Recorder, list[tr.Peer], list[int]]:
    """Serve blobs forever to a raw client that never reads; every 10 ms for ``seconds``, note
    ``measure`` of its peer (once the flood has started)."""
    events = Recorder()
    peers: list[tr.Peer] = []
    samples: list[int] = []
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            server = await start_server(
                nursery, BLOBS, _stuck(peers), config=config, on_event=events
            )
            stream = await raw_connect(server.port)
            with trio.move_on_after(seconds):
                while True:
                    await trio.sleep(0.01)
                    if peers:
                        samples.append(measure(peers[0]))
            await server.shutdown(grace=0.05)
            await stream.aclose()
    return events, peers, samples


async def _run_against_a_client_that_never_reads(
    policy: tr.RetryPolicy, seconds: float
) -> tuple[Recorder, list[tr.Peer], list[int]]:
    config = tr.Config(
        outgoing_capacity=CAPACITY,
        outgoing_capacity_bytes=4 << 20,  # the message capacity is what this measures
        outgoing_retry=policy,
        close_timeout=0.05,
    )
    return await _sample_a_client_that_never_reads(config, seconds, lambda peer: peer.pending)


async def test_wait_back_pressures_with_bounded_memory() -> None:
    events, _, pending = await _run_against_a_client_that_never_reads(tr.RetryPolicy.wait(), 0.5)
    assert max(pending) <= CAPACITY + 1
    assert max(pending) >= CAPACITY  # it really filled up and waited
    (gone,) = events.of(tr.Disconnected)
    assert gone.reason is tr.DisconnectReason.SHUTDOWN


async def test_do_not_retry_drops_and_keeps_the_connection() -> None:
    events, peers, pending = await _run_against_a_client_that_never_reads(
        tr.RetryPolicy.do_not_retry(), 0.3
    )
    assert max(pending) <= CAPACITY + 1
    assert peers[0].dropped[1] > 0
    (gone,) = events.of(tr.Disconnected)
    assert gone.reason is tr.DisconnectReason.SHUTDOWN  # still connected until the shutdown


@pytest.mark.parametrize(
    "policy",
    [
        tr.RetryPolicy.end_communications(),
        tr.RetryPolicy.backoff(3, initial_delay=0.01),
        tr.RetryPolicy.yielding_for(50),
    ],
    ids=["end_communications", "backoff", "yielding_for"],
)
async def test_giving_up_closes_the_connection(policy: tr.RetryPolicy) -> None:
    events, _, pending = await _run_against_a_client_that_never_reads(policy, 1.0)
    assert max(pending) <= CAPACITY + 1
    (gone,) = events.of(tr.Disconnected)
    assert gone.reason is tr.DisconnectReason.SLOW_PEER


async def test_send_nowait_raises_queue_full() -> None:
    raised: list[Exception] = []

    async def eager(peer: tr.Peer, messages: Any) -> None:
        try:
            while True:
                peer.send_nowait(Blob(PAYLOAD))
        except tr.QueueFull as exc:
            raised.append(exc)
        assert peer.pending == peer.capacity == CAPACITY
        peer.abort()

    config = tr.Config(outgoing_capacity=CAPACITY)
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, BLOBS, eager, config=config)
            stream = await raw_connect(server.port)
            while await stream.receive_some():
                pass
            await server.shutdown()
    assert len(raised) == 1


async def _slow_processor_run(policy: tr.RetryPolicy, count: int) -> tuple[Recorder, list[int]]:
    """A client floods ticks at a processor that sleeps on each one."""
    seen: list[int] = []
    events = Recorder()

    @tr.per_message
    async def slow(peer: tr.Peer, tick: Tick) -> None:
        seen.append(tick.n)
        await trio.sleep(0.001)

    config = tr.Config(incoming_capacity=16, incoming_retry=policy, receive_size=256)
    encoder = BLOBS.side("client").codec.encoder()
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, BLOBS, slow, config=config, on_event=events)
            stream = await raw_connect(server.port)
            # A server that closes with input unread makes the kernel send a reset: expected.
            with contextlib.suppress(trio.BrokenResourceError):
                await stream.send_all(encoder.encode_batch([Tick(n) for n in range(count)]))
                await stream.send_eof()
                while await stream.receive_some():
                    pass
            await events.wait_for(tr.Disconnected)
            await server.shutdown()
    return events, seen


async def test_slow_processor_with_wait_gets_everything_in_order() -> None:
    _, seen = await _slow_processor_run(tr.RetryPolicy.wait(), 300)
    assert seen == list(range(300))


async def test_slow_processor_with_do_not_retry_drops_whole_messages() -> None:
    _, seen = await _slow_processor_run(tr.RetryPolicy.do_not_retry(), 2000)
    assert 0 < len(seen) < 2000
    assert seen == sorted(seen)  # dropped, never reordered


async def test_slow_processor_with_end_communications_closes() -> None:
    events, seen = await _slow_processor_run(tr.RetryPolicy.end_communications(), 2000)
    assert len(seen) < 2000
    (gone,) = events.of(tr.Disconnected)
    assert gone.reason is tr.DisconnectReason.SLOW_PEER


async def test_the_byte_budget_bounds_memory_whatever_the_message_count() -> None:
    budget = 256 * 1024
    config = tr.Config(outgoing_capacity=100_000, outgoing_capacity_bytes=budget)
    _, _, seen = await _sample_a_client_that_never_reads(
        config, 0.5, lambda peer: peer.pending_bytes
    )
    assert max(seen) >= budget  # it filled up to the budget...
    assert max(seen) <= budget + len(PAYLOAD) + 100  # ...and no further than one message
