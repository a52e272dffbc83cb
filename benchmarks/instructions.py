"""Instructions per request, counted by valgrind: ``python -m benchmarks.instructions``.

Timings on a shared machine swing by 30% from run to run; the instructions a server executes
per request do not.  Each server runs under ``valgrind --tool=callgrind`` (Debian's
``valgrind`` package), the client in this process opens the connections and warms them, the
counters are zeroed, then every connection does ``--requests`` round trips of ping-pong (one
message in flight each, all driven by one epoll loop), and the counters are dumped.  Reported:
user-space instructions per request, and the ratio to the first implementation.  The system
calls themselves (the kernel's work) are not counted: ``strace -c -f -p PID`` counts those.

    python -m benchmarks.instructions --codecs fixed --connections 1,200 --requests 20 \\
        --implementations trio_reactive,trio-poller,asyncio,uvloop
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

from .load import _open_many, ping_frames
from .model import REPLY
from .peers import by_name
from .stats import raise_open_files_limit
from .wire import WireCodec, client_wire

__all__ = ["count"]


def count(implementation: str, codec: str, connections: int, requests: int) -> float:
    """Instructions the server ``implementation`` executes per ping-pong request."""
    by_name(implementation)  # an unknown name fails here, not inside valgrind
    wire = client_wire(codec)
    with tempfile.TemporaryDirectory() as directory:
        out = os.path.join(directory, "callgrind.out")
        server = subprocess.Popen(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
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
            _round_trips(socks, wire, requests)
            subprocess.run(["callgrind_control", "-d", str(server.pid)], capture_output=True,
                           check=True)
            for sock in socks:
                sock.close()
            time.sleep(0.5)  # let the dump be written
        finally:
            server.kill()
            server.wait()
        dumps = sorted(glob.glob(out + ".*"), key=os.path.getmtime)
        total = _total(dumps[-1])
    return total / (connections * requests)


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


def _total(dump: str) -> int:
    with open(dump) as lines:
        for line in lines:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise ValueError(f"{dump}: no instruction total")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codecs", default="textual,fixed,variable")
    parser.add_argument("--connections", default="1,200")
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--implementations", default="trio_reactive,trio-poller,asyncio,uvloop")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("valgrind is needed: apt-get install valgrind", file=sys.stderr)
        return 2
    raise_open_files_limit()
    names = args.implementations.split(",")
    print(f"user-space instructions per request (ratio to {names[0]}); "
          f"{args.requests} round trips per connection")
    for codec in args.codecs.split(","):
        for connections in map(int, args.connections.split(",")):
            requests = args.requests if connections > 1 else args.requests * 100
            counts = {name: count(name, codec, connections, requests) for name in names}
            first = counts[names[0]]
            cells = "  ".join(f"{name} {value:,.0f} ({value / first:.2f}x)"
                              for name, value in counts.items())
            print(f"{codec:8s} {connections:5d} connections  {cells}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
