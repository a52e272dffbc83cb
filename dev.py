#!/usr/bin/env python3
"""One entry point for working on trio_reactive: it builds its own environment.

    python3 dev.py demo      run the main demo
    python3 dev.py test      run the whole test suite with and without the shared poller
                             (both at once), then ruff and mypy --strict
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
import tempfile
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


def test(pytest_args: list[str]) -> int:
    """The whole suite twice, at once (one run per core): with the shared poller (the default)
    and without it (each connection reading with its own task, as TLS and other streams always
    do); the second run's output is shown when it ends.  Then ruff and mypy --strict."""
    suite = ["-m", "pytest", *pytest_args]
    print("$ python " + " ".join(suite), flush=True)
    print("$ TRIO_REACTIVE_SHARED_POLLER=0 python " + " ".join(suite) + "  (at the same time)",
          flush=True)
    environment = {**os.environ, "TRIO_REACTIVE_SHARED_POLLER": "0"}
    with tempfile.TemporaryFile("w+") as second_output:
        second = subprocess.Popen(
            [str(PYTHON), *suite, "-p", "no:cacheprovider"],
            cwd=ROOT, env=environment, stdout=second_output, stderr=subprocess.STDOUT,
        )
        try:
            first_code = run(*suite)
        finally:
            second_code = second.wait()
        second_output.seek(0)
        print("\n$ TRIO_REACTIVE_SHARED_POLLER=0 python " + " ".join(suite), flush=True)
        print(second_output.read(), flush=True)
    if first_code or second_code:
        return first_code or second_code
    for step in (["-m", "ruff", "check", "."], ["-m", "mypy", "--strict", "trio_reactive"]):
        print("$ python " + " ".join(step), flush=True)
        code = run(*step)
        if code:
            return code
    return 0


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "demo"
    if command == "demo":
        ensure_environment("dev")
        return run("-m", "examples.demo", *argv[1:])
    if command == "test":
        ensure_environment("dev")
        return test(argv[1:])
    if command == "bench":
        ensure_environment("dev,bench,plot")
        return run("-m", "benchmarks", *argv[1:])
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
