"""The deadline keeper: one task per trio run watching every connection's liveness deadlines.

Connections over in-memory streams (and, for the task count, real sockets on 127.0.0.1) under
the autojump clock: each deadline is checked to the second, at no real time.  What a deadline
does to one connection is tested in test_liveness.py; this is about many at once, and about the
keeper holding nothing: no task per connection, no connection kept alive once it has ended.
"""

from __future__ import annotations

import gc
import weakref
from typing import Any

import pytest
import trio
import trio.testing

import trio_reactive as tr
from tests.engine_support import PROCESSORS, Recorder, protocol, raw_connect, start_ping_server
from trio_reactive.engine import Connection, make_event_sink
from trio_reactive.engine.watchdog import _LEFT_SLACK, Keeper, keeper
from trio_reactive.server import as_service

pytestmark = pytest.mark.timeout(30)

REASON = tr.DisconnectReason
PING = b'{"Ping":{"n":1}}\n'


def _connection(
    config: tr.Config, on_event: Any, *, opened_by: float | None = None, lockstep: bool = False
) -> tuple[Connection, trio.abc.Stream]:
    """A server connection over an in-memory stream, and the stream of its peer."""
    if lockstep:
        ours, theirs = trio.testing.lockstep_stream_pair()
    else:
        ours, theirs = trio.testing.memory_stream_pair()
    plan = as_service(protocol(), PROCESSORS["handler"]).compile("server", config.max_message_size)
    sink = make_event_sink(on_event)
    connection = Connection(theirs, plan, config, sink, address=("memory", 0), opened_by=opened_by)
    return connection, ours


async def _peer(stream: trio.abc.Stream, send: bytes = b"") -> None:
    """Send ``send``, then read and drop everything until the end of input; then hang up."""
    if send:
        await stream.send_all(send)
    try:
        while await stream.receive_some():
            pass
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass
    await stream.aclose()


async def _silent_peer(stream: trio.abc.Stream) -> None:
    """Send one ping and then never read (a peer that leaves the server's reply unread)."""
    await stream.send_all(PING)
    await trio.sleep_forever()


class _Timeline:
    """Each connection's ``Disconnected``: (time since the start, name, reason)."""

    def __init__(self) -> None:
        self.start = trio.current_time()
        self.ends: list[tuple[float, str, REASON]] = []
        self.events = Recorder()

    def sink(self, name: str) -> Any:
        def record(event: Any) -> None:
            self.events(event)
            if isinstance(event, tr.Disconnected):
                self.ends.append((trio.current_time() - self.start, name, event.reason))

        return record


async def test_many_connections_expire_in_the_order_of_their_deadlines(
    autojump_clock: Any,
) -> None:
    timeline = _Timeline()
    now = trio.current_time()
    off = {"write_timeout": None, "handshake_timeout": None}
    async with trio.open_nursery() as nursery:
        expected: list[tuple[float, str, REASON]] = []
        for seconds in (17, 3, 11, 29, 7, 23, 13, 19):  # filed out of order on purpose
            name = f"idle {seconds}"
            conn, stream = _connection(tr.Config(idle_timeout=seconds, **off), timeline.sink(name))
            nursery.start_soon(conn.run)
            nursery.start_soon(_peer, stream)
            expected.append((seconds, name, REASON.IDLE_TIMEOUT))
        conn, stream = _connection(tr.Config(**off), timeline.sink("handshake"), opened_by=now + 5)
        nursery.start_soon(conn.run)
        nursery.start_soon(_peer, stream)
        expected.append((5, "handshake", REASON.HANDSHAKE_TIMEOUT))
        conn, stream = _connection(
            tr.Config(heartbeat_timeout=21, **off), timeline.sink("heartbeat")
        )
        nursery.start_soon(conn.run)
        nursery.start_soon(_peer, stream, PING)  # answered, then silent
        expected.append((21, "heartbeat", REASON.HEARTBEAT_TIMEOUT))
        conn, stream = _connection(
            tr.Config(write_timeout=9, handshake_timeout=None),
            timeline.sink("write"),
            lockstep=True,
        )
        nursery.start_soon(conn.run)
        nursery.start_soon(_silent_peer, stream)
        expected.append((9, "write", REASON.WRITE_TIMEOUT))
        with trio.fail_after(60):
            await timeline.events.wait_for(tr.Disconnected, len(expected))
        nursery.cancel_scope.cancel()
    assert [(name, reason) for _, name, reason in timeline.ends] == [
        (name, reason) for _, name, reason in sorted(expected)
    ]
    for (elapsed, name, _), (due, _, _) in zip(timeline.ends, sorted(expected), strict=True):
        assert elapsed == pytest.approx(due, abs=0.01), name


