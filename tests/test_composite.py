"""Composite services: stages with their own models and codecs, transitions, sessions."""

from __future__ import annotations

import enum
import gc
import itertools
import weakref
from typing import Any

import attrs
import pytest
import trio
import trio.testing

import trio_reactive as tr
from tests.engine_support import CODECS, Recorder, raw_connect, read_until_eof, start_server
from tests.models import CLIENT, SERVER, Ping, Pong, Quit

pytestmark = pytest.mark.timeout(60)


# -- a four-stage server reached by a plain single-protocol client ------------------------


@attrs.frozen
class Hello:
    name: str


@attrs.frozen
class Login:
    password: str


@attrs.frozen
class Set:
    key: str
    value: int


@attrs.frozen
class Bye:
    pass


@attrs.frozen
class Said:
    stage: str
    text: str


class Flow(enum.Enum):
    GREETING = 1
    AUTHENTICATED = 2
    SETTINGS = 3
    GOODBYE = 4


def _stage_checked(expected: Flow, peer: tr.Peer) -> None:
    assert peer.stage is expected, f"{expected} ran while the peer was in {peer.stage}"


def greeting(peer: tr.Peer, hello: Hello) -> Said:
    _stage_checked(Flow.GREETING, peer)
    peer.session["name"] = hello.name
    peer.goto(Flow.AUTHENTICATED)
    return Said("greeting", f"hello {hello.name}")


async def authenticated(peer: tr.Peer, logins: Any) -> Any:
    async for login in logins:
        _stage_checked(Flow.AUTHENTICATED, peer)
        if login.password == "secret":
            peer.goto(Flow.SETTINGS)
            yield Said("authenticated", "welcome")
            return
        yield Said("authenticated", "try again")


async def settings(peer: tr.Peer, changes: Any) -> None:
    async for change in changes:
        _stage_checked(Flow.SETTINGS, peer)
        if isinstance(change, Bye):
            peer.goto(Flow.GOODBYE)
            return
        peer.session[change.key] = change.value
        await peer.send(Said("settings", f"{change.key}={change.value}"))


@tr.per_message
async def goodbye(peer: tr.Peer, message: Any) -> Said:
    _stage_checked(Flow.GOODBYE, peer)
    return Said("goodbye", f"bye {peer.session['name']} ({len(peer.session)} entries)")


FOUR_STAGES = tr.Service(
    {
        Flow.GREETING: tr.Stage(tr.Protocol(client=Hello, server=Said), greeting),
        Flow.AUTHENTICATED: tr.Stage(tr.Protocol(client=Login, server=Said), authenticated),
        Flow.SETTINGS: tr.Stage(tr.Protocol(client=Set | Bye, server=Said), settings),
        Flow.GOODBYE: tr.Stage(tr.Protocol(client=Hello, server=Said), goodbye),
    },
    initial=Flow.GREETING,
)
#: What a plain client speaks: every message of every stage, in one textual protocol.
FLAT = tr.Protocol(client=Hello | Login | Set | Bye, server=Said)


async def test_four_stage_server_with_a_single_protocol_client() -> None:
    events = Recorder()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, FOUR_STAGES, on_event=events)
            async with tr.connect(FLAT, "127.0.0.1", server.port) as conn:
                for message in (
                    Hello("ann"),
                    Login("guess"),
                    Login("secret"),
                    Set("volume", 7),
                    Set("speed", 2),
                    Bye(),
                    Hello("again"),
                ):
                    await conn.send(message)
                replies = [await conn.receive() for _ in range(6)]  # Bye has no reply
            await events.wait_for(tr.Disconnected)
            await server.shutdown()
    assert replies == [
        Said("greeting", "hello ann"),
        Said("authenticated", "try again"),
        Said("authenticated", "welcome"),
        Said("settings", "volume=7"),
        Said("settings", "speed=2"),
        Said("goodbye", "bye ann (3 entries)"),
    ]
    assert [event.stage for event in events.of(tr.PeerArrived)] == list(Flow)
    assert [event.stage for event in events.of(tr.PeerLeft)] == list(Flow)
    assert events.count()["Connected"] == events.count()["Disconnected"] == 1


