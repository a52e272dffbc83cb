"""Processor signatures are checked when a service is built, with what to change.

The likely mistakes (an ``async def (peer, msg)`` without ``@per_message``, a handler with the
wrong number of parameters, a sync function that wants the stream) are refused at once; every
shape that can work — callable objects, ``functools.partial``, methods, defaults — still does.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import AsyncIterator
from typing import Any

import pytest
import trio

import trio_reactive as tr
from tests.engine_support import Ping, Pong, Quit, protocol
from trio_reactive.processor import Kind, adapt
from trio_reactive.testing import run_processor

pytestmark = pytest.mark.timeout(30)


class _Only(enum.Enum):
    ONE = 1


def _serve(processor: Any) -> Any:
    """What ``serve_tcp`` does first: build the service and compile it."""
    service = tr.Service({_Only.ONE: tr.Stage(protocol(), processor)}, initial=_Only.ONE)
    return service.compile("server", 1 << 20)


async def test_an_async_handler_without_per_message_is_refused_with_the_fix() -> None:
    async def handle(peer: tr.Peer, msg: Ping) -> Pong:
        return Pong(msg.n, 0)

    with pytest.raises(tr.ProtocolDefinitionError, match=r"@trio_reactive\.per_message") as e:
        _serve(handle)
    assert "'msg'" in str(e.value)


async def test_an_unannotated_async_handler_named_message_is_refused() -> None:
    async def handle(peer, message):  # type: ignore[no-untyped-def]
        return None

    with pytest.raises(tr.ProtocolDefinitionError, match="per-message handler"):
        _serve(handle)


async def test_the_refusal_happens_at_serve_tcp_before_listening() -> None:
    async def handle(peer: tr.Peer, msg: Ping) -> None:
        return None

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            with pytest.raises(tr.ProtocolDefinitionError):
                await nursery.start(tr.serve_tcp, protocol(), handle, 0, "127.0.0.1")


@pytest.mark.parametrize(
    "processor",
    [
        lambda peer: None,
        lambda peer, message, extra: None,
        lambda: None,
    ],
    ids=["one-parameter", "three-parameters", "none"],
)
def test_a_handler_with_the_wrong_number_of_parameters_is_refused(processor: Any) -> None:
    with pytest.raises(tr.ProtocolDefinitionError, match="two positional parameters"):
        _serve(processor)


def test_the_refusal_is_also_a_type_error() -> None:
    with pytest.raises(TypeError):
        _serve(lambda peer: None)


def test_a_sync_function_annotated_with_a_stream_is_refused() -> None:
    def handle(peer: tr.Peer, messages: AsyncIterator[Ping]) -> None:
        return None

    with pytest.raises(tr.ProtocolDefinitionError, match="called once per message"):
        _serve(handle)


def test_a_non_callable_is_refused() -> None:
    with pytest.raises(tr.ProtocolDefinitionError, match="callable"):
        _serve(42)


# -- what must keep working --------------------------------------------------------------------


class Doubler:
    """A callable object handler and methods of every kind."""

    factor = 2

    def __call__(self, peer: tr.Peer, message: Any) -> Any:
        return Pong(message.n, message.n * self.factor) if isinstance(message, Ping) else None

    def method(self, peer: tr.Peer, message: Any) -> Any:
        return self(peer, message)

    async def stream(self, peer: tr.Peer, messages: AsyncIterator[Any]) -> AsyncIterator[Any]:
        async for message in messages:
            reply = self(peer, message)
            if reply is not None:
                yield reply


def scaled(factor: int, peer: tr.Peer, message: Any) -> Any:
    return Pong(message.n, message.n * factor) if isinstance(message, Ping) else None


def with_default(peer: tr.Peer, message: Any, factor: int = 2) -> Any:
    return scaled(factor, peer, message)


async def stream_named_msg(peer: tr.Peer, msg: AsyncIterator[Any]) -> None:
    """A stream processor whose annotation says stream, whatever its parameter's name."""
    async for message in msg:
        if isinstance(message, Ping):
            await peer.send(Pong(message.n, message.n * 2))


@tr.per_message
async def marked(peer: tr.Peer, msg: Ping) -> Any:
    return scaled(2, peer, msg)


def variadic(*args: Any) -> Any:
    return scaled(2, *args)


WORKING = {
    "callable object": Doubler(),
    "bound method": Doubler().method,
    "async generator method": Doubler().stream,
    "partial": functools.partial(scaled, 2),
    "default argument": with_default,
    "stream named msg, annotated": stream_named_msg,
    "per_message with msg": marked,
    "*args": variadic,
}


@pytest.mark.parametrize("name", list(WORKING))
async def test_every_workable_shape_is_accepted_and_runs(name: str) -> None:
    with trio.fail_after(10):
        replies = await run_processor(protocol(), WORKING[name], [Ping(1), Quit(), Ping(3)])
    assert replies == [Pong(1, 2), Pong(3, 6)]


def test_shapes_are_classified_as_before() -> None:
    assert adapt(Doubler()).kind is Kind.HANDLER
    assert adapt(Doubler().stream).kind is Kind.RESPONSIVE
    assert adapt(stream_named_msg).kind is Kind.UNRESPONSIVE
    assert adapt(marked).kind is Kind.ASYNC_HANDLER
