"""Run one server: ``python -m benchmarks.serve IMPLEMENTATION CODEC``.

Prints one JSON line, the address to connect to (or ``{"error": ...}``), then serves until killed.
Each server runs in a process of its own so that its CPU time and memory can be read alone.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from typing import Any

from .peers import by_name
from .stats import raise_open_files_limit


def announce(address: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps({"address": address, "pid": os.getpid()}) + "\n")
    sys.stdout.flush()


def main(argv: list[str]) -> int:
    implementation_name, codec = argv
    raise_open_files_limit()
    implementation = by_name(implementation_name)
    try:
        module = importlib.import_module(f"benchmarks.peers.{implementation.module}")
        serve = getattr(module, implementation.function)
        serve(codec, announce)
    except KeyboardInterrupt:
        return 0
    except Exception as exc:
        sys.stdout.write(json.dumps({"error": f"{type(exc).__name__}: {exc}"}) + "\n")
        sys.stdout.flush()
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
