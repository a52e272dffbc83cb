"""Broadcast and rooms, over the in-memory harness: one encoding per codec, no waiting."""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator

import attrs
import pytest
import trio
import trio.testing

import trio_reactive as tr
from tests.engine_support import Recorder
from tests.models import Ping, Pong
from trio_reactive.testing import MemoryServer

pytestmark = pytest.mark.timeout(60)


@attrs.frozen
class Join:
    room: str


@attrs.frozen
class Say:
    text: str


@attrs.frozen
class Said:
    who: int
    text: str


CHAT = tr.Protocol(client=Join | Say, server=Said)
ROOMS: dict[str, tr.PeerGroup[Said]] = {}


def chat(peer: tr.Peer[Said], message: Join | Say) -> Said | None:
    if isinstance(message, Join):
        ROOMS.setdefault(message.room, tr.PeerGroup()).add(peer)
        peer.session["room"] = message.room
        return Said(0, f"joined {message.room}")
    ROOMS[peer.session["room"]].broadcast(Said(peer.id, message.text), exclude=peer)
    return None


async def test_a_room_relays_to_its_members_but_the_sender_and_forgets_who_left() -> None:
    ROOMS.clear()
    with trio.fail_after(10):
        async with MemoryServer(CHAT, chat) as server:
            async with server.connect() as alice, server.connect() as bob:
                async with server.connect() as carol:
                    for conn, room in ((alice, "a"), (bob, "a"), (carol, "b")):
                        await conn.send(Join(room))
                        assert await conn.receive() == Said(0, f"joined {room}")
                    await alice.send(Say("hi"))
                    said = await bob.receive()
                    assert said.text == "hi" and said.who != 0
                    assert len(ROOMS["a"]) == 2 and len(ROOMS["b"]) == 1
                while len(ROOMS["b"]):  # carol has left: the room forgets her by itself
                    await trio.lowlevel.checkpoint()
                await bob.send(Say("still here?"))
                assert (await alice.receive()).text == "still here?"
            assert not ROOMS["a"].members


async def test_a_peer_group_is_a_set_of_connected_peers() -> None:
    with trio.fail_after(10):
        async with (
            MemoryServer(CHAT, chat) as server,
            server.connect() as one,
            server.connect() as two,
        ):
            await one.send(Join("x"))
            await two.send(Join("y"))
            await one.receive()
            await two.receive()
            by_room = {peer.session["room"]: peer for peer in server.peers}
            first, second = by_room["x"], by_room["y"]
            group = tr.PeerGroup([first])
            group.add(first)
            group.add(second)
            assert group.members == [first, second] and first in group
            group.discard(first)
            group.discard(first)
            assert list(group) == [second] and first not in group
            delivery = group.broadcast(Said(9, "only two"))
            assert delivery == tr.Delivery(sent=1, encodings=1)
            assert await two.receive() == Said(9, "only two")


class Phase(enum.Enum):
    TEXT = 1
    BINARY = 2


@attrs.frozen
class Welcome:
    name: str


def text_stage(peer: tr.Peer[Welcome | Pong], ping: Ping) -> Welcome:
    peer.goto(Phase.BINARY)
    return Welcome("binary from now on")


async def binary_stage(peer: tr.Peer[Pong], pings: AsyncIterator[Ping]) -> None:
    await trio.sleep_forever()


TWO_CODECS = tr.Service(
    {
        Phase.TEXT: tr.Stage(tr.Protocol(client=Ping, server=Welcome | Pong), text_stage),
        Phase.BINARY: tr.Stage(
            tr.Protocol(client=Ping, server=Pong, codec=tr.FixedBinary()), binary_stage
        ),
    },
    initial=Phase.TEXT,
)


