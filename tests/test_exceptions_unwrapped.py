"""A lone exception leaves every public call with an internal nursery as itself.

``except ValueError`` around ``async with tr.connect(...)`` must match what the block raised;
several exceptions at once are a real group and stay one.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio

import trio_reactive as tr
from tests.engine_support import (
    PROCESSORS,
    Ping,
    Pong,
    Quit,
    protocol,
    start_ping_server,
    start_server,
)
from trio_reactive._unwrap import lone_exception
from trio_reactive.testing import run_processor

pytestmark = pytest.mark.timeout(30)


class Boom(Exception):
    pass


async def test_a_value_error_inside_connect_comes_out_as_itself() -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_ping_server(nursery)
            with pytest.raises(ValueError, match="mine") as caught:
                async with tr.connect(protocol(), "127.0.0.1", server.port) as conn:
                    await conn.send(Ping(1))
                    assert await conn.receive() == Pong(1, 2)
                    raise ValueError("mine")
            assert not isinstance(caught.value.__context__, BaseExceptionGroup)
            await server.shutdown()


async def test_connection_closed_inside_connect_is_caught_by_its_own_name() -> None:
    def quit_closes(peer: tr.Peer, message: Any) -> None:
        peer.close()

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, protocol(), quit_closes)
            caught: list[tr.ConnectionClosed] = []
            try:
                async with tr.connect(protocol(), "127.0.0.1", server.port) as conn:
                    await conn.send(Quit())
                    await conn.receive()
            except tr.ConnectionClosed as exc:
                caught.append(exc)
            assert len(caught) == 1
            await server.shutdown()


async def test_a_group_raised_in_the_block_stays_that_group() -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_ping_server(nursery)
            mine = ExceptionGroup("mine", [ValueError("a"), KeyError("b")])
            with pytest.raises(ExceptionGroup) as caught:
                async with tr.connect(protocol(), "127.0.0.1", server.port):
                    raise mine
            # Trio may hand back a copy of the group (split around Cancelled), never a wrapper.
            assert caught.value.message == "mine"
            assert caught.value.exceptions == mine.exceptions
            await server.shutdown()


async def test_a_message_run_processor_cannot_encode_comes_out_as_itself() -> None:
    with trio.fail_after(10), pytest.raises(tr.EncodeError):
        await run_processor(protocol(), PROCESSORS["handler"], ["not a message"])


class Stop(BaseException):
    """Not an ``Exception``: the engine does not report it as an event, it lets it out."""


@pytest.mark.parametrize("shape", ["responsive", "handler"])
async def test_a_base_exception_from_a_client_processor_leaves_run_client_as_itself(
    shape: str,
) -> None:
    async def stream(peer: tr.Peer, pongs: Any) -> Any:
        yield Ping(1)
        async for _ in pongs:
            raise Stop

    def handler(peer: tr.Peer, pong: Any) -> None:
        raise Stop

    async def greet(peer: tr.Peer, messages: Any) -> Any:
        yield Pong(0, 0)
        async for _ in messages:
            pass

    server_side = PROCESSORS["handler"] if shape == "responsive" else greet
    client_side = stream if shape == "responsive" else handler
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, protocol(), server_side)
            with pytest.raises(Stop):
                await tr.run_client(protocol(), client_side, "127.0.0.1", server.port)
            await server.shutdown()


async def test_lone_exception_unwraps_one_nursery_level_and_keeps_real_groups() -> None:
    async def fail(error: BaseException) -> None:
        raise error

    with pytest.raises(Boom), lone_exception():
        async with trio.open_nursery() as nursery:
            nursery.start_soon(fail, Boom())
    with pytest.raises(ExceptionGroup) as caught, lone_exception():
        async with trio.open_nursery() as nursery:
            nursery.start_soon(fail, Boom())
            nursery.start_soon(fail, ValueError())
    assert {type(e) for e in caught.value.exceptions} == {Boom, ValueError}


async def test_connect_failed_is_raised_as_itself() -> None:
    from tests.engine_support import free_port

    with trio.fail_after(10), pytest.raises(tr.ConnectFailed):
        async with tr.connect(protocol(), "127.0.0.1", free_port()):
            pass
