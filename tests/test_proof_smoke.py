"""The proof scripts keep running: ``--smoke`` runs of the fuzzer, the faults and the soak.

Each runs as a user runs it, ``python -m benchmarks.X --smoke``, against a server in a process
of its own, and must exit 0: no crash, no neighbour error, every fault case handled, nothing
lost or reordered, no descriptor left behind.  Their long runs are recorded in
benchmarks/README.md; here they only prove the scripts, and the checks in them, still work.
"""

from __future__ import annotations

import re

import pytest

from benchmarks.faults import CASES
from tests.process_support import python_succeeds

pytestmark = pytest.mark.timeout(100)


def smoke(module: str, *arguments: str) -> str:
    return python_succeeds("-m", module, "--smoke", *arguments).stdout


def test_fuzz_smoke() -> None:
    out = smoke("benchmarks.fuzz", "--seed", "14")
    assert "server crashes      0 " in out
    assert "neighbour errors    0 in " in out
    inputs = int(out.split("inputs sent")[1].split()[0])
    assert inputs > 0


def test_faults_smoke() -> None:
    out = smoke("benchmarks.faults")
    rows = [re.split(r"\s{2,}", line) for line in out.splitlines()[2:]]
    assert [row[0] for row in rows] == list(CASES)
    assert {row[1] for row in rows} <= {"ok", "not available"}


def test_soak_smoke() -> None:
    out = smoke("benchmarks.soak")
    assert "lost 0, reordered 0, corrupt 0" in out
    assert "peers 0" in out
