"""A server's total of buffered bytes stays within its budget, and nothing is lost for it.

Heavy peers here are one end of a socket pair with small kernel buffers, handed to the server
with ``serve_stream``: they flood it with requests and never read, so every reply beyond a few
kilobytes waits in the server's queues.  Each connection alone may queue a mebibyte; together
they hold no more than the budget plus one read's worth per connection still reading, and the
light connections keep being served.  Both sources are exercised: CI runs this file with the
shared poller on and with ``TRIO_REACTIVE_SHARED_POLLER=0``.
"""

from __future__ import annotations

import logging
import socket
import tracemalloc
from typing import Any, Literal

import attrs
import pytest
import trio

import trio_reactive as tr
from tests.defect_support import RawPeer, settled
from tests.engine_support import start_server
from trio_reactive.engine.budget import Budget
from trio_reactive.engine.sources import PolledSource

pytestmark = pytest.mark.timeout(60)

KIB = 1 << 10
MIB = 1 << 20
BUDGET = 128 * KIB
RECEIVE = 8 * KIB
PAD = bytes(range(256)) * 4  # 1 KiB, not all zeros: a mixed-up reply would show
HEAVY = 12
PER_PEER = 800
BATCH = 8
#: What the tests allow besides the engine's queues: the peers' own buffers and decoding,
#: the interpreter's churn.
_SLACK = 4 * MIB


@attrs.frozen
class Request:
    n: int
    pad: bytes


@attrs.frozen
class Reply:
    n: int
    pad: bytes


PROTO = tr.Protocol(client=Request, server=Reply, codec=tr.VariableBinary())
#: Each connection alone could hold 2 MiB: only the budget keeps the total small.
CONFIG = tr.Config(
    server_buffer_budget=BUDGET,
    receive_size=RECEIVE,
    incoming_capacity_bytes=MIB,
    outgoing_capacity_bytes=MIB,
)


def _size(side: Literal["client", "server"], message: Any) -> int:
    return len(PROTO.side(side).codec.encoder().encode(message))


def _one_read() -> int:
    """The most one read can add: its bytes queued, or the replies to its requests."""
    requests = RECEIVE // _size("client", Request(0, PAD)) + 1
    return max(RECEIVE, requests * _size("server", Reply(2**31, PAD)))


def _bound(reading: int) -> int:
    """The documented bound: the budget plus one read's worth per reading connection."""
    return BUDGET + reading * _one_read()


def handler(peer: tr.Peer, message: Request) -> Reply:
    return Reply(message.n, message.pad)


async def responsive(peer: tr.Peer, messages: Any) -> Any:
    async for message in messages:
        yield Reply(message.n, message.pad)


SHAPES = {"handler": handler, "responsive": responsive}


class Heavy:
    """A peer that sends ``PER_PEER`` numbered requests and reads only when told to."""

    def __init__(self) -> None:
        ours, theirs = trio.socket.socketpair()
        for sock in (ours, theirs):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.stream = trio.SocketStream(ours)
        self.theirs = trio.SocketStream(theirs)
        self.encoder = PROTO.side("client").codec.encoder()
        self.decoder = PROTO.side("client").codec.decoder()
        self.sent = 0
        self.received: list[Reply] = []
        self._flooding = trio.CancelScope()

    async def flood(self) -> None:
        with self._flooding:
            for start in range(0, PER_PEER, BATCH):
                batch = [Request(n, PAD) for n in range(start, start + BATCH)]
                await self.stream.send_all(self.encoder.encode_batch(batch))
                self.sent += BATCH

    async def leave(self) -> None:
        """Stop sending and close, without reading what the server queued."""
        self._flooding.cancel()
        await trio.lowlevel.checkpoint()
        await self.stream.aclose()

    async def read_all(self) -> None:
        while len(self.received) < PER_PEER:
            data = await self.stream.receive_some()
            assert data, "the server closed before every reply came"
            self.received.extend(self.decoder.decode_batch(data))

    def check(self) -> None:
        """Every reply came, once, in order, whole."""
        assert [reply.n for reply in self.received] == list(range(PER_PEER))
        assert all(reply.pad == PAD for reply in self.received)


def _budget(server: tr.Server) -> Budget:
    budget = server._budget
    assert budget is not None
    return budget


async def _flood(server: tr.Server, nursery: trio.Nursery, count: int = HEAVY) -> list[Heavy]:
    """Start ``count`` heavy peers and return once the server can take no more of them."""
    peers = [Heavy() for _ in range(count)]
    for peer in peers:
        await server.serve_stream(peer.theirs)
        nursery.start_soon(peer.flood)
    budget = _budget(server)
    while budget.paused < count:
        await trio.lowlevel.checkpoint()
    assert await settled(lambda: server.stats.bytes_in)
    return peers


