"""No internal name reaches a user: events, peers, stages, errors and logs of one-stage services.

A single-protocol service is run as a one-stage plan whose key is internal; everything a user
can see of it (``peer.stage``, the events, a peer's repr, the log lines, the error of a
``goto``) must say ``None`` or speak of the service, never show that key.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
import trio

import trio_reactive as tr
from tests.engine_support import Recorder
from tests.models import Ping, Pong

pytestmark = pytest.mark.timeout(60)

PROTOCOL = tr.Protocol(client=Ping, server=Pong)
INTERNAL = ("_Key", "SINGLE", "_Single", "_Imperative", "single'")


class Elsewhere(enum.Enum):
    THERE = 1


def _shown(value: Any) -> str:
    return f"{value!r} {value}"


async def test_a_single_stage_server_and_its_clients_show_no_internal_name(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="trio_reactive")
    seen: list[str] = []
    events = Recorder()

    def handler(peer: tr.Peer[Pong], ping: Ping) -> Pong:
        seen.extend([_shown(peer), _shown(peer.stage)])
        assert peer.stage is None
        with pytest.raises(tr.StageError) as refused:
            peer.goto(Elsewhere.THERE)
        seen.append(_shown(refused.value))
        return Pong(ping.n, 0)

    async def player(peer: tr.Peer[Ping], pongs: AsyncIterator[Pong]) -> AsyncIterator[Ping]:
        seen.extend([_shown(peer), _shown(peer.stage)])
        yield Ping(2)
        async for _ in pongs:
            return

    with trio.fail_after(10):
        async with tr.open_server(PROTOCOL, handler, on_event=events) as server:
            async with tr.connect(PROTOCOL, "127.0.0.1", server.port, on_event=events) as conn:
                assert conn.stage is None and conn.peer.stage is None
                seen.extend([_shown(conn.peer), _shown(conn.stage)])
                await conn.send(Ping(1))
                await conn.receive()
                with pytest.raises(tr.StageError) as refused:
                    await conn.goto(Elsewhere.THERE)
                seen.append(_shown(refused.value))
            await tr.run_client(PROTOCOL, player, "127.0.0.1", server.port, on_event=events)
    seen.extend(_shown(event) for event in events.events)
    seen.extend(record.getMessage() for record in caplog.records)
    assert [event.stage for event in events.of(tr.PeerArrived)] == [None] * 4
    text = "\n".join(seen)
    for name in INTERNAL:
        assert name not in text
