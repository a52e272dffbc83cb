"""All cores: one service run by N worker processes sharing one listening port.

A trio program runs on one core.  Connections share nothing (a session lives and dies with its
connection), so a server grows past one core the way it grows past one machine: more processes
behind one address.  :func:`serve_workers` is the launcher; each worker is a process of its own
running :func:`~trio_reactive.serving.serve_listeners` on the same port:

* **SO_REUSEPORT** (Linux; ``SO_REUSEPORT_LB`` on FreeBSD): every worker binds its own
  listening socket to the port and the kernel spreads new connections over them evenly.  The
  launcher binds (without listening) first, which picks the port for ``port=0`` and keeps it
  reserved while workers come and go.
* **One shared socket** elsewhere (macOS, whose SO_REUSEPORT does not balance; Windows): the
  launcher listens and hands the socket to every worker, which all accept from its one queue.
  That works everywhere, but the kernel wakes whichever worker it likes, so the spread is less
  even.  ``reuse_port=False`` picks it on Linux too.

The launcher waits for SIGINT or SIGTERM, then sends SIGTERM to every worker; a worker stops
accepting, lets its peers flush within ``grace`` and exits (``server.shutdown``).  A worker that
dies after it started serving is replaced; one that fails before (an import error, a port it
cannot bind) stops the whole launch.  Run it as ``python -m trio_reactive.workers module:APP``,
or call :func:`serve_workers` under ``if __name__ == "__main__":`` (workers are spawned, and
import the launching module afresh).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from functools import partial
from multiprocessing.connection import Connection, wait
from typing import Any

import attrs
import trio

from ..composite import Service
from ..config import Config
from ..server import as_service
from ..serving import serve_listeners

__all__ = ["REUSE_PORT_OPTION", "load_app", "serve_workers"]

logger = logging.getLogger("trio_reactive.workers")

#: The socket option that lets several processes listen on one port with the kernel balancing
#: new connections over them, or None where there is none (then workers share one socket).
REUSE_PORT_OPTION: int | None = getattr(socket, "SO_REUSEPORT_LB", None) or (
    getattr(socket, "SO_REUSEPORT", None) if sys.platform.startswith("linux") else None
)
#: How long the launcher waits beyond ``grace`` before it kills a worker that has not exited.
_STOP_MARGIN = 10.0
#: A worker that dies sooner than this after it started is replaced only this much later, so a
#: worker that crashes at once does not turn the launcher into a fork loop.
_RESTART_DELAY = 1.0
_POLL = 0.1

#: What a worker listens on: an address to bind with REUSE_PORT_OPTION, or the shared socket.
Listen = tuple[int, Any] | socket.socket


def _named(spec: str) -> Any:
    """The object named by ``"module:attribute"`` (the attribute may be dotted)."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"expected 'module:attribute', got {spec!r}")
    target: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        target = getattr(target, part)
    return target


def load_app(spec: str) -> Service:
    """The service named by ``"module:attribute"``: a ``Service``, or a (protocol, processor)."""
    target = _named(spec)
    if isinstance(target, Service):
        return target
    if isinstance(target, tuple) and len(target) == 2:
        return as_service(*target)
    raise TypeError(f"{spec} is neither a Service nor a (protocol, processor) pair")


def _listening_socket(listen: Listen, backlog: int) -> socket.socket:
    if isinstance(listen, socket.socket):
        return listen
    family, address = listen
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        assert REUSE_PORT_OPTION is not None
        sock.setsockopt(socket.SOL_SOCKET, REUSE_PORT_OPTION, 1)
        sock.bind(address)
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock


@attrs.frozen
class _Work:
    """What every worker is given (pickled to it): the app, where to listen, how to run."""

    app: str
    listen: Listen
    config: Config
    grace: float | None
    log_level: int
    on_event: str | None = None


async def _until_stopped(signals: Any, link: Connection) -> str:
    """Wait for SIGTERM or SIGINT, or for the launcher to vanish (its end of ``link`` closes)."""
    why: list[str] = []
    async with trio.open_nursery() as waiting:

        async def signalled() -> None:
            async for signum in signals:
                why.append(signal.Signals(signum).name)
                waiting.cancel_scope.cancel()

        async def orphaned() -> None:
            await trio.lowlevel.wait_readable(link.fileno())
            why.append("the launcher is gone")
            waiting.cancel_scope.cancel()

        waiting.start_soon(signalled)
        waiting.start_soon(orphaned)
    return why[0]


async def _serve_until_stopped(work: _Work, link: Connection, index: int) -> None:
    service = load_app(work.app)
    on_event = None if work.on_event is None else _named(work.on_event)
    sock = _listening_socket(work.listen, socket.SOMAXCONN)
    listener = trio.SocketListener(trio.socket.from_stdlib_socket(sock))
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with trio.open_nursery() as nursery:
            server = await nursery.start(
                partial(
                    serve_listeners,
                    service,
                    None,
                    [listener],
                    config=work.config,
                    on_event=on_event,
                )
            )
            # A plain pipe written once: no feeder thread or shared lock to hang exit on.
            link.send(os.getpid())
            why = await _until_stopped(signals, link)
            logger.info("worker %d (pid %d): %s, shutting down", index, os.getpid(), why)
            await server.shutdown(work.grace)


