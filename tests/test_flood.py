"""The flood tool: a short real sweep per codec (correctness only, never timing), its checks, plot.

The sweep runs the tool as a person would, in its own process with a hard timeout, since it
spawns a server and a client of its own; only what cannot vary from machine to machine is
asserted: every message acknowledged, none lost, none out of order.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import trio

import trio_reactive.testing
from examples import flood
from examples.flood import Ack, Finish, Step, Tally, Wire
from examples.hello_world import CODECS

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("codec", list(CODECS))
def test_a_short_sweep_loses_and_reorders_nothing(codec: str, tmp_path: Path) -> None:
    report = tmp_path / "flood.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "examples.flood",
            "--rate",
            "200,max",
            "--seconds",
            "0.5",
            "--codec",
            codec,
            "--size",
            "100",
            "--json",
            str(report),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    steps = [Step(**step) for step in json.loads(report.read_text())["steps"]]
    assert [(step.codec, step.target) for step in steps] == [(codec, 200.0), (codec, None)]
    for step in steps:
        assert step.sent > 0
        assert step.acked == step.sent
        assert step.lost == step.reordered == 0
        assert step.rate > 0


async def test_the_server_counts_gaps_and_late_arrivals() -> None:
    wire = Wire.build("textual", 4)
    floods = [wire.flood(seq, 1000 + seq, "abcd") for seq in (0, 1, 3, 2, 4)]
    with trio.fail_after(10):
        replies = await trio_reactive.testing.run_processor(
            wire.protocol, flood.acknowledge, [*floods, Finish(5)]
        )
    assert replies == [
        *(Ack(seq, 1000 + seq) for seq in (0, 1, 3, 2, 4)),
        Tally(received=5, reordered=1, missing=1),
    ]


def test_rates_parse_and_refuse_nonsense() -> None:
    assert flood.parse_rates("100, 1e3,MAX") == [100.0, 1000.0, None]
    for bad in ("0", "-5", "fast", ""):
        with pytest.raises(ValueError):
            flood.parse_rates(bad)


def test_plot_draws_a_png(tmp_path: Path) -> None:
    steps = [
        Step(
            codec=codec,
            size=32,
            wire_bytes=50,
            target=target,
            sent=100,
            acked=100,
            seconds=1.0,
            rate=rate,
            server_cpu=rate / 1e4,
            client_cpu=rate / 5e3,
            server_rss=2**25,
            client_rss=2**25,
            p50_us=100.0 * rate / 1e3,
            p99_us=300.0 * rate / 1e3,
            lost=0,
            reordered=0,
        )
        for codec in ("textual", "fixed")
        for target, rate in ((100.0, 100.0), (None, 5e4))
    ]
    path = tmp_path / "flood.png"
    flood.plot(steps, path)
    assert path.read_bytes().startswith(b"\x89PNG")
