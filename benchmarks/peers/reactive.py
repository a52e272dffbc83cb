"""trio_reactive itself, used the way its docs recommend for the fastest path."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import trio

import trio_reactive as tr

from ..model import protocol_for, respond


def serve(codec: str, announce: Callable[[dict[str, Any]], None]) -> None:
    """Serve :data:`~benchmarks.model.PROTOCOL` with the sync ``respond`` handler."""
    _serve(codec, announce, tr.Config())


def serve_with_tasks(codec: str, announce: Callable[[dict[str, Any]], None]) -> None:
    """The same, each connection read by its own task instead of the shared poller."""
    _serve(codec, announce, tr.Config(shared_poller=False))


def _serve(codec: str, announce: Callable[[dict[str, Any]], None], config: tr.Config) -> None:
    async def main() -> None:
        async with tr.open_server(
            protocol_for(codec), respond, port=0, host="127.0.0.1", config=config
        ) as server:
            announce({"host": "127.0.0.1", "port": server.port})
            await trio.sleep_forever()

    trio.run(main)
