"""Running programs of the checkout in processes of their own, as a person at a shell would.

A run to the end has a hard timeout and captures its output as text; the exit status is for the
test to judge (``check=False``), so a failure shows what the program printed.  A long-running
process (a server the test talks to) is killed on the way out of its block if it still runs,
so a failing test leaves none behind; the test bounds its own waits on it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import IO, Any

import trio

#: The checkout: where ``python -m examples.…`` and ``python -m benchmarks.…`` work.
ROOT = Path(__file__).resolve().parent.parent


def run(
    command: Sequence[str | Path],
    *,
    cwd: Path = ROOT,
    timeout: float = 90,
    env: Mapping[str, str] | None = None,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` to its end (or ``timeout``), its output captured as text."""
    return subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_python(*arguments: str | Path, **options: Any) -> subprocess.CompletedProcess[str]:
    """``python arguments`` with this interpreter; ``options`` as for :func:`run`."""
    return run([sys.executable, *arguments], **options)


def python_succeeds(*arguments: str | Path, **options: Any) -> subprocess.CompletedProcess[str]:
    """:func:`run_python`, which must exit 0; on failure the assertion shows all it printed."""
    done = run_python(*arguments, **options)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def with_root_on_path() -> dict[str, str]:
    """This environment with the checkout first on ``PYTHONPATH``, as for ``python -m``: a
    program run from a file elsewhere still imports ``examples.*`` and ``tests.*``."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}


def without_python_paths() -> dict[str, str]:
    """This environment without ``PYTHONPATH`` and ``MYPYPATH``: a program finds only what is
    installed (or what the test puts back)."""
    return {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "MYPYPATH"}}


@contextlib.contextmanager
def python_process(
    *arguments: str, stderr: int = subprocess.PIPE
) -> Iterator[subprocess.Popen[str]]:
    """``python arguments`` started in the checkout, unbuffered, its stdout (and by default its
    stderr) piped as text, so the test reads each line as it is printed (the port a server
    listens on); killed on the way out if it still runs."""
    process = subprocess.Popen(
        [sys.executable, *arguments],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


#: The line a server of the library prints when it is ready (on stdout or stderr).
LISTENING = re.compile(r"listening on 127\.0\.0\.1:(?P<port>\d+)")


async def announced_port(pipe: IO[str]) -> int:
    """Read the next line of ``pipe`` (in a thread: the read blocks) and return the port that
    line says the server listens on."""
    line = await trio.to_thread.run_sync(pipe.readline)
    found = LISTENING.search(line)
    assert found is not None, line
    return int(found["port"])


def load_module(name: str, path: Path) -> ModuleType:
    """Import the script at ``path`` (not on any import path) as module ``name``."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


__all__ = [
    "LISTENING",
    "ROOT",
    "announced_port",
    "load_module",
    "python_process",
    "python_succeeds",
    "run",
    "run_python",
    "with_root_on_path",
    "without_python_paths",
]
