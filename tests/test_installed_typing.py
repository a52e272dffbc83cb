"""Type checkers see the package as ``dev.py`` installs it, from a program outside the checkout.

A throw-away virtual environment borrows the test environment's packages (mypy, trio, attrs ...)
through a path entry, then gets trio_reactive installed the way ``dev.py`` does it; mypy then
checks a small user program in a temporary directory, where only the installation can lead it to
``trio_reactive``.  The program has one deliberate mistake, so a package mypy could not see (or
saw as ``Any``) would fail the test as surely as a missing ``py.typed``.
"""

from __future__ import annotations

import importlib.util
import os
import site
import subprocess
import venv
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.timeout(240)

PROGRAM = """\
import trio_reactive as tr

config: tr.Config = tr.Config(max_message_size=1024)
size: int = config.max_message_size
wrong: str = config.max_message_size
"""


def _dev() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dev", ROOT / "dev.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(*command: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "MYPYPATH"}}
    return subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=200,
        check=False,
    )


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
