"""Lifecycle lines on the ``trio_reactive`` logger: INFO for what an operator follows, DEBUG more.

Servers and clients log what they see in the events their connections report, so every line
here is written once, whichever engine path produced the event.
"""

from __future__ import annotations

import logging
from typing import Any

from .events import Connected, Disconnected, Event, PeerArrived, PeerLeft

__all__ = ["address_text", "endpoint", "log_event", "log_retry", "logger"]

logger = logging.getLogger("trio_reactive")


def log_event(event: Event, side: str) -> None:
    """The line, if any, for one event; ``side`` is ``"server"`` or ``"client"``."""
    if isinstance(event, Connected):
        logger.info("%s: connected %r", side, event.peer)
    elif isinstance(event, Disconnected):
        if event.error is None:
            logger.info("%s: disconnected %r: %s", side, event.peer, event.reason.value)
        else:
            logger.info(
                "%s: disconnected %r: %s (%s)", side, event.peer, event.reason.value, event.error
            )
    elif isinstance(event, PeerArrived):
        logger.debug("%s: %r entered stage %r", side, event.peer, event.stage)
    elif isinstance(event, PeerLeft):
        logger.debug("%s: %r left stage %r (%s)", side, event.peer, event.stage, event.stats)


def log_retry(target: str, attempt: int, delay: float | None, error: BaseException) -> None:
    """A failed connect: who, which attempt, and how long until the next (``None``: no next)."""
    if delay is None:
        logger.info("connecting to %s: attempt %d failed (%s); giving up", target, attempt, error)
    else:
        logger.info(
            "connecting to %s: attempt %d failed (%s); next attempt in %.3f s",
            target,
            attempt,
            error,
            delay,
        )


def address_text(address: Any) -> str:
    """``host:port`` for a socket address (IPv4 or IPv6), anything else as it prints."""
    if isinstance(address, tuple) and len(address) >= 2:
        host, port = address[0], address[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return str(address)


def endpoint(host: str | bytes, port: int) -> str:
    """``host:port`` as a person writes it (no quotes; ``[::1]:9758`` for IPv6)."""
    return address_text((host.decode() if isinstance(host, bytes) else host, port))
