"""The caller-driven client: a composite service driven stage by stage, and reconnecting loops."""

from __future__ import annotations

import contextlib
import enum
from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest
import trio

import trio_reactive as tr
from tests.engine_support import Recorder, free_port
from tests.models import Ping, Pong

pytestmark = pytest.mark.timeout(60)


@attrs.frozen
class Login:
    password: str


@attrs.frozen
class Welcome:
    name: str


class Phase(enum.Enum):
    LOGIN = 1
    DATA = 2


def login(peer: tr.Peer[Welcome], message: Login) -> Welcome | None:
    if message.password != "secret":
        peer.close()
        return None
    peer.goto(Phase.DATA)
    return Welcome("player")


async def data(peer: tr.Peer[Pong], pings: AsyncIterator[Ping]) -> AsyncIterator[Pong]:
    # The first binary frame follows the textual welcome at once: the client has usually read
    # both before it moves on, so the bytes read ahead must be handed to the new codec.
    yield Pong(0, 0)
    async for ping in pings:
        yield Pong(ping.n, peer.id)


LOGIN = tr.Protocol(client=Login, server=Welcome)
DATA = tr.Protocol(client=Ping, server=Pong, codec=tr.FixedBinary())
#: A text login stage, then a binary data stage.
SERVICE = tr.Service(
    {Phase.LOGIN: tr.Stage(LOGIN, login), Phase.DATA: tr.Stage(DATA, data)},
    initial=Phase.LOGIN,
)


@contextlib.asynccontextmanager
async def _service_client(
    side: tr.Service = SERVICE,
) -> AsyncIterator[tr.ClientConnection[Any, Any]]:
    """A client, declared by ``side``, of a server of ``SERVICE``; the server shuts down after."""
    with trio.fail_after(10):
        async with (
            tr.open_server(SERVICE, host="127.0.0.1") as server,
            tr.connect(side, "127.0.0.1", server.port) as conn,
        ):
            yield conn


async def test_a_script_client_drives_a_two_codec_service_through_its_stages() -> None:
    async with _service_client() as conn:
        assert conn.stage is Phase.LOGIN
        await conn.send(Login("secret"))
        assert await conn.receive() == Welcome("player")
        await conn.goto(Phase.DATA)
        assert conn.stage is Phase.DATA
        assert await conn.receive() == Pong(0, 0)
        for n in range(1, 4):
            await conn.send(Ping(n))
        replies = [await conn.receive() for _ in range(3)]
    assert [reply.n for reply in replies] == [1, 2, 3]


async def test_bytes_read_before_the_transition_reach_the_new_stage() -> None:
    """The server's binary frame arrives while the client is still in the text stage: it is
    framed by the binary codec once the client moves on, not lost nor misread."""
    async with _service_client() as conn:
        await conn.send(Login("secret"))
        assert await conn.receive() == Welcome("player")
        # Wait until the binary frame has been read in the text stage.
        welcome = LOGIN.side("server").codec.encoder().encode(Welcome("player"))
        while conn.peer._live().bytes_in <= len(welcome):  # noqa: ASYNC110
            await trio.sleep(0.001)
        await conn.goto(Phase.DATA)
        assert await conn.receive() == Pong(0, 0)
        await conn.send(Ping(8))
        assert (await conn.receive()).n == 8


async def test_goto_a_stage_the_service_lacks_is_refused_at_once() -> None:
    class Other(enum.Enum):
        NOWHERE = 1

    async with _service_client() as conn:
        with pytest.raises(tr.StageError):
            await conn.goto(Other.NOWHERE)
        assert conn.stage is Phase.LOGIN


async def test_goto_after_the_server_closed_raises_connection_closed() -> None:
    async with _service_client() as conn:
        await conn.send(Login("wrong"))
        with pytest.raises(tr.ConnectionClosed):
            await conn.receive()
        with pytest.raises(tr.ConnectionClosed):
            await conn.goto(Phase.DATA)


# -- reconnecting ------------------------------------------------------------------------------

ECHO = tr.Protocol(client=Ping, server=Pong)
#: How the reconnecting loops below retry: soon, and not forever.
RETRY = tr.RetryPolicy.backoff(3, initial_delay=0.01)


def echo(peer: tr.Peer[Pong], ping: Ping) -> Pong:
    return Pong(ping.n, peer.id)


