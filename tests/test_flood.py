"""The flood tool: short real sweeps (correctness only, never timing), its checks, its report.

The sweeps run the tool as a person would, in its own process with a hard timeout, since it
spawns servers and a client of its own; only what cannot vary from machine to machine is
asserted: every message acknowledged, none lost, none out of order.  Both servers, trio_reactive's
and the blocking-socket floor, are also run in this process against a real client.
"""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
import trio

import trio_reactive.testing
from examples import flood, flood_blocking, flood_report
from examples.flood import Ack, Finish, Step, Tally, Wire
from examples.flood_client import HOST, Server, flood_step, in_turn
from examples.hello_world import CODECS
from tests.process_support import python_succeeds


def _flood(report: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """``python -m examples.flood`` with ``options``, which writes its JSON report to ``report``."""
    return python_succeeds("-m", "examples.flood", *options, "--json", report)


@pytest.mark.parametrize("codec", list(CODECS))
def test_a_short_sweep_loses_and_reorders_nothing(codec: str, tmp_path: Path) -> None:
    report = tmp_path / "flood.json"
    _flood(report, "--rate", "200,max", "--seconds", "0.5", "--codec", codec, "--size", "100")
    steps = [Step(**step) for step in json.loads(report.read_text())["steps"]]
    assert [(step.codec, step.target) for step in steps] == [(codec, 200.0), (codec, None)]
    for step in steps:
        assert step.sent > 0
        assert step.acked == step.sent
        assert step.lost == step.reordered == 0
        assert step.rate > 0


def test_both_servers_in_one_run_lose_nothing_and_give_the_floor(tmp_path: Path) -> None:
    report = tmp_path / "flood.json"
    done = _flood(
        report, "--rate", "300", "--seconds", "0.3", "--codec", "all", "--server", "both",
        "--repeat", "2",
    )  # fmt: skip
    document = json.loads(report.read_text())
    steps = [Step(**step) for step in document["steps"]]
    assert [(s.codec, s.repeat, s.server) for s in steps] == [
        (codec, repeat, server)
        for codec in CODECS
        for repeat, order in enumerate([("reactive", "blocking"), ("blocking", "reactive")])
        for server in order
    ]
    for step in steps:
        assert step.sent == 90
        assert step.acked == step.sent
        assert step.lost == step.reordered == 0
        assert step.server_cpu > 0
    assert [(f["codec"], f["target"]) for f in document["floor"]] == [
        (codec, 300.0) for codec in CODECS
    ]
    assert all(f["ratio"] > 0 for f in document["floor"])
    assert "CPU floor" in done.stdout


def _blocking_server(wire: Wire) -> tuple[int, socket.socket]:
    listener = socket.create_server((HOST, 0))
    threading.Thread(
        target=flood_blocking.serve_forever, args=(listener, wire), daemon=True
    ).start()
    return listener.getsockname()[1], listener


@pytest.mark.parametrize("codec", list(CODECS))
async def test_the_blocking_server_answers_every_message_in_order(codec: str) -> None:
    wire = Wire.build(codec, 8)
    port, listener = _blocking_server(wire)
    with listener, trio.fail_after(30):
        step = await flood_step(wire, 2000.0, 0.1, Server("blocking", port, os.getpid()))
    assert (step.server, step.sent, step.acked) == ("blocking", 200, 200)
    assert step.lost == step.reordered == 0


async def test_the_blocking_server_counts_gaps_and_late_arrivals() -> None:
    wire = Wire.build("variable", 4)
    port, listener = _blocking_server(wire)
    floods = [wire.flood(seq, 1000 + seq, "abcd") for seq in (0, 1, 3, 2, 4)]
    replies: list[Any] = []
    with listener, trio.fail_after(10):
        async with trio_reactive.connect(wire.protocol, HOST, port) as connection:
            for message in [*floods, Finish(5)]:
                await connection.send(message)
            async for reply in connection:
                replies.append(reply)
                if type(reply) is Tally:
                    break
    assert replies == [
        *(Ack(seq, 1000 + seq) for seq in (0, 1, 3, 2, 4)),
        Tally(received=5, reordered=1, missing=1),
    ]


def test_the_blocking_server_hangs_up_on_a_frame_it_cannot_decode(
    capsys: pytest.CaptureFixture[str],
) -> None:
    port, listener = _blocking_server(Wire.build("textual", 4))
    with listener, socket.create_connection((HOST, port), timeout=10) as client:
        client.sendall(b"not json\n")
        assert client.recv(100) == b""
    # The server's thread has said why by the time its connection is closed.
    assert "closing the connection" in capsys.readouterr().err


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


def _step(codec: str, server: str, repeat: int, target: float | None, cpu: float) -> Step:
    rate = 5e4 if target is None else target
    return Step(
        codec=codec,
        server=server,
        repeat=repeat,
        size=32,
        wire_bytes=50,
        target=target,
        sent=100,
        acked=100,
        seconds=1.0,
        rate=rate,
        server_cpu=cpu,
        client_cpu=2 * cpu,
        server_rss=2**25,
        client_rss=2**25,
        p50_us=100.0 * rate / 1e3,
        p99_us=300.0 * rate / 1e3,
        lost=0,
        reordered=0,
    )


def test_the_report_takes_medians_and_the_floor_per_codec_and_rate() -> None:
    steps = [
        _step(codec, server, repeat, 380.0, cpu * (1 if codec == "fixed" else 2))
        for repeat, cpus in enumerate([(9.0, 4.0), (12.0, 6.0), (10.0, 5.0)])
        for codec in ("textual", "fixed")
        for server, cpu in zip(("reactive", "blocking"), cpus, strict=True)
    ]
    summaries = flood_report.summarize(steps)
    assert [(s.codec, s.server, s.runs) for s in summaries] == [
        ("textual", "reactive", 3),
        ("textual", "blocking", 3),
        ("fixed", "reactive", 3),
        ("fixed", "blocking", 3),
    ]
    assert [s.server_cpu for s in summaries] == [20.0, 10.0, 10.0, 5.0]
    floors = flood_report.floors(summaries)
    assert [(f.codec, f.target, f.reactive_cpu, f.blocking_cpu) for f in floors] == [
        ("textual", 380.0, 20.0, 10.0),
        ("fixed", 380.0, 10.0, 5.0),
    ]
    assert all(math.isclose(f.ratio, 2.0) for f in floors)
    # One server alone: no floor to compare with.
    assert flood_report.floors(flood_report.summarize(steps[::2])) == []


def test_the_servers_take_turns_first() -> None:
    a, b = Server("reactive", 1, 10), Server("blocking", 2, 20)
    assert [in_turn([a, b], repeat) for repeat in range(3)] == [[a, b], [b, a], [a, b]]
    assert flood.parse_servers("reactive:1:10,blocking:2:20") == [a, b]


def test_plot_draws_a_png(tmp_path: Path) -> None:
    steps = [
        _step(codec, server, 0, target, cpu)
        for codec in ("textual", "fixed")
        for server, cpu in (("reactive", 8.0), ("blocking", 4.0))
        for target in (100.0, None)
    ]
    path = tmp_path / "flood.png"
    flood_report.plot(flood_report.summarize(steps), path)
    assert path.read_bytes().startswith(b"\x89PNG")