async def test_multi_stage_client_against_a_single_protocol_server() -> None:
    """The mirror case: the client walks the stages, the server speaks one flat protocol."""
    answers: list[Said] = []

    def flat_server(peer: tr.Peer, message: Any) -> Said:
        return Said(type(message).__name__, getattr(message, "name", ""))

    class Walk(enum.Enum):
        FIRST = 1
        SECOND = 2

    async def first(peer: tr.Peer, replies: Any) -> Any:
        yield Hello("one")
        async for said in replies:
            answers.append(said)
            peer.goto(Walk.SECOND)
            return

    async def second(peer: tr.Peer, replies: Any) -> Any:
        yield Login("pw")
        async for said in replies:
            answers.append(said)
            return

    client_service = tr.Service(
        {
            Walk.FIRST: tr.Stage(tr.Protocol(client=Hello, server=Said), first),
            Walk.SECOND: tr.Stage(tr.Protocol(client=Login, server=Said), second),
        },
        initial=Walk.FIRST,
    )
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, FLAT, flat_server)
            reason = await tr.run_client(client_service, None, "127.0.0.1", server.port)
            await server.shutdown()
    assert answers == [Said("Hello", "one"), Said("Login", "")]
    assert reason is tr.DisconnectReason.PROCESSOR_ENDED


# -- walking 25 stages ----------------------------------------------------------------------

Step = enum.Enum("Step", [f"S{i}" for i in range(1, 26)])  # type: ignore[misc]
STEPS = list(Step)
WALK = tr.Protocol(client=Ping, server=Pong)


def _walking_client(done: list[int]) -> tr.Service:
    def stage_for(index: int) -> Any:
        async def step(peer: tr.Peer, replies: Any) -> Any:
            yield Ping(index)
            async for reply in replies:
                assert reply == Pong(index, 0)
                done.append(index)
                if index < len(STEPS):
                    peer.goto(STEPS[index])
                return

        return step

    return tr.Service(
        {key: tr.Stage(WALK, stage_for(i)) for i, key in enumerate(STEPS, start=1)},
        initial=STEPS[0],
    )


@pytest.mark.parametrize("server_drops_at_25", [False, True])
async def test_a_client_walks_25_stages(server_drops_at_25: bool) -> None:
    done: list[int] = []
    client_events = Recorder()

    def answer(peer: tr.Peer, ping: Ping) -> Pong | None:
        if server_drops_at_25 and ping.n == 25:
            peer.abort()
            return None
        return Pong(ping.n, 0)

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, WALK, answer)
            await tr.run_client(
                _walking_client(done), None, "127.0.0.1", server.port, on_event=client_events
            )
            await server.shutdown()
    assert done == (list(range(1, 25)) if server_drops_at_25 else list(range(1, 26)))
    assert [e.stage for e in client_events.of(tr.PeerArrived)] == STEPS
    assert [e.stage for e in client_events.of(tr.PeerLeft)] == STEPS
    counts = client_events.count()
    assert counts == {"Connected": 1, "Disconnected": 1, "PeerArrived": 25, "PeerLeft": 25}


# -- bytes already read are handed to the next stage ----------------------------------------


class Two(enum.Enum):
    OLD = 1
    NEW = 2


def _upgrade_service(old_codec: str, new_codec: str) -> tr.Service:
    def old(peer: tr.Peer, ping: Ping) -> Pong:
        peer.goto(Two.NEW)
        return Pong(ping.n, 1)

    def new(peer: tr.Peer, ping: Any) -> Pong | None:
        return Pong(ping.n, 2) if isinstance(ping, Ping) else None

    return tr.Service(
        {
            Two.OLD: tr.Stage(tr.Protocol(CLIENT, SERVER, codec=CODECS[old_codec]), old),
            Two.NEW: tr.Stage(tr.Protocol(CLIENT, SERVER, codec=CODECS[new_codec]), new),
        },
        initial=Two.OLD,
    )


async def _exchange(service: tr.Service, segment: bytes) -> bytes:
    """Send ``segment`` in one write to a fresh server, close our side, return all it sent."""
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, service)
            stream = await raw_connect(server.port)
            await stream.send_all(segment)
            await stream.send_eof()
            received = await read_until_eof(stream)
            await server.shutdown()
    return received


