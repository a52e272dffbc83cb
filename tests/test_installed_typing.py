"""Type checkers see the package as ``dev.py`` installs it, from a program outside the checkout.

A throw-away virtual environment borrows the test environment's packages (mypy, trio, attrs ...)
through a path entry, then gets trio_reactive installed the way ``dev.py`` does it; mypy then
checks a small user program in a temporary directory, where only the installation can lead it to
``trio_reactive``.  The program has one deliberate mistake, so a package mypy could not see (or
saw as ``Any``) would fail the test as surely as a missing ``py.typed``.
"""

from __future__ import annotations

import site
import subprocess
import venv
from pathlib import Path
from types import ModuleType

import pytest

from tests.process_support import ROOT, load_module, run, without_python_paths

pytestmark = pytest.mark.timeout(240)

PROGRAM = """\
import trio_reactive as tr

config: tr.Config = tr.Config(max_message_size=1024)
size: int = config.max_message_size
wrong: str = config.max_message_size
"""


def _dev() -> ModuleType:
    return load_module("dev", ROOT / "dev.py")


def _run(*command: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run(command, cwd=cwd, env=without_python_paths(), timeout=200)


def test_mypy_finds_the_installed_package_from_outside_the_checkout(tmp_path: Path) -> None:
    assert not tmp_path.resolve().is_relative_to(ROOT)
    environment = tmp_path / "env"
    venv.EnvBuilder(with_pip=False).create(environment)
    python = environment / "bin" / "python"
    purelib = Path(
        _run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=tmp_path)
        .stdout.strip()
    )
    borrowed = [path for path in site.getsitepackages() if Path(path).is_dir()]
    (purelib / "_borrowed.pth").write_text("\n".join(borrowed) + "\n", encoding="utf-8")

    installed = _run(
        python, "-m", "pip", "--disable-pip-version-check", "-q", "install", "--no-deps",
        *_dev().EDITABLE, "-e", ROOT, cwd=tmp_path,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr

    (tmp_path / "program.py").write_text(PROGRAM, encoding="utf-8")
    checked = _run(
        python, "-m", "mypy", "--strict", "--no-incremental", "program.py", cwd=tmp_path
    )
    assert "Cannot find implementation or library stub" not in checked.stdout, checked.stdout
    assert checked.stdout.splitlines() == [
        'program.py:5: error: Incompatible types in assignment (expression has type "int", '
        'variable has type "str")  [assignment]',
        "Found 1 error in 1 file (checked 1 source file)",
    ], checked.stdout + checked.stderr
