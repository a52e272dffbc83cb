"""The launcher's command line: ``python -m trio_reactive.workers module:APP --workers N``."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

from ..config import Config
from .launcher import serve_workers

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m trio_reactive.workers",
        description="Serve a trio_reactive app with one worker process per core on one port.",
    )
    parser.add_argument("app", help="module:attribute naming a Service or (protocol, processor)")
    parser.add_argument("--host", default=None, help="address to listen on (default: every one)")
    parser.add_argument("--port", type=int, default=0, help="port (default: 0, any free one)")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: cores)")
    parser.add_argument("--grace", type=float, default=None, help="seconds to flush at shutdown")
    parser.add_argument(
        "--on-event", default=None, help="module:function, each worker's event callback"
    )
    parser.add_argument(
        "--max-connections", type=int, default=None, help="connections each worker holds at most"
    )
    parser.add_argument(
        "--no-reuse-port",
        action="store_true",
        help="share one listening socket instead of SO_REUSEPORT",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: prints ``listening on HOST:PORT`` once every worker serves."""
    arguments = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    def announce(address: Any, pids: list[int]) -> None:
        print(f"listening on {address[0]}:{address[1]} pids {' '.join(map(str, pids))}", flush=True)

    return serve_workers(
        arguments.app,
        arguments.port,
        arguments.host,
        workers=arguments.workers,
        config=Config(max_connections=arguments.max_connections),
        grace=arguments.grace,
        on_event=arguments.on_event,
        reuse_port=False if arguments.no_reuse_port else None,
        ready=announce,
    )


if __name__ == "__main__":
    sys.exit(main())
