"""``python -m benchmarks.instructions``: the parts that need no valgrind.

The count itself runs a server under callgrind (not installed on every machine); what is
checked here is the load it drives, the reading of callgrind's dump, and the clear refusal when
valgrind is missing.
"""

from __future__ import annotations

import argparse
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


def test_the_dump_totals_are_read_by_event(tmp_path: Path) -> None:
    dump = tmp_path / "callgrind.out.1"
    dump.write_text("version: 1\ncmd: python\nevents: Ir\nsummary: 123456\n")
    assert instructions._totals(str(dump)) == {"Ir": 123456}
    dump.write_text("events: Ir Dr Dw I1mr D1mr D1mw\ntotals: 100 40 20 3 2 1\n")
    assert instructions._totals(str(dump)) == {
        "Ir": 100, "Dr": 40, "Dw": 20, "I1mr": 3, "D1mr": 2, "D1mw": 1
    }
    dump.write_text("events: Ir I1mr D1mr ILmr DLmr\nsummary: 100 3 2\n")  # zeros left out
    assert instructions._totals(str(dump)) == {
        "Ir": 100, "I1mr": 3, "D1mr": 2, "ILmr": 0, "DLmr": 0
    }
    dump.write_text("events: Ir\n")
    with pytest.raises(ValueError, match="no instruction total"):
        instructions._totals(str(dump))


@pytest.mark.parametrize("scenario", ["flood", "echo"])
def test_the_one_connection_scenarios_end_once_their_replies_are_in(scenario: str) -> None:
    server = ServerProcess("trio_reactive", "fixed")
    try:
        server.wait_ready()
        wire = client_wire("fixed")
        socks = _open_many(server.address, wire, 1)
        instructions._round_trips(socks, wire, 2)  # the warm-up, as before a count
        instructions.SCENARIOS[scenario](socks, wire, 5000)  # returns once answered
        socks[0].close()
    finally:
        server.stop()


def test_each_row_names_its_connections_and_messages() -> None:
    parsed = argparse.Namespace(connections="1,200", requests=20, messages=1000)
    assert instructions._runs("pingpong", parsed) == [(1, 2000), (200, 20)]
    assert instructions._runs("flood", parsed) == [(1, 1000)]
    first = {"Ir": 100.0, "I1mr": 1.0, "D1mr": 2.0, "D1mw": 3.0}
    other = {"Ir": 150.0, "I1mr": 4.0, "D1mr": 5.0, "D1mw": 6.0}
    assert instructions._cell("b", other, first, []) == "b 150 (1.50x)"
    cache = list(instructions.CACHE_EVENTS)
    assert instructions._cell("b", other, first, cache) == "b 150 (1.50x) [4/5/6]"


def test_without_valgrind_it_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(instructions.shutil, "which", lambda name: None)
    assert instructions.main([]) == 2
    assert "apt-get install valgrind" in capsys.readouterr().err