def one_reply_then_close(peer: tr.Peer[Pong], ping: Ping) -> Pong:
    peer.close()
    return Pong(ping.n, peer.id)


async def test_async_for_reconnects_after_the_server_closes_until_the_body_breaks() -> None:
    events = Recorder()
    seen: list[Pong] = []
    with trio.fail_after(10):
        async with tr.open_server(
            ECHO, one_reply_then_close, host="127.0.0.1", on_event=events
        ) as server:
            async for conn in tr.connect(ECHO, "127.0.0.1", server.port, reconnect=RETRY):
                await conn.send(Ping(len(seen)))
                seen.extend([reply async for reply in conn])  # ends when the server closes
                if len(seen) == 3:
                    break
            assert [pong.n for pong in seen] == [0, 1, 2]
            assert len({pong.at for pong in seen}) == 3  # three connections, three peers
            await events.wait_for(tr.Disconnected, 3)
            assert events.count()["Connected"] == 3


async def test_breaking_out_closes_a_connection_the_server_keeps_open() -> None:
    events = Recorder()
    with trio.fail_after(10):
        async with tr.open_server(ECHO, echo, host="127.0.0.1", on_event=events) as server:
            async for conn in tr.connect(ECHO, "127.0.0.1", server.port, reconnect=RETRY):
                await conn.send(Ping(1))
                assert (await conn.receive()).n == 1
                break
            # The abandoned loop is finalized: its connection closes.
            await events.wait_for(tr.Disconnected)
            assert events.count()["Connected"] == 1


async def test_an_exception_out_of_the_loop_closes_its_connection() -> None:
    events = Recorder()
    with trio.fail_after(10):
        async with tr.open_server(ECHO, echo, host="127.0.0.1", on_event=events) as server:
            connections = tr.connect(ECHO, "127.0.0.1", server.port, reconnect=RETRY)
            with pytest.raises(KeyError):
                async for conn in connections:
                    await conn.send(Ping(1))
                    assert (await conn.receive()).n == 1
                    raise KeyError("out")
            await events.wait_for(tr.Disconnected)  # without a garbage collection
            assert not conn.peer.is_connected
            with pytest.raises(RuntimeError, match="once"):
                aiter(connections)


async def test_the_loop_raises_connect_failed_once_the_policy_gives_up() -> None:
    turns = 0
    with trio.fail_after(10):
        async with tr.open_server(ECHO, one_reply_then_close, host="127.0.0.1") as server:
            port = server.port
            policy = tr.RetryPolicy.backoff(2, initial_delay=0.01)
            with pytest.raises(tr.ConnectFailed):
                async for conn in tr.connect(ECHO, "127.0.0.1", port, reconnect=policy):
                    turns += 1
                    await conn.send(Ping(1))
                    assert [reply.n async for reply in conn] == [1]
                    await server.shutdown()  # nobody listens any more: reconnecting fails
    assert turns == 1


async def test_without_reconnect_the_loop_makes_one_connection() -> None:
    with trio.fail_after(10):
        async with tr.open_server(ECHO, one_reply_then_close, host="127.0.0.1") as server:
            turns = [conn async for conn in tr.connect(ECHO, "127.0.0.1", server.port)]
            assert len(turns) == 1
            assert not turns[0].peer.is_connected


async def test_reconnect_is_refused_by_async_with() -> None:
    policy = tr.RetryPolicy.backoff(1)
    with pytest.raises(TypeError, match="async for"):
        async with tr.connect(ECHO, "127.0.0.1", free_port(), reconnect=policy):
            pass  # pragma: no cover


#: What a script needs of the service: the stages' protocols, no processors.
CLIENT_SIDE = tr.Service(
    {Phase.LOGIN: tr.Stage(LOGIN), Phase.DATA: tr.Stage(DATA)},
    initial=Phase.LOGIN,
)


async def test_a_script_declares_the_stages_without_processors() -> None:
    async with _service_client(CLIENT_SIDE) as conn:
        await conn.send(Login("secret"))
        assert await conn.receive() == Welcome("player")
        await conn.goto(Phase.DATA)
        assert await conn.receive() == Pong(0, 0)


async def test_serving_a_stage_without_a_processor_is_refused() -> None:
    with pytest.raises(tr.ProtocolDefinitionError, match="no processor"):
        await tr.serve_tcp(CLIENT_SIDE, None, 0, "127.0.0.1")
