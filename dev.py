#!/usr/bin/env python3
"""One entry point for working on trio_reactive: it builds its own environment.

    python3 dev.py demo      run the main demo
    python3 dev.py test      run the whole test suite (with and without the shared poller),
                             ruff and mypy --strict
    python3 dev.py bench ... run the benchmarks (arguments go to ``python -m benchmarks``)

The first call creates ``.venv`` beside this file and installs the project with the pinned
versions of ``constraints.txt``; later calls reuse it until ``pyproject.toml`` or
``constraints.txt`` change.  Only the Python standard library is used here, so a fresh machine
with Python 3.11+ needs nothing else.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".trio_reactive-installed"
#: An editable install that type checkers can see: a plain path entry in a ``.pth`` file.
#: setuptools' default editable mode uses an import hook, which mypy and pyright cannot follow
#: ("Cannot find implementation or library stub for module named trio_reactive").
EDITABLE = ("--config-settings", "editable_mode=compat")


def _fingerprint(extras: str) -> str:
    digest = hashlib.sha256(" ".join((extras, *EDITABLE)).encode())
    for name in ("pyproject.toml", "constraints.txt"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def ensure_environment(extras: str = "dev") -> None:
    """Create and fill the virtual environment unless it is already up to date."""
    wanted = _fingerprint(extras)
    if STAMP.exists() and STAMP.read_text() == wanted and PYTHON.exists():
        return
    if not PYTHON.exists():
        print(f"creating {VENV.name} ...", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    print(f"installing trio_reactive[{extras}] with pinned versions ...", flush=True)
    pip = [str(PYTHON), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "-c", str(ROOT / "constraints.txt"),
                    *EDITABLE, "-e", f"{ROOT}[{extras}]"], check=True)
    STAMP.write_text(wanted)


def run(*args: str, env: dict[str, str] | None = None) -> int:
    environment = {**os.environ, **(env or {})}
    return subprocess.run([str(PYTHON), *args], cwd=ROOT, env=environment, check=False).returncode


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "demo"
    if command == "demo":
        ensure_environment("dev")
        return run("-m", "examples.demo", *argv[1:])
    if command == "test":
        ensure_environment("dev")
        # The whole suite twice: with the shared poller (the default) and without it (each
        # connection reading with its own task, as TLS and other streams always do).
        no_poller = {"TRIO_REACTIVE_SHARED_POLLER": "0"}
        for step, env in (
            (["-m", "pytest", *argv[1:]], {}),
            (["-m", "pytest", *argv[1:]], no_poller),
            (["-m", "ruff", "check", "."], {}),
            (["-m", "mypy", "--strict", "trio_reactive"], {}),
        ):
            shown = " ".join(f"{name}={value}" for name, value in env.items())
            print(f"$ {shown + ' ' if shown else ''}python " + " ".join(step), flush=True)
            code = run(*step, env=env)
            if code:
                return code
        return 0
    if command == "bench":
        ensure_environment("dev,bench,plot")
        return run("-m", "benchmarks", *argv[1:])
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
