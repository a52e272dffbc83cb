"""Helpers for testing your own processors, with the real engine and no socket.

:func:`run_processor` feeds a list of messages to a processor (or a composite service) through
an in-memory stream pair, exactly as a peer on a socket would, and returns what it sent back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import trio
import trio.testing

from ._unwrap import lone_exception, unwrapped
from .composite import Service
from .config import Config
from .engine import Connection, make_event_sink
from .events import Event
from .processor import Processor
from .protocol import Protocol, Role
from .server import as_service

__all__ = ["memory_connection_pair", "run_processor"]


def memory_connection_pair() -> tuple[trio.abc.Stream, trio.abc.Stream]:
    """Two connected in-memory streams (``trio.testing.memory_stream_pair``)."""
    return trio.testing.memory_stream_pair()


async def run_processor(
    protocol: Protocol | Service,
    processor: Processor | None,
    messages: Iterable[Any],
    *,
    role: Role = "server",
    config: Config | None = None,
    on_event: Callable[[Event], Any] | None = None,
    wire_protocol: Protocol | None = None,
) -> list[Any]:
    """Run ``processor`` as ``role`` over ``messages`` sent by the other end; return its replies.

    The messages are encoded with the other end's view of ``wire_protocol`` (default: the
    protocol itself, or a service's initial stage), sent, then the sending side is closed;
    everything the processor sends until the connection closes is decoded and returned
    (undecodable replies come back as :class:`~trio_reactive.errors.DecodeError` values).
    """
    service = as_service(protocol, processor)
    if wire_protocol is None:
        wire_protocol = service.stage(service.initial).protocol
    other: Role = "client" if role == "server" else "server"
    codec = wire_protocol.side(other).codec
    config = config if config is not None else Config()
    ours, theirs = memory_connection_pair()
    connection = Connection(
        theirs,
        service.compile(role, config.max_message_size),
        config,
        make_event_sink(on_event),
        address=("memory", 0),
    )
    encoder, decoder = codec.encoder(), codec.decoder()
    replies: list[Any] = []

    async def receive_all() -> None:
        while data := await ours.receive_some():
            replies.extend(decoder.decode_batch(data))

    with lone_exception():
        async with trio.open_nursery() as nursery:
            nursery.start_soon(unwrapped, connection.run)
            nursery.start_soon(receive_all)
            await ours.send_all(encoder.encode_batch(list(messages)))
            await ours.send_eof()  # type: ignore[attr-defined]
    return replies
