"""trio_reactive itself, used the way its docs recommend for the fastest path."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import trio

import trio_reactive as tr

from ..model import protocol_for, respond


def serve(codec: str, announce: Callable[[dict[str, Any]], None]) -> None:
    """Serve :data:`~benchmarks.model.PROTOCOL` with the sync ``respond`` handler."""

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            server = await nursery.start(tr.serve_tcp, protocol_for(codec), respond, 0, "127.0.0.1")
            announce({"host": "127.0.0.1", "port": server.port})

    trio.run(main)