async def test_a_connection_that_ends_is_dropped_by_the_keeper(autojump_clock: Any) -> None:
    conn, stream = _connection(tr.Config(idle_timeout=3600), None)
    ref = weakref.ref(conn)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(conn.run)
        await trio.sleep(1)
        current = keeper()
        assert len(current) == 1
        assert current.running
        await stream.send_eof()  # type: ignore[attr-defined]
        await _peer(stream)
    assert len(current) == 0
    await trio.testing.wait_all_tasks_blocked()
    assert not current.running  # nothing left to watch: the keeper's task has ended
    del conn
    gc.collect()
    assert ref() is None  # a look due in an hour holds no connection


async def test_the_heap_is_not_filled_by_connections_that_ended(autojump_clock: Any) -> None:
    """Each of these leaves an entry due in an hour behind, while one connection stays: the
    heap is rebuilt without them."""
    stays, _ = _connection(tr.Config(idle_timeout=7200), None)
    async with trio.open_nursery() as outer:
        outer.start_soon(stays.run)
        for _ in range(5 * _LEFT_SLACK):
            conn, stream = _connection(tr.Config(idle_timeout=3600), None)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(conn.run)
                await stream.send_eof()  # type: ignore[attr-defined]
                await _peer(stream)
            assert len(keeper()._heap) <= _LEFT_SLACK + 2
        assert len(keeper()) == 1
        outer.cancel_scope.cancel()


class _Breaks:
    """A connection whose second look raises: it is aborted, and the keeper goes on."""

    closing = False

    def __init__(self, config: tr.Config) -> None:
        self.config = config
        self.looks = 0
        self.aborted: list[tuple[REASON, BaseException | None]] = []

    share = None  # no server budget

    @property
    def inbound(self) -> Any:
        return self

    def unhandled(self) -> bool:
        self.looks += 1  # asked once a look
        if self.looks > 1:
            raise RuntimeError("a look that breaks")
        return False

    def abort(self, reason: REASON, error: BaseException | None = None) -> None:
        self.aborted.append((reason, error))
        self.closing = True

    outbox = property(lambda self: self)
    idle = True
    progress_at = read_at = messages_in = 0


async def test_a_look_that_raises_ends_that_connection_only(
    autojump_clock: Any, caplog: pytest.LogCaptureFixture
) -> None:
    timeline = _Timeline()
    broken: Any = _Breaks(tr.Config(idle_timeout=5, write_timeout=None))
    deadlines = keeper().file(broken, None)
    conn, stream = _connection(
        tr.Config(idle_timeout=8, write_timeout=None), timeline.sink("healthy")
    )
    async with trio.open_nursery() as nursery:
        nursery.start_soon(conn.run)
        nursery.start_soon(_peer, stream)
        with trio.fail_after(60):
            await timeline.events.wait_for(tr.Disconnected)
    ((reason, error),) = broken.aborted
    assert reason is REASON.ABORTED
    assert isinstance(error, RuntimeError)
    assert "watching a connection's deadlines failed" in caplog.text
    assert timeline.ends == [(pytest.approx(8, abs=0.01), "healthy", REASON.IDLE_TIMEOUT)]
    assert deadlines.conn is None  # the broken one is no longer watched


def _tasks(task: trio.lowlevel.Task) -> list[trio.lowlevel.Task]:
    found = [task]
    for nursery in task.child_nurseries:
        for child in nursery.child_tasks:
            found.extend(_tasks(child))
    return found


def test_the_keeper_does_not_keep_a_trio_run_alive() -> None:
    seen: list[Keeper] = []

    async def main() -> None:
        conn, _ = _connection(tr.Config(idle_timeout=3600), None)
        current = keeper()
        current.file(conn, None)  # due in an hour, never ended: the run must not wait for it
        await trio.lowlevel.checkpoint()
        root = trio.lowlevel.current_root_task()
        (task,) = [t for t in _tasks(root) if t.name == "trio_reactive deadline keeper"]
        assert task.parent_nursery is not None
        assert task.parent_nursery.parent_task is root  # a system task, beside main
        seen.append(current)

    trio.run(main)
    (ran,) = seen
    assert not ran.running


async def test_idle_connections_have_no_task_for_their_deadlines() -> None:
    """100 idle connections: the default deadlines (write, handshake) add no task each."""

    async def tasks_per_hundred(config: tr.Config) -> int:
        before = len(_tasks(trio.lowlevel.current_root_task()))
        async with trio.open_nursery() as nursery:
            server = await start_ping_server(nursery, config=config)
            streams = []
            with trio.fail_after(20):
                for _ in range(100):
                    stream = await raw_connect(server.port)
                    await stream.send_all(PING)
                    assert await stream.receive_some()  # served once, then idle
                    streams.append(stream)
            during = len(_tasks(trio.lowlevel.current_root_task()))
            for stream in streams:
                await stream.aclose()
            await server.shutdown()
            nursery.cancel_scope.cancel()
        return during - before

    with_deadlines = await tasks_per_hundred(tr.Config())
    without = await tasks_per_hundred(tr.Config(write_timeout=None, handshake_timeout=None))
    assert with_deadlines - without <= 1  # the keeper, started by the first server
    assert len(keeper()) == 0