def _codec_pair(codec: str) -> tuple[Any, Any]:
    """The compiled codecs a client sends with and a server replies with."""
    proto = tr.Protocol(CLIENT, SERVER, codec=CODECS[codec])
    return proto.side("client").codec, proto.side("server").codec


@pytest.mark.parametrize(("old_codec", "new_codec"), list(itertools.product(CODECS, CODECS)))
async def test_back_to_back_messages_across_a_transition(old_codec: str, new_codec: str) -> None:
    service = _upgrade_service(old_codec, new_codec)
    old_side, old_reply = _codec_pair(old_codec)
    new_side, new_reply = _codec_pair(new_codec)
    # The last old-stage message and the new stage's first ones leave in one segment.
    segment = old_side.encoder().encode(Ping(1)) + new_side.encoder().encode_batch(
        [Ping(2), Ping(3)]
    )
    received = await _exchange(service, segment)
    expected = old_reply.encoder().encode(Pong(1, 1)) + new_reply.encoder().encode_batch(
        [Pong(2, 2), Pong(3, 2)]
    )
    assert received == expected


async def test_serializer_upgrade_both_ways_text_fixed_text() -> None:
    class Phase(enum.Enum):
        TEXT = 1
        BINARY = 2
        TEXT_AGAIN = 3

    order = [Phase.TEXT, Phase.BINARY, Phase.TEXT_AGAIN]
    codecs = {Phase.TEXT: "textual", Phase.BINARY: "fixed", Phase.TEXT_AGAIN: "textual"}

    def processor_for(phase: Phase) -> Any:
        def step(peer: tr.Peer, ping: Ping) -> Pong:
            assert peer.stage is phase
            if phase is not Phase.TEXT_AGAIN:
                peer.goto(order[order.index(phase) + 1])
            return Pong(ping.n, phase.value)

        return step

    service = tr.Service(
        {
            phase: tr.Stage(
                tr.Protocol(CLIENT, SERVER, codec=CODECS[codecs[phase]]), processor_for(phase)
            )
            for phase in order
        },
        initial=Phase.TEXT,
    )
    pairs = [_codec_pair(codecs[phase]) for phase in order]
    segment = b"".join(sent.encoder().encode(Ping(i)) for i, (sent, _) in enumerate(pairs))
    received = await _exchange(service, segment)
    assert received == b"".join(
        reply.encoder().encode(Pong(i, i + 1)) for i, (_, reply) in enumerate(pairs)
    )


# -- routing, re-entry and stage errors -----------------------------------------------------


class Loop(enum.Enum):
    A = 1
    B = 2


async def test_router_and_peer_left_choose_the_next_stage_and_stages_reenter() -> None:
    visits: list[Loop] = []

    def a(peer: tr.Peer, ping: Ping) -> Pong:
        visits.append(Loop.A)
        peer.session["pings"] = peer.session.get("pings", 0) + 1
        peer.goto(Loop.B)  # a goto is followed; the router only decides when there is none
        return Pong(ping.n, 0)

    async def b(peer: tr.Peer, pings: Any) -> Any:
        async for ping in pings:
            visits.append(Loop.B)
            yield Pong(ping.n, 1)
            return  # no goto: the router decides

    def router(peer: tr.Peer) -> Loop | None:
        return Loop.A if peer.session["pings"] < 3 else None

    service = tr.Service(
        {Loop.A: tr.Stage(WALK, a), Loop.B: tr.Stage(WALK, b)}, initial=Loop.A, router=router
    )
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, service)
            async with tr.connect(WALK, "127.0.0.1", server.port) as conn:
                for n in range(6):
                    await conn.send(Ping(n))
                replies = [message async for message in conn]
            await server.shutdown()
    assert visits == [Loop.A, Loop.B] * 3
    assert replies == [Pong(n, n % 2) for n in range(6)]


async def test_peer_left_callback_may_set_the_next_stage() -> None:
    async def a(peer: tr.Peer, pings: Any) -> Any:
        async for ping in pings:
            yield Pong(ping.n, 0)
            return  # ends without choosing: the PeerLeft callback does

    def b(peer: tr.Peer, ping: Ping) -> Pong:
        return Pong(ping.n, 1)

    def on_event(event: Any) -> None:
        if isinstance(event, tr.PeerLeft) and event.stage is Loop.A:
            event.peer.goto(Loop.B)

    service = tr.Service({Loop.A: tr.Stage(WALK, a), Loop.B: tr.Stage(WALK, b)}, Loop.A)
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, service, on_event=on_event)
            async with tr.connect(WALK, "127.0.0.1", server.port) as conn:
                await conn.send(Ping(1))
                await conn.send(Ping(2))
                assert [await conn.receive() for _ in range(2)] == [Pong(1, 0), Pong(2, 1)]
            await server.shutdown()


