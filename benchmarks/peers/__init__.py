"""The servers under comparison, one module each, all running ``benchmarks.model.respond``.

Every module has ``serve(codec, announce)``: bind to 127.0.0.1 on free ports, call
``announce(address)`` once listening (the harness reads it from stdout), then serve until killed.
"""

from __future__ import annotations

import importlib.util

import attrs

__all__ = ["IMPLEMENTATIONS", "Implementation", "by_name", "missing_dependency"]


@attrs.frozen
class Implementation:
    """One server implementation: where its code is, what it needs, what it is."""

    name: str
    module: str
    function: str
    requires: tuple[str, ...]
    description: str


IMPLEMENTATIONS: tuple[Implementation, ...] = (
    Implementation(
        "trio_reactive", "reactive", "serve", (),
        "trio_reactive, a sync per-message handler (the inline fast path), default Config "
        "(the shared poller)",
    ),
    Implementation(
        "trio_reactive-tasks", "reactive", "serve_with_tasks", (),
        "trio_reactive with Config(shared_poller=False): each connection reads with its own "
        "task (as TLS connections always do)",
    ),
    Implementation(
        "trio", "bare_trio", "serve_one_task", (),
        "bare trio: one task per connection, receive_some(64 KiB), one send_all per read",
    ),
    Implementation(
        "trio-3task", "bare_trio", "serve_three_tasks", (),
        "bare trio, trio_reactive's layout: reader -> channel -> processor -> channel -> writer, "
        "items are batches",
    ),
    Implementation(
        "trio-poller", "bare_trio_poller", "serve", (),
        "bare trio, one shared poller task: one epoll, every ready socket served inline, none "
        "of the library's guarantees (the design trio_reactive's poller is measured against)",
    ),
    Implementation(
        "asyncio", "asyncio_streams", "serve", (),
        "asyncio streams on the default event loop: read(64 KiB), write + drain per read",
    ),
    Implementation(
        "uvloop", "uvloop_protocol", "serve", ("uvloop",),
        "asyncio.Protocol on uvloop: data_received decodes, one transport.write per read",
    ),
    Implementation(
        "zmq", "zmq_peer", "serve", ("zmq",),
        "pyzmq: PUSH/PULL one-way, DEALER/ROUTER request/response, a Poller draining each socket",
    ),
)


def by_name(name: str) -> Implementation:
    for implementation in IMPLEMENTATIONS:
        if implementation.name == name:
            return implementation
    raise KeyError(f"no implementation {name!r}")


def missing_dependency(implementation: Implementation) -> str | None:
    """The first optional module this implementation needs that is not installed, if any."""
    for module in implementation.requires:
        if importlib.util.find_spec(module) is None:
            return module
    return None