async def _read_all(peers: list[Heavy]) -> None:
    async with trio.open_nursery() as nursery:
        for peer in peers:
            nursery.start_soon(peer.read_all)


@pytest.mark.parametrize("shape", list(SHAPES))
async def test_slow_readers_hold_no_more_than_the_budget_and_lose_nothing(shape: str) -> None:
    with trio.fail_after(40):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, PROTO, SHAPES[shape], config=CONFIG)
            tracemalloc.start()
            try:
                base = tracemalloc.get_traced_memory()[0]
                peers = await _flood(server, nursery)
                peak = tracemalloc.get_traced_memory()[1] - base
            finally:
                tracemalloc.stop()
            stats = server.stats
            # Stuck on the budget, not on the per-connection bounds (a mebibyte each).
            assert stats.buffered_bytes > BUDGET
            assert stats.buffered_bytes_peak <= _bound(HEAVY)
            assert stats.reads_paused >= HEAVY
            assert all(peer.sent < PER_PEER for peer in peers)
            # Without the budget the server would hold every reply: 9.6 MB.
            assert peak < _bound(HEAVY) + _SLACK < HEAVY * PER_PEER * len(PAD)

            await _read_all(peers)
            for peer in peers:
                peer.check()
                await peer.stream.aclose()
            while server.stats.connections_live:
                await trio.lowlevel.checkpoint()
            stats = server.stats
            assert stats.buffered_bytes == 0
            assert stats.buffered_bytes_peak <= _bound(HEAVY)
            assert stats.messages_in == stats.messages_out == HEAVY * PER_PEER
            await server.shutdown()


async def test_a_light_connection_is_served_while_heavy_peers_hold_the_budget() -> None:
    with trio.fail_after(40):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, PROTO, handler, config=CONFIG)
            peers = await _flood(server, nursery)
            budget = _budget(server)
            light = await RawPeer.open(server.port, PROTO)
            for n in range(100):
                await light.send([Request(n, b"ping")])
                replies = await light.receive(n + 1)
                assert replies[-1] == Reply(n, b"ping")
            assert budget.over and budget.paused == HEAVY  # the heavy ones held it throughout
            assert server.stats.buffered_bytes_peak <= _bound(HEAVY + 1)
            await light.aclose()
            await _read_all(peers)
            for peer in peers:
                peer.check()
            await server.shutdown()


