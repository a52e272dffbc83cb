"""Where an idle connection's memory goes: ``python -m benchmarks.idle_alloc [--rss] [COUNT]``.

The ``idle`` scenario says how much RSS an idle connection costs; this says what it is made
of.  A trio_reactive server runs in this process (the benchmark's own server, sync handler,
default ``Config``), the load generator in another holds ``COUNT`` connections (default 1,000),
each served once, and a :mod:`tracemalloc` snapshot taken before is compared with one taken
after: the bytes Python allocated per connection, by the line that allocated them, and the
tasks the server runs per connection.  ``--rss``: no tracing, the RSS the process grew by per
connection instead (what the ``idle`` scenario reports, for this server alone).
"""

from __future__ import annotations

import gc
import os
import sys
import tracemalloc

import trio

import trio_reactive as tr

from .harness import ROOT, LoadWorker
from .model import protocol_for, respond
from .stats import raise_open_files_limit, rss_bytes

#: Lines of the allocation table shown.
TOP = 30
#: Frames kept per allocation, to find the library line behind one made inside trio.
FRAMES = 12


def _count_tasks(task: trio.lowlevel.Task) -> int:
    return 1 + sum(_count_tasks(child) for nursery in task.child_nurseries
                   for child in nursery.child_tasks)


async def _settle(server: tr.Server, count: int) -> None:
    """Wait until the server holds exactly ``count`` connections, then a little longer."""
    with trio.fail_after(60):
        while len(server.peers) != count:  # noqa: ASYNC110 (polls a count, nothing to wait on)
            await trio.sleep(0.05)
    await trio.sleep(0.5)


async def _measure(count: int, rss: bool) -> None:
    holder = await trio.to_thread.run_sync(LoadWorker)
    try:
        async with tr.open_server(protocol_for("textual"), respond, port=0,
                                  host="127.0.0.1") as server:
            hold = {"job": "hold", "address": {"host": "127.0.0.1", "port": server.port},
                    "codec": "textual"}
            await trio.to_thread.run_sync(holder.run, {**hold, "connections": 50})
            await trio.to_thread.run_sync(holder.run, {"job": "release"})
            await _settle(server, 0)
            root = trio.lowlevel.current_root_task()
            tasks_before = _count_tasks(root)
            gc.collect()
            if not rss:
                tracemalloc.start(FRAMES)
            before = tracemalloc.take_snapshot() if not rss else None
            rss_before = rss_bytes(os.getpid())
            await trio.to_thread.run_sync(holder.run, {**hold, "connections": count})
            await _settle(server, count)
            gc.collect()
            grown = rss_bytes(os.getpid()) - rss_before
            after = tracemalloc.take_snapshot() if not rss else None
            tracemalloc.stop()
            tasks = _count_tasks(root) - tasks_before
            await trio.to_thread.run_sync(holder.run, {"job": "release"})
            await _settle(server, 0)
    finally:
        holder.close()
    if before is None or after is None:
        print(f"{count} idle connections: {grown / count / 1024:.1f} KB RSS per connection, "
              f"{tasks / count:.2f} tasks per connection")
        return
    filters = [tracemalloc.Filter(False, tracemalloc.__file__)]
    diff = after.filter_traces(filters).compare_to(before.filter_traces(filters), "traceback")
    total = sum(stat.size_diff for stat in diff)
    print(f"{count} idle connections: {total / count:.0f} B allocated per connection "
          f"(tracemalloc), {tasks / count:.2f} tasks per connection")
    by_line: dict[str, list[int]] = {}
    for stat in diff:
        where = _library_line(stat.traceback)
        sizes = by_line.setdefault(where, [0, 0])
        sizes[0] += stat.size_diff
        sizes[1] += stat.count_diff
    ranked = sorted(by_line.items(), key=lambda item: -item[1][0])
    for where, (size, blocks) in ranked[:TOP]:
        print(f"{size / count:8.1f} B {blocks / count:6.2f} blocks  {where}")


def _library_line(traceback: tracemalloc.Traceback) -> str:
    """The innermost trio_reactive line of ``traceback`` (what trio allocates for it counts
    there), or the allocating line when none is ours."""
    frames = list(traceback)  # oldest first: the allocating line is the last
    ours = [frame for frame in frames if "trio_reactive" in frame.filename]
    frame = ours[-1] if ours else frames[-1]
    name = frame.filename.rsplit("site-packages/", 1)[-1].removeprefix(f"{ROOT}/")
    return f"{name}:{frame.lineno}"

def main(argv: list[str]) -> None:
    rss = "--rss" in argv
    counts = [arg for arg in argv if arg != "--rss"]
    raise_open_files_limit()
    trio.run(_measure, int(counts[0]) if counts else 1000, rss)


if __name__ == "__main__":
    main(sys.argv[1:])