def test_declaration_errors_are_caught_early() -> None:
    with pytest.raises(tr.ProtocolDefinitionError, match="initial stage"):
        tr.Service({Loop.A: tr.Stage(WALK, print)}, initial=Loop.B)
    with pytest.raises(tr.ProtocolDefinitionError, match="enum members"):
        tr.Service({"a": tr.Stage(WALK, print)}, initial="a")
    with pytest.raises(tr.ProtocolDefinitionError, match="at least one stage"):
        tr.Service({}, initial=Loop.A)


async def test_unknown_stage_at_run_time_closes_cleanly_with_a_reason() -> None:
    class Other(enum.Enum):
        NOWHERE = 1

    raised: list[Exception] = []

    async def a(peer: tr.Peer, pings: Any) -> Any:
        async for ping in pings:
            try:
                peer.goto(Other.NOWHERE)
            except tr.StageError as exc:
                raised.append(exc)
            yield Pong(ping.n, 0)
            return  # ends without a goto: the router picks a stage that does not exist

    events = Recorder()
    service = tr.Service(
        {Loop.A: tr.Stage(WALK, a)}, initial=Loop.A, router=lambda peer: Other.NOWHERE
    )
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, service, on_event=events)
            async with tr.connect(WALK, "127.0.0.1", server.port) as conn:
                await conn.send(Ping(1))
                assert await conn.receive() == Pong(1, 0)
                await conn.send(Ping(2))  # the router sends this one nowhere
                assert [m async for m in conn] == []
            await events.wait_for(tr.Disconnected)
            await server.shutdown()
    assert raised and "NOWHERE" in str(raised[0])
    (gone,) = events.of(tr.Disconnected)
    assert gone.reason is tr.DisconnectReason.STAGE_ERROR


# -- nothing leaks over many cycles ---------------------------------------------------------


def _count_tasks() -> int:
    def walk(task: trio.lowlevel.Task) -> int:
        return 1 + sum(
            walk(child) for nursery in task.child_nurseries for child in nursery.child_tasks
        )

    return walk(trio.lowlevel.current_root_task())


async def test_ten_thousand_cycles_leave_nothing_behind() -> None:
    sessions: dict[int, dict[str, Any]] = {}
    peers: weakref.WeakSet[tr.Peer] = weakref.WeakSet()
    cycles, concurrency = 10_000, 50
    disconnects = [0]
    all_gone = trio.Event()

    def on_event(event: Any) -> None:
        if isinstance(event, tr.Connected):
            sessions[event.peer.id] = event.peer.session
            peers.add(event.peer)
            event.peer.session["open"] = True
        elif isinstance(event, tr.Disconnected):
            del sessions[event.peer.id]
            disconnects[0] += 1
            if disconnects[0] == cycles:
                all_gone.set()

    service = _upgrade_service("textual", "fixed")
    old_side, _ = _codec_pair("textual")
    new_side, _ = _codec_pair("fixed")
    segment = old_side.encoder().encode(Ping(1)) + new_side.encoder().encode(Quit())

    with trio.fail_after(50):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, service, on_event=on_event)
            baseline = _count_tasks()

            async def cycle_many(count: int) -> None:
                for _ in range(count):
                    stream = await raw_connect(server.port)
                    await stream.send_all(segment)
                    await stream.send_eof()
                    await read_until_eof(stream)
                    await stream.aclose()

            async with trio.open_nursery() as clients:
                for _ in range(concurrency):
                    clients.start_soon(cycle_many, cycles // concurrency)
            await all_gone.wait()
            await trio.testing.wait_all_tasks_blocked()
            assert server.peers == []
            assert _count_tasks() == baseline
            assert server.stats.connections_accepted == cycles
            await server.shutdown()
    gc.collect()
    assert sessions == {}
    assert len(peers) == 0