class ReadCounter:
    """Counts the shared poller's reads of paused connections (each is a poller round's work)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        original = PolledSource.on_readable

        def counted(source: PolledSource) -> None:
            self.calls += 1
            original(source)

        monkeypatch.setattr(PolledSource, "on_readable", counted)


async def test_paused_connections_resume_when_the_budget_frees_without_polling_meanwhile(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reads = ReadCounter(monkeypatch)
    with trio.fail_after(40):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, PROTO, handler, config=CONFIG)
            peers = await _flood(server, nursery)
            budget = _budget(server)
            poller = server._poller
            # Paused: readable, and yet neither read nor polled, round after round.
            if poller is not None:
                fds = {peer.theirs.socket.fileno() for peer in peers}
                assert not fds & set(poller._watched)
            before = (reads.calls, server.stats.bytes_in)
            for _ in range(2000):
                await trio.lowlevel.checkpoint()
            assert (reads.calls, server.stats.bytes_in) == before
            assert budget.paused == HEAVY

            # Peers leaving free what they held: the paused ones read again.
            resumed = False
            while not resumed and len(peers) > 2:
                leaving = peers.pop()
                live, mark = server.stats.connections_live, server.stats.bytes_in
                await leaving.leave()
                while server.stats.connections_live == live:
                    await trio.lowlevel.checkpoint()
                await settled(lambda: server.stats.bytes_in)
                resumed = server.stats.bytes_in > mark
            assert resumed
            paused = budget.pauses
            # The rest start reading: everything they sent is answered, in order.
            await _read_all(peers)
            for peer in peers:
                peer.check()
            assert budget.pauses >= paused
            assert server.stats.buffered_bytes_peak <= _bound(HEAVY)
            await server.shutdown()
            assert budget.used == 0


# -- the counter itself ------------------------------------------------------------------


async def test_the_budget_pauses_over_its_limit_and_resumes_at_three_quarters() -> None:
    budget = Budget(1000)
    heavy, light = budget.share(), budget.share()
    heavy.add(900)
    assert not budget.over and not heavy.must_wait
    heavy.add(200)
    assert budget.over and heavy.must_wait and not light.must_wait
    woken: list[str] = []
    heavy.pause(lambda: woken.append("heavy"))
    light.add(10)
    assert light.must_wait
    light.pause(lambda: woken.append("light"))
    assert budget.paused == 2 and budget.pauses == 2
    light.sub(10)  # it holds nothing now: it may read again, the budget is still spent
    assert woken == ["light"] and budget.over
    heavy.sub(300)  # 800: still above three quarters
    assert woken == ["light"] and budget.over
    heavy.sub(50)  # 750
    assert woken == ["light", "heavy"] and not budget.over and budget.paused == 0
    assert (budget.used, budget.peak) == (750, 1110)


async def test_a_task_waits_for_the_budget_and_a_cancelled_wait_leaves_no_pause() -> None:
    budget = Budget(100)
    share = budget.share()
    share.add(200)
    with trio.move_on_after(0.01):
        await share.wait()
    assert budget.paused == 0 and share.must_wait
    async with trio.open_nursery() as nursery:
        nursery.start_soon(share.wait)
        while not budget.paused:
            await trio.lowlevel.checkpoint()
        share.sub(150)
    assert budget.paused == 0 and budget.pauses == 2


async def test_going_over_is_logged_once_per_minute(
    autojump_clock: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="trio_reactive")
    budget = Budget(100)
    share = budget.share()
    for _ in range(5):
        share.add(200)
        share.sub(200)
        await trio.sleep(1)
    lines = [r for r in caplog.records if "buffer budget of 100 bytes exceeded" in r.message]
    assert len(lines) == 1 and lines[0].levelno == logging.WARNING
    await trio.sleep(60)
    share.add(200)
    lines = [r for r in caplog.records if "buffer budget" in r.message]
    assert len(lines) == 2 and "4 similar lines suppressed" in lines[1].getMessage()


# -- configuration and statistics ----------------------------------------------------------


def test_the_budget_is_64_mib_by_default_and_none_turns_it_off() -> None:
    assert tr.Config().server_buffer_budget == 64 * MIB
    assert tr.Config(server_buffer_budget=None).server_buffer_budget is None
    assert tr.Config(server_buffer_budget=1).server_buffer_budget == 1


@pytest.mark.parametrize("bad", [0, -1, 1.5, "64", True])
def test_a_budget_must_be_a_positive_integer(bad: Any) -> None:
    with pytest.raises(tr.ConfigError, match="server_buffer_budget"):
        tr.Config(server_buffer_budget=bad)


async def test_stats_without_a_budget_are_zero_and_clients_have_none() -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            config = tr.Config(server_buffer_budget=None)
            server = await start_server(nursery, PROTO, handler, config=config)
            assert server._budget is None
            async with tr.connect(PROTO, "127.0.0.1", server.port) as client:
                await client.send(Request(1, b"x"))
                assert await client.receive() == Reply(1, b"x")
                assert client.peer._conn.inbound.share is None  # type: ignore[union-attr]
            stats = server.stats
            assert (stats.buffered_bytes, stats.buffered_bytes_peak, stats.reads_paused) == (
                0,
                0,
                0,
            )
            await server.shutdown()


async def test_a_connection_paused_for_the_budget_is_not_taken_for_a_silent_peer(
    autojump_clock: Any,
) -> None:
    config = attrs.evolve(CONFIG, heartbeat_timeout=5.0)
    with trio.fail_after(300):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, PROTO, handler, config=config)
            peers = await _flood(server, nursery)
            await trio.sleep(30)  # six heartbeat timeouts, none of them the peers' fault
            assert server.stats.connections_live == HEAVY
            assert not server.stats.disconnects
            await _read_all(peers)
            for peer in peers:
                peer.check()
            await server.shutdown()


async def test_shutting_down_ends_paused_connections_and_empties_the_budget(
    autojump_clock: Any,
) -> None:
    with trio.fail_after(300):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, PROTO, SHAPES["responsive"], config=CONFIG)
            await _flood(server, nursery)
            budget = _budget(server)
            await server.shutdown(grace=1.0)  # the peers never read: nothing can be flushed
            assert (budget.used, budget.paused, server.stats.connections_live) == (0, 0, 0)
            assert server.stats.disconnects == {tr.DisconnectReason.SHUTDOWN: HEAVY}
            nursery.cancel_scope.cancel()  # the peers' floods, blocked for good
