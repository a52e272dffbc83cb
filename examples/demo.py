"""The tour that ``python3 dev.py demo`` runs: one set of messages, three wire forms, live.

1. The hello-world messages through each codec, without a socket: the bytes on the wire, and
   what the other side decodes from them.
2. Hello, World over a real connection, once per codec, with the same logic each time.
"""

from __future__ import annotations

import argparse
from typing import Any

import trio

from . import hello_world
from .hello_world import CODECS, PROTOCOL, Hello, World

__all__ = ["main", "round_trip", "show_wire_forms"]


def round_trip(codec: str, message: Any) -> tuple[bytes, Any]:
    """Encode ``message`` as its sender would, decode it as its receiver would."""
    protocol = PROTOCOL.with_codec(CODECS[codec])
    sender, receiver = ("client", "server") if isinstance(message, Hello) else ("server", "client")
    wire = protocol.side(sender).codec.encoder().encode(message)
    (decoded,) = protocol.side(receiver).codec.decoder().decode_batch(wire)
    return wire, decoded


def _printable(codec: str, wire: bytes) -> str:
    return repr(wire.decode()) if codec == "textual" else wire.hex(" ")


def show_wire_forms() -> None:
    print("1. One message, three wire forms\n")
    for message in (Hello(), World("Earth")):
        for codec in CODECS:
            wire, decoded = round_trip(codec, message)
            assert decoded == message, (codec, message, decoded)
            print(f"   {codec:<9}{len(wire):>3} bytes  {_printable(codec, wire)}")
        print(f"   {'':<9}decoded    {decoded}\n")


async def hello_everywhere() -> None:
    print("2. Hello, World over each codec\n")
    for codec in CODECS:
        await hello_world.run("both", codec, "127.0.0.1", 0)
        print()


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(prog="python -m examples.demo", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter).parse_args(argv)
    show_wire_forms()
    trio.run(hello_everywhere)


if __name__ == "__main__":
    main()
