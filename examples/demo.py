"""The tour that ``python3 dev.py demo`` runs, in two acts.

1. Hello, World: the same two messages on each wire form (the bytes, and what the other side
   decodes from them, no socket involved), then a real client and server exchanging them.
2. Ping-pong: concurrent matches over a two-stage protocol (a textual pre-game, then a game in
   fixed binary on the same connection), each side's umpire checking the other's.
"""

from __future__ import annotations

import argparse
from typing import Any

import trio

from . import hello_world
from .hello_world import CODECS, PROTOCOL, Hello, World
from .ping_pong.__main__ import main as ping_pong

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
    for message in (Hello(), World("Earth")):
        print(f"{message}")
        for codec in CODECS:
            wire, decoded = round_trip(codec, message)
            assert decoded == message, (codec, message, decoded)
            print(f"    {codec:<9}{len(wire):>3} bytes  {_printable(codec, wire)}")


def _title(text: str) -> None:
    print(f"── {text} " + "─" * max(0, 76 - len(text)))


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(prog="python -m examples.demo", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter).parse_args(argv)
    _title("1. Hello, World: one set of messages, three wire forms")
    show_wire_forms()
    print()
    trio.run(hello_world.run, "both", "textual", "127.0.0.1", 0)
    print()
    _title("2. Ping-pong: a textual pre-game, then the game in fixed binary")
    ping_pong([])
    print("\nMore: python -m examples.hello_world --help, python -m examples.ping_pong --help,\n"
          "      python -m examples.flood --help")


if __name__ == "__main__":
    main()
