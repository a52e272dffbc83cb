"""Socket options from :class:`~trio_reactive.config.Config`, applied once per connection."""

from __future__ import annotations

import socket
import struct
from typing import Any

import trio

from .config import Config

__all__ = ["KEEPALIVE_OPTIONS", "apply_socket_options", "peer_address"]

#: Config field -> the TCP option it sets, for the options this OS has.  The idle time is
#: TCP_KEEPIDLE on Linux and the BSDs, TCP_KEEPALIVE on macOS; where an option is missing
#: (Windows before 10, some BSDs) that field is ignored and the system default stays.
KEEPALIVE_OPTIONS: dict[str, int] = {
    field: option
    for field, option in (
        ("keepalive_idle", getattr(socket, "TCP_KEEPIDLE", getattr(socket, "TCP_KEEPALIVE", None))),
        ("keepalive_interval", getattr(socket, "TCP_KEEPINTVL", None)),
        ("keepalive_count", getattr(socket, "TCP_KEEPCNT", None)),
    )
    if option is not None
}


def _socket_stream(stream: trio.abc.Stream) -> trio.SocketStream | None:
    while not isinstance(stream, trio.SocketStream):
        inner = getattr(stream, "transport_stream", None)
        if inner is None:
            return None
        stream = inner
    return stream


def apply_socket_options(stream: trio.abc.Stream, config: Config) -> None:
    """TCP_NODELAY (trio's default, kept unless disabled), keepalive and its timers, linger, TTL.

    Only TCP sockets have these options; other streams (Unix sockets, memory streams) are left
    as they are.
    """
    sock_stream = _socket_stream(stream)
    if sock_stream is None:
        return
    sock = sock_stream.socket
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    sock_stream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, config.tcp_nodelay)
    if config.keepalive:
        sock_stream.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, True)
        for field, option in KEEPALIVE_OPTIONS.items():
            value = getattr(config, field)
            if value is not None:
                sock_stream.setsockopt(socket.IPPROTO_TCP, option, value)
    if config.linger is not None:
        sock_stream.setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, int(config.linger))
        )
    if config.ttl is not None:
        if sock.family == socket.AF_INET6:
            sock_stream.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, config.ttl)
        else:
            sock_stream.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, config.ttl)


def peer_address(stream: trio.abc.Stream) -> Any:
    """The remote address of a (possibly TLS-wrapped) socket stream, or None."""
    sock_stream = _socket_stream(stream)
    if sock_stream is None:
        return None
    try:
        return sock_stream.socket.getpeername()
    except OSError:
        return None
