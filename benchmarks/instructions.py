"""Instructions per message, counted by valgrind: ``python -m benchmarks.instructions``.

Timings on a shared machine swing by 30% from run to run; the instructions a server executes
per message do not.  Each server runs under ``valgrind --tool=callgrind`` (Debian's
``valgrind`` package), the client in this process opens the connections and warms them, the
counters are zeroed, the scenario runs, and the counters are dumped:

* ``pingpong``: every connection does ``--requests`` round trips (one message in flight each,
  all driven by one epoll loop);
* ``flood`` and ``echo``: ``--messages`` on one connection, as the benchmark's scenarios of
  those names send them (only the last answered, or every one).

Reported: user-space instructions per message, and the ratio to the first implementation.
``--cache`` also simulates the caches and reports first-level misses per message, and
``--branches`` the branch predictor (indirect branches, mispredictions), so that a path
executing fewer instructions but touching more memory, or taking more hard-to-predict steps
(each Python bytecode's dispatch is an indirect branch), shows it.  The system calls
themselves (the kernel's work) are not counted: ``strace -c -f -p PID`` counts those.

    python -m benchmarks.instructions --codecs fixed --connections 1,200 --requests 20 \\
        --implementations trio_reactive,trio-poller,asyncio,uvloop
    python -m benchmarks.instructions --scenarios flood,echo --codecs fixed --cache \\
        --implementations trio_reactive,trio
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

from .load import _open_many, echo_on, flood_on, ping_frames
from .model import REPLY
from .peers import by_name
from .stats import raise_open_files_limit
from .wire import WireCodec, client_wire

__all__ = ["count"]


#: callgrind's cache simulation: first-level misses (instruction, data read, data write).
CACHE_EVENTS = ("I1mr", "D1mr", "D1mw")
#: Its branch predictor's: indirect branches (a Python bytecode's dispatch is one), and those
#: of them and of the conditional ones it mispredicted.
BRANCH_EVENTS = ("Bi", "Bim", "Bcm")


def count(
    implementation: str,
    codec: str,
    connections: int,
    requests: int,
    *,
    scenario: str = "pingpong",
    cache: bool = False,
    branches: bool = False,
) -> dict[str, float]:
    """callgrind's events per message (``Ir``: instructions; with ``cache`` and ``branches``,
    :data:`CACHE_EVENTS` and :data:`BRANCH_EVENTS` too) that the server ``implementation``
    spends on ``scenario``."""
    by_name(implementation)  # an unknown name fails here, not inside valgrind
    drive = SCENARIOS[scenario]  # an unknown scenario fails here too
    wire = client_wire(codec)
    with tempfile.TemporaryDirectory() as directory:
        out = os.path.join(directory, "callgrind.out")
        server = subprocess.Popen(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
             *(["--cache-sim=yes"] if cache else []),
             *(["--branch-sim=yes"] if branches else []),
             sys.executable, "-m", "benchmarks.serve", implementation, codec],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        try:
            assert server.stdout is not None
            address = json.loads(server.stdout.readline())["address"]
            socks = _open_many(address, wire, connections)
            _round_trips(socks, wire, 2)  # warm: every connection served a few times
            subprocess.run(["callgrind_control", "-z", str(server.pid)], capture_output=True,
                           check=True)
            drive(socks, wire, requests)
            subprocess.run(["callgrind_control", "-d", str(server.pid)], capture_output=True,
                           check=True)
            for sock in socks:
                sock.close()
            time.sleep(0.5)  # let the dump be written
        finally:
            server.kill()
            server.wait()
        dumps = sorted(glob.glob(out + ".*"), key=os.path.getmtime)
        totals = _totals(dumps[-1])
    messages = connections * requests if scenario == "pingpong" else requests
    return {event: value / messages for event, value in totals.items()}


def _round_trips(socks: list[socket.socket], wire: WireCodec, each: int) -> None:
    """``each`` ping-pong round trips on every socket, one in flight on each."""
    frame = ping_frames(wire, 1, REPLY)
    poller = select.epoll()
    by_fd = {sock.fileno(): (sock, wire.counter()) for sock in socks}
    done = dict.fromkeys(by_fd, 0)
    for sock in socks:
        sock.setblocking(False)
        poller.register(sock.fileno(), select.EPOLLIN)
        sock.send(frame)
    live = len(socks)
    try:
        while live:
            for fd, _ in poller.poll(10):
                sock, replies = by_fd[fd]
                if replies(sock.recv(1 << 16)):
                    done[fd] += 1
                    if done[fd] < each:
                        sock.send(frame)
                    else:
                        live -= 1
    finally:
        poller.close()


#: What one ``--scenarios`` entry drives on the open, warmed connections, ``(socks, wire, n)``:
#: ``n`` requests on each (ping-pong), or ``n`` messages on the one connection (flood, echo).
SCENARIOS: dict[str, Callable[[list[socket.socket], WireCodec, int], None]] = {
    "pingpong": _round_trips,
    "flood": lambda socks, wire, n: _blocking(socks[0], flood_on, wire, n),
    "echo": lambda socks, wire, n: _blocking(socks[0], echo_on, wire, n),
}


def _blocking(
    sock: socket.socket, job: Callable[[socket.socket, WireCodec, int], None],
    wire: WireCodec, n: int,
) -> None:
    sock.setblocking(True)  # the warm-up's round trips left it non-blocking
    job(sock, wire, n)

def _totals(dump: str) -> dict[str, int]:
    """The dump's totals by event name (``Ir`` first, then what ``events:`` lists)."""
    names: list[str] = []
    with open(dump) as lines:
        for line in lines:
            if line.startswith("events:"):
                names = line.split()[1:]
            elif line.startswith(("summary:", "totals:")) and names:
                values = [int(value) for value in line.split()[1:]]
                values += [0] * (len(names) - len(values))  # trailing zeros are left out
                return dict(zip(names, values, strict=True))
    raise ValueError(f"{dump}: no instruction total")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", default="pingpong", help="pingpong,flood,echo")
    parser.add_argument("--codecs", default="textual,fixed,variable")
    parser.add_argument("--connections", default="1,200", help="ping-pong only")
    parser.add_argument("--requests", type=int, default=20,
                        help="ping-pong round trips per connection (x100 on one connection)")
    parser.add_argument("--messages", type=int, default=100_000, help="flood and echo")
    parser.add_argument("--cache", action="store_true",
                        help="simulate the caches: first-level misses per message too")
    parser.add_argument("--branches", action="store_true",
                        help="simulate the branch predictor: indirect branches and mispredictions")
    parser.add_argument("--implementations", default="trio_reactive,trio-poller,asyncio,uvloop")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("valgrind is needed: apt-get install valgrind", file=sys.stderr)
        return 2
    raise_open_files_limit()
    names = args.implementations.split(",")
    extra = [*(CACHE_EVENTS if args.cache else ()), *(BRANCH_EVENTS if args.branches else ())]
    print(f"user-space instructions per message (ratio to {names[0]})"
          + (f"; [{'/'.join(extra)}] per message" if extra else ""))
    for scenario in args.scenarios.split(","):
        for codec in args.codecs.split(","):
            for connections, requests in _runs(scenario, args):
                counts = {
                    name: count(name, codec, connections, requests, scenario=scenario,
                                cache=args.cache, branches=args.branches)
                    for name in names
                }
                print(f"{scenario:8s} {codec:8s} {connections:5d} connections  "
                      + "  ".join(_cell(name, value, counts[names[0]], extra)
                                  for name, value in counts.items()), flush=True)
    return 0


def _runs(scenario: str, args: argparse.Namespace) -> list[tuple[int, int]]:
    """(connections, requests) for each row: ping-pong on each size, flood and echo on one."""
    if scenario != "pingpong":
        return [(1, args.messages)]
    return [(n, args.requests if n > 1 else args.requests * 100)
            for n in map(int, args.connections.split(","))]


def _cell(name: str, value: dict[str, float], first: dict[str, float], extra: list[str]) -> str:
    cell = f"{name} {value['Ir']:,.0f} ({value['Ir'] / first['Ir']:.2f}x)"
    if extra:
        cell += " [" + "/".join(f"{value[event]:,.0f}" for event in extra) + "]"
    return cell


if __name__ == "__main__":
    sys.exit(main())
