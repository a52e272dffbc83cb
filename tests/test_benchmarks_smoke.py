"""The benchmarks must keep running: a ``--smoke`` run end to end, and the peers' wire bytes.

The smoke run takes every scenario, codec and implementation through a fraction of a second of
load, in subprocesses exactly as a real run does, so a change to the library or to a peer that
breaks a benchmark fails here rather than on the day someone wants numbers.  It says nothing
about speed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.model import CODEC_NAMES, Ping, Pong, protocol_for
from benchmarks.report import markdown
from benchmarks.runner import QUIET_TIMEOUT, rotated, wait_until_quiet
from benchmarks.wire import client_wire, server_wire
from tests.process_support import run_python

PINGS = [Ping(i, 1_732_481_234_567_890_123 + i, i / 3, i % 2) for i in range(7)]
PONGS = [Pong(p.seq, p.sent_ns, p.value, p.flags) for p in PINGS]


@pytest.mark.parametrize("codec", CODEC_NAMES)
def test_peer_codecs_speak_trio_reactive_bytes(codec: str) -> None:
    """Peers and trio_reactive must put the same bytes on the wire, both ways."""
    protocol = protocol_for(codec)
    ours_client = protocol.side("client").codec.encoder().encode_batch(PINGS)
    ours_server = protocol.side("server").codec.encoder().encode_batch(PONGS)
    assert client_wire(codec).encode_batch(PINGS) == ours_client
    assert server_wire(codec).encode_batch(PONGS) == ours_server
    # Fed in awkward pieces, the peers' decoders find the same messages.
    feed = server_wire(codec).decoder()
    decoded = [m for i in range(0, len(ours_client), 5) for m in feed(ours_client[i : i + 5])]
    assert decoded == PINGS
    count = client_wire(codec).counter()
    assert sum(count(ours_server[i : i + 3]) for i in range(0, len(ours_server), 3)) == 7


def test_missing_peer_is_reported_not_fatal() -> None:
    results = {
        "reference": "trio_reactive",
        "codecs": ["fixed"],
        "repetitions": 1,
        "errors": [],
        "implementations": [
            {"name": "trio_reactive", "description": "", "unavailable": None},
            {"name": "uvloop", "description": "", "unavailable": "needs uvloop"},
        ],
        "measurements": [
            {
                "scenario": "flood",
                "title": "flood",
                "codec": "fixed",
                "implementation": "trio_reactive",
                "metric": "msgs_per_s",
                "label": "msgs/s",
                "better": "higher",
                "samples": [1.5e6],
                "median": 1.5e6,
            }
        ],
    }
    table = markdown(results)
    assert "| flood | fixed | msgs/s ↑ | 1.50M | n/a |" in table


def test_smoke_run(tmp_path: Path) -> None:
    out = tmp_path / "smoke.json"
    completed = run_python("-m", "benchmarks", "run", "--smoke", "--json", out, timeout=100)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "trio_reactive" in completed.stdout
    results = json.loads(out.read_text())
    assert results["errors"] == []
    ran = {(m["scenario"], m["codec"], m["implementation"]) for m in results["measurements"]}
    available = [i["name"] for i in results["implementations"] if not i["unavailable"]]
    scenarios = {m["scenario"] for m in results["measurements"]}
    assert {"flood", "echo", "pingpong", "cpu"} <= scenarios
    assert any(s.startswith("many-") for s in scenarios)
    assert any(s.startswith("idle-") for s in scenarios)
    for scenario in scenarios:
        codecs = CODEC_NAMES if not scenario.startswith("idle-") else ("textual",)
        for codec in codecs:
            for name in available:
                assert (scenario, codec, name) in ran
    assert all(m["median"] is not None and m["median"] >= 0 for m in results["measurements"])


def test_rounds_rotate_so_no_implementation_always_goes_first() -> None:
    names = ["a", "b", "c"]
    orders = [rotated(names, r) for r in range(4)]
    assert orders == [["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"], ["a", "b", "c"]]
    assert rotated([], 3) == []


def test_waiting_for_quiet_servers_ends() -> None:
    """An idle process is quiet at once; a vanished one does not break the wait."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        time.sleep(0.3)  # past its start-up
        assert wait_until_quiet([sleeper.pid, 2**22 + 12345]) < QUIET_TIMEOUT
    finally:
        sleeper.kill()
        sleeper.wait()