async def test_one_encoding_per_codec_each_peer_gets_its_own_wire_form() -> None:
    with trio.fail_after(10):
        async with (
            MemoryServer(TWO_CODECS) as server,
            server.connect() as texting,
            server.connect() as binary,
        ):
            await binary.send(Ping(1))
            assert await binary.receive() == Welcome("binary from now on")
            await binary.goto(Phase.BINARY)
            while {peer.stage for peer in server.peers} != {Phase.TEXT, Phase.BINARY}:
                await trio.lowlevel.checkpoint()
            third = await server.open_stream()  # also in the text stage
            while len(server.peers) < 3:
                await trio.lowlevel.checkpoint()
            delivery = tr.broadcast(server.peers, Pong(5, 6))
            assert delivery == tr.Delivery(sent=3, encodings=2)
            assert await texting.receive() == Pong(5, 6)
            assert await binary.receive() == Pong(5, 6)
            assert b"Pong" in await third.receive_some()  # the textual form
            await third.aclose()


async def test_a_message_one_codec_cannot_carry_reaches_nobody() -> None:
    with trio.fail_after(10):
        async with MemoryServer(TWO_CODECS) as server, server.connect() as conn:
            await conn.send(Ping(1))
            await conn.receive()
            await conn.goto(Phase.BINARY)
            async with server.connect():
                while len(server.peers) < 2:
                    await trio.lowlevel.checkpoint()
                with pytest.raises(tr.EncodeError):
                    tr.broadcast(server.peers, Welcome("text only"))
                assert all(peer.pending == 0 for peer in server.peers)


def quiet(peer: tr.Peer[Said], message: Join | Say) -> None:
    """Answers nothing: what the peers below receive is broadcast."""
    return None


@pytest.mark.parametrize("policy", ["wait", "do_not_retry"])
async def test_a_peer_that_does_not_read_never_blocks_the_others(
    policy: str, caplog: pytest.LogCaptureFixture
) -> None:
    capacity = 4
    config = tr.Config(
        outgoing_capacity=capacity, outgoing_retry=getattr(tr.RetryPolicy, policy)()
    )
    events = Recorder()
    with trio.fail_after(10):
        async with MemoryServer(CHAT, quiet, config=config, on_event=events) as server:
            stalled = await server.open_stream(buffered=False)  # never read
            await events.wait_for(tr.Connected)
            slow_peer = events.of(tr.Connected)[0].peer
            async with server.connect() as fast:
                await events.wait_for(tr.Connected, 2)
                deliveries = []
                for n in range(20):
                    deliveries.append(tr.broadcast(server.peers, Said(0, str(n))))
                    await trio.testing.wait_all_tasks_blocked()  # the engine writes
                texts = [(await fast.receive()).text for _ in range(20)]
                assert texts == [str(n) for n in range(20)]  # the fast peer got everything
                sent = sum(d.sent for d in deliveries)
                deferred = sum(d.deferred for d in deliveries)
                dropped = sum(d.dropped for d in deliveries)
                assert sent + deferred + dropped == 40
                # The stalled peer took its queue's worth (the one being written counts):
                assert sent == 20 + capacity
                assert slow_peer.dropped == (0, dropped)
                warnings = [r for r in caplog.records if "dropping broadcasts" in r.message]
                assert len(warnings) == 1  # once per peer, not once per message
                if policy == "wait":
                    assert deferred == capacity  # a bounded background send waits for room
                else:
                    assert deferred == 0  # do_not_retry: a full queue drops at once
            await stalled.aclose()


async def test_under_end_communications_a_full_peer_is_closed_as_slow() -> None:
    config = tr.Config(outgoing_capacity=2, outgoing_retry=tr.RetryPolicy.end_communications())
    events = Recorder()
    with trio.fail_after(10):
        async with MemoryServer(CHAT, quiet, config=config, on_event=events) as server:
            stalled = await server.open_stream(buffered=False)  # never read
            async with server.connect() as fast:
                await events.wait_for(tr.Connected, 2)
                for n in range(5):
                    tr.broadcast(server.peers, Said(0, str(n)))
                    await trio.testing.wait_all_tasks_blocked()
                assert [(await fast.receive()).text for _ in range(5)] == list("01234")
                await events.wait_for(tr.Disconnected)
                (gone,) = events.of(tr.Disconnected)
                assert gone.reason is tr.DisconnectReason.SLOW_PEER
            await stalled.aclose()
