"""The messages every implementation exchanges, and the one piece of logic they all run.

One attrs class per direction, with fixed-size fields so that all three codecs apply: 22 bytes
as a fixed record (tag, u32, i64, f64, u8), about 75 bytes as a JSON line.  ``flags`` says
whether the server answers, so a single server serves every scenario: the flood sends
``flags=0`` except on its last message (the end marker the client times), the request/response
scenarios send ``flags=1``.
"""

from __future__ import annotations

from typing import Annotated

import attrs
import construct as c

import trio_reactive as tr

__all__ = [
    "CODEC_NAMES",
    "PROTOCOL",
    "REPLY",
    "Ping",
    "Pong",
    "protocol_for",
    "respond",
]

#: No reply wanted (the body of a flood).
QUIET = 0
#: Reply wanted.
REPLY = 1


@attrs.frozen
class Ping:
    """Client to server."""

    seq: Annotated[int, c.Int32ul]
    sent_ns: int
    value: float
    flags: Annotated[int, c.Int8ul]


@attrs.frozen
class Pong:
    """Server to client: the same fields, echoed back."""

    seq: Annotated[int, c.Int32ul]
    sent_ns: int
    value: float
    flags: Annotated[int, c.Int8ul]


PROTOCOL = tr.Protocol(client=Ping, server=Pong)

CODEC_NAMES: tuple[str, ...] = ("textual", "fixed", "variable")


def protocol_for(codec: str) -> tr.Protocol:
    """trio_reactive's protocol over the named codec (built here so peers need not import tr)."""
    codecs: dict[str, tr.Codec] = {
        "textual": tr.Textual(),
        "fixed": tr.FixedBinary(),
        "variable": tr.VariableBinary(),
    }
    return PROTOCOL.with_codec(codecs[codec])


def respond(_peer: object, ping: Ping) -> Pong | None:
    """The server logic shared by every implementation: echo when asked to.

    It has trio_reactive's per-message handler signature; the hand-written peers call it with
    ``None`` for the peer, so every server pays for the same Python call per message.
    """
    if ping.flags:
        return Pong(ping.seq, ping.sent_ns, ping.value, ping.flags)
    return None