def _worker(work: _Work, link: Connection, index: int) -> None:
    """A worker process: load the app, serve until SIGTERM or SIGINT, shut down gracefully."""
    logging.basicConfig(
        level=work.log_level, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    trio.run(_serve_until_stopped, work, link, index)


def _resolve(host: str | None, port: int) -> tuple[int, Any]:
    family, _, _, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    return family, address


def serve_workers(
    app: str,
    port: int = 0,
    host: str | None = None,
    *,
    workers: int | None = None,
    config: Config | None = None,
    grace: float | None = None,
    reuse_port: bool | None = None,
    log_level: int = logging.INFO,
    on_event: str | None = None,
    ready: Callable[[Any, list[int]], None] | None = None,
) -> int:
    """Serve ``app`` (``"module:attribute"``, see :func:`load_app`) with ``workers`` processes.

    ``workers`` defaults to the number of cores; ``host=None`` listens on every interface (the
    first address it resolves to).  ``reuse_port`` chooses how workers share the port (default:
    SO_REUSEPORT where it balances, see the module's documentation).  ``ready(address, pids)``
    is called once every worker serves.  ``on_event`` names (``"module:function"``) the event
    callback each worker imports and passes to its server.  Blocks until SIGINT or SIGTERM has
    shut every worker down, and returns an exit status: 0 when every worker exited cleanly.
    Call it from the main thread: it installs its own SIGINT and SIGTERM handlers while it
    runs.
    """
    count = workers if workers is not None else os.cpu_count() or 1
    if count < 1:
        raise ValueError(f"workers must be ≥ 1, got {count}")
    use_reuse_port = REUSE_PORT_OPTION is not None if reuse_port is None else reuse_port
    if use_reuse_port and REUSE_PORT_OPTION is None:
        raise OSError("this system has no load-balancing SO_REUSEPORT; use reuse_port=False")
    config = config if config is not None else Config()
    family, address = _resolve(host, port)
    anchor = socket.socket(family, socket.SOCK_STREAM)
    stop = threading.Event()
    previous = {
        signum: signal.signal(signum, lambda *_: stop.set())
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        anchor.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if use_reuse_port:
            assert REUSE_PORT_OPTION is not None
            anchor.setsockopt(socket.SOL_SOCKET, REUSE_PORT_OPTION, 1)
            anchor.bind(address)
            listen: Listen = (family, anchor.getsockname())
        else:
            anchor.bind(address)
            anchor.listen(socket.SOMAXCONN)
            listen = anchor
        pool = _Pool(_Work(app, listen, config, grace, log_level, on_event))
        return pool.run(count, stop, anchor.getsockname(), ready)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        anchor.close()


class _Pool:
    """The launcher's bookkeeping: which worker runs where, started, replaced and stopped."""

    def __init__(self, work: _Work) -> None:
        self._context = multiprocessing.get_context("spawn")
        #: The launcher's end of each worker's link: it says when it serves, and it sees EOF
        #: when the launcher dies, however it dies, so no worker outlives it.
        self._links: dict[int, Connection] = {}
        self._starting: dict[Connection, int] = {}
        self._work = work
        self._grace = work.config.close_timeout if work.grace is None else work.grace
        self._processes: dict[int, Any] = {}
        self._started_at: dict[int, float] = {}
        self._serving: set[int] = set()

    def _start(self, index: int) -> None:
        ours, theirs = self._context.Pipe()
        process = self._context.Process(
            target=_worker,
            args=(self._work, theirs, index),
            name=f"trio_reactive worker {index}",
        )
        process.start()
        theirs.close()
        if index in self._links:
            self._links.pop(index).close()
        self._processes[index] = process
        self._started_at[index] = time.monotonic()
        self._links[index] = ours
        self._starting[ours] = index

    def _collect_ready(self, timeout: float) -> None:
        readable = set(wait(list(self._starting), timeout=timeout))
        for link in [link for link in self._starting if link in readable]:
            with contextlib.suppress(EOFError):  # died before it served: its exit code tells
                self._serving.add(link.recv())
            del self._starting[link]

    def run(
        self,
        count: int,
        stop: threading.Event,
        address: Any,
        ready: Callable[[Any, list[int]], None] | None,
    ) -> int:
        try:
            for index in range(count):
                self._start(index)
            while len(self._serving) < count:
                self._collect_ready(_POLL)
                failed = [p for p in self._processes.values() if p.exitcode is not None]
                if failed:
                    logger.error("a worker failed to start (exit code %s)", failed[0].exitcode)
                    return 1
                if stop.is_set():
                    return 1
            pids = [process.pid for process in self._processes.values()]
            logger.info("serving on %s with %d workers (pids %s)", address, count, pids)
            if ready is not None:
                ready(address, pids)
            self._supervise(stop)
        finally:
            clean = self._stop()
        return 0 if clean else 1

    def _supervise(self, stop: threading.Event) -> None:
        while not stop.is_set():
            sentinels = {process.sentinel: index for index, process in self._processes.items()}
            for sentinel in wait(list(sentinels), timeout=_POLL):
                index = sentinels[sentinel]
                process = self._processes[index]
                process.join()
                if stop.is_set():
                    return
                logger.warning(
                    "worker %d (pid %s) exited with %s; starting another",
                    index,
                    process.pid,
                    process.exitcode,
                )
                lived = time.monotonic() - self._started_at[index]
                if lived < _RESTART_DELAY and stop.wait(_RESTART_DELAY - lived):
                    return
                self._start(index)
            self._collect_ready(0)

    def _stop(self) -> bool:
        """SIGTERM to every worker, wait for them to finish; True if all exited with 0."""
        live = [process for process in self._processes.values() if process.exitcode is None]
        if live:
            logger.info("stopping %d workers", len(live))
        for process in live:
            process.terminate()  # SIGTERM: the worker shuts down gracefully
        deadline = time.monotonic() + self._grace + _STOP_MARGIN
        for process in live:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.exitcode is None:
                logger.error("worker pid %s did not stop in time; killing it", process.pid)
                process.kill()
                process.join()
        codes = [process.exitcode for process in live]
        self._processes.clear()
        for link in self._links.values():
            link.close()
        self._links.clear()
        self._starting.clear()
        return all(code == 0 for code in codes)
