"""The flood tool's protocol: its messages, the wire both processes derive, the server's check.

Shared by every process of the tool (the orchestrator, the client, either server), so that each
builds the same classes and codecs from the same ``--codec`` and ``--size``.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import attrs
import construct

import trio_reactive as tr

from .hello_world import CODECS

__all__ = ["Ack", "Arrivals", "Finish", "Tally", "Wire", "acknowledge", "flood_class"]


def flood_class(size: int) -> type:
    """``Flood(seq, sent_ns, payload)`` whose payload is exactly ``size`` ASCII characters.

    The payload's length is part of its type, since the fixed-binary codec lays records out from
    types; so the class is built for the size asked for, the same way in both processes.
    """
    payload = Annotated[str, construct.PaddedString(size, "ascii")]
    fields = {"seq": attrs.field(type=int), "sent_ns": attrs.field(type=int),
              "payload": attrs.field(type=payload)}
    return attrs.make_class("Flood", fields, frozen=True)


@attrs.frozen
class Finish:
    """The client is done with this connection, having sent ``sent`` messages."""

    sent: int


@attrs.frozen
class Ack:
    """The server's answer to one message: its sequence number and the client's timestamp."""

    seq: int
    sent_ns: int


@attrs.frozen
class Tally:
    """The server's count for the connection, its answer to ``Finish``."""

    received: int
    reordered: int
    missing: int


@attrs.frozen
class Wire:
    """What every process derives from ``--codec`` and ``--size``, the same way."""

    codec: str
    size: int
    flood: type
    protocol: tr.Protocol
    config: tr.Config

    @classmethod
    def build(cls, codec: str, size: int) -> Wire:
        flood = flood_class(size)
        protocol = tr.Protocol(client=(flood, Finish), server=(Ack, Tally), codec=CODECS[codec])
        # Default settings, with frames large enough for the payload over any codec.
        config = tr.Config(max_message_size=max(1 << 20, 2 * size + 1024))
        return cls(codec, size, flood, protocol, config)

    def message_bytes(self) -> int:
        """The size of a typical ``Flood`` on the wire, framing included."""
        sample = self.flood(123456, time.perf_counter_ns(), "x" * self.size)
        return len(self.protocol.side("client").codec.encoder().encode(sample))


class Arrivals:
    """What a server has seen on one connection, and its answer to each message."""

    __slots__ = ("expected", "missing", "received", "reordered")

    def __init__(self) -> None:
        self.expected = self.received = self.reordered = self.missing = 0

    def see(self, seq: int) -> None:
        self.received += 1
        if seq == self.expected:
            self.expected += 1
        elif seq > self.expected:
            self.missing += seq - self.expected
            self.expected = seq + 1
        else:
            self.reordered += 1

    def answer(self, message: Any) -> Ack | Tally:
        """``Ack`` for a ``Flood`` (after checking its place), ``Tally`` for ``Finish``."""
        if type(message) is Finish:
            return Tally(self.received, self.reordered, self.missing)
        self.see(message.seq)
        return Ack(message.seq, message.sent_ns)


def acknowledge(peer: tr.Peer, message: Any) -> Ack | Tally:
    """The trio_reactive server's logic, a sync handler (the engine's fastest path)."""
    try:
        arrivals: Arrivals = peer.session[Arrivals]
    except KeyError:
        arrivals = peer.session[Arrivals] = Arrivals()
    return arrivals.answer(message)
