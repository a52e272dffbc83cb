"""An app for the worker tests: each reply says which process served it."""

from __future__ import annotations

import os
import sys

import trio_reactive as tr
from tests.models import Ping, Pong

PROTOCOL = tr.Protocol(client=Ping, server=Pong, codec=tr.Textual())


def whose(peer: tr.Peer, ping: Ping) -> Pong:
    return Pong(ping.n, os.getpid())


APP = (PROTOCOL, whose)


def report(event: tr.Event) -> None:
    """An event callback each worker imports: one line on stderr per connection event."""
    if isinstance(event, (tr.Connected, tr.Disconnected)):
        print(f"worker {os.getpid()}: {type(event).__name__}", file=sys.stderr, flush=True)
