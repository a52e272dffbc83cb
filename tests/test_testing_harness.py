"""The testing helpers: run_processor through a service's stages, sessions, the memory server."""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator

import attrs
import pytest
import trio

import trio_reactive as tr
from tests.engine_support import Recorder
from tests.models import Ping, Pong
from trio_reactive.testing import MemoryServer, run_processor

pytestmark = pytest.mark.timeout(60)


@attrs.frozen
class Login:
    user: str


@attrs.frozen
class Welcome:
    user: str


class Phase(enum.Enum):
    LOGIN = 1
    DATA = 2


def login(peer: tr.Peer[Welcome], message: Login) -> Welcome:
    peer.session["user"] = message.user
    peer.goto(Phase.DATA)
    return Welcome(message.user)


def data(peer: tr.Peer[Pong], ping: Ping) -> Pong:
    return Pong(ping.n, len(peer.session["user"]))


async def streamed_data(peer: tr.Peer[Pong], pings: AsyncIterator[Ping]) -> AsyncIterator[Pong]:
    async for ping in pings:
        yield Pong(ping.n, len(peer.session["user"]))


LOGIN = tr.Protocol(client=Login, server=Welcome)
DATA = tr.Protocol(client=Ping, server=Pong, codec=tr.FixedBinary())


def service(data_processor: tr.Processor[Ping, Pong]) -> tr.Service:
    return tr.Service(
        {Phase.LOGIN: tr.Stage(LOGIN, login), Phase.DATA: tr.Stage(DATA, data_processor)},
        initial=Phase.LOGIN,
    )


@pytest.mark.parametrize("shape", [data, streamed_data], ids=["handler", "generator"])
async def test_run_processor_drives_a_service_through_its_stages_in_their_codecs(
    shape: tr.Processor[Ping, Pong],
) -> None:
    events = Recorder()
    replies = await run_processor(
        service(shape),
        None,
        [Login("ann"), (Phase.DATA, Ping(1)), Ping(2), (Phase.DATA, Ping(3))],
        on_event=events,
    )
    assert replies == [Welcome("ann"), Pong(1, 3), Pong(2, 3), Pong(3, 3)]
    assert [event.stage for event in events.of(tr.PeerArrived)] == [Phase.LOGIN, Phase.DATA]


async def test_run_processor_pre_fills_the_session() -> None:
    replies = await run_processor(DATA, data, [Ping(7)], session={"user": "bob"})
    assert replies == [Pong(7, 3)]


async def test_run_processor_of_a_later_stage_alone_with_a_session() -> None:
    """A stage tested on its own: the earlier stages' work stands in the session."""
    replies = await run_processor(DATA, streamed_data, [Ping(1), Ping(2)], session={"user": "x"})
    assert replies == [Pong(1, 1), Pong(2, 1)]


async def test_memory_server_runs_a_service_with_sessions_for_several_clients() -> None:
    events = Recorder()
    with trio.fail_after(10):
        async with MemoryServer(service(data), on_event=events) as server:
            async with server.connect() as ann, server.connect() as bobby:
                for conn, user in ((ann, "ann"), (bobby, "bobby")):
                    await conn.send(Login(user))
                    assert await conn.receive() == Welcome(user)
                    await conn.goto(Phase.DATA)
                await ann.send(Ping(1))
                await bobby.send(Ping(2))
                assert await ann.receive() == Pong(1, 3)
                assert await bobby.receive() == Pong(2, 5)
                assert sorted(peer.session["user"] for peer in server.peers) == ["ann", "bobby"]
                assert {peer.stage for peer in server.peers} == {Phase.DATA}
            assert ann.peer.address == ("memory", 1)
        stats = server.stats
    assert stats.connections_accepted == stats.connections_closed == 2
    assert events.count()["Disconnected"] == 2


async def test_memory_server_raw_stream_and_a_closed_server() -> None:
    with trio.fail_after(10):
        async with MemoryServer(DATA, lambda peer, ping: Pong(ping.n, 0)) as server:
            stream = await server.open_stream()
            await stream.send_all(DATA.side("client").codec.encoder().encode(Ping(4)))
            reply = await stream.receive_some()
            assert DATA.side("client").codec.decoder().decode_batch(reply) == [Pong(4, 0)]
            await stream.aclose()
        with pytest.raises(tr.ConnectFailed):
            await server.open_stream()


async def test_memory_server_lets_an_exception_from_its_block_out_as_itself() -> None:
    with pytest.raises(KeyError):
        async with MemoryServer(DATA, data):
            raise KeyError("mine")
