"""``python -m benchmarks.instructions``: the parts that need no valgrind.

The count itself runs a server under callgrind (not installed on every machine); what is
checked here is the load it drives, the reading of callgrind's dump, and the clear refusal when
valgrind is missing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import instructions
from benchmarks.harness import ServerProcess
from benchmarks.load import _open_many
from benchmarks.stats import raise_open_files_limit
from benchmarks.wire import client_wire

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("codec", ["textual", "fixed", "variable"])
def test_every_connection_does_its_round_trips(codec: str) -> None:
    raise_open_files_limit()
    server = ServerProcess("trio_reactive", codec)
    try:
        server.wait_ready()
        socks = _open_many(server.address, client_wire(codec), 20)
        instructions._round_trips(socks, client_wire(codec), 5)  # returns once all are done
        for sock in socks:
            sock.close()
    finally:
        server.stop()


def test_the_dump_total_is_read(tmp_path: Path) -> None:
    dump = tmp_path / "callgrind.out.1"
    dump.write_text("version: 1\ncmd: python\nevents: Ir\nsummary: 123456\n")
    assert instructions._total(str(dump)) == 123456
    dump.write_text("events: Ir\n")
    with pytest.raises(ValueError, match="no instruction total"):
        instructions._total(str(dump))


def test_without_valgrind_it_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(instructions.shutil, "which", lambda name: None)
    assert instructions.main([]) == 2
    assert "apt-get install valgrind" in capsys.readouterr().err
