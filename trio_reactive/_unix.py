"""Unix domain sockets: a listener bound to a path, and a path for clients to connect to.

trio has ``open_unix_socket`` for clients but no listener helper, so this module binds one.  A
server that crashed leaves its socket file behind, and ``bind`` then fails with "address in
use" although nobody listens: a file that is a socket nobody answers on is removed first.  A
live server on the path, or a file that is not a socket, is left alone and reported.
"""

from __future__ import annotations

import errno
import os
import socket
import stat

import attrs
import trio

__all__ = ["UnixPath", "open_unix_listener", "remove_socket_file"]


@attrs.frozen
class UnixPath:
    """Where a client connects instead of a host name: the path of a Unix socket."""

    path: str

    def __str__(self) -> str:
        return self.path


async def _remove_stale(path: str) -> None:
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise FileExistsError(errno.EEXIST, f"{path} exists and is not a socket")
    probe = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        await probe.connect(path)
    except (ConnectionRefusedError, FileNotFoundError):
        os.unlink(path)
        return
    finally:
        probe.close()
    raise OSError(errno.EADDRINUSE, f"a server is already listening on {path}")


async def open_unix_listener(path: str | os.PathLike[str]) -> tuple[trio.SocketListener, int]:
    """Listen on ``path`` (removing a stale socket file first); also return the file's inode.

    The inode lets :func:`remove_socket_file` remove only the file this listener made, not one
    a newer server has bound on the same path since.
    """
    name = os.fspath(path)
    await _remove_stale(name)
    sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        await sock.bind(name)
        sock.listen(socket.SOMAXCONN)
        inode = os.stat(name).st_ino
    except BaseException:
        sock.close()
        raise
    return trio.SocketListener(sock), inode


def remove_socket_file(path: str | os.PathLike[str], inode: int) -> None:
    """Remove the socket file at ``path`` if it is still the one with ``inode``."""
    try:
        if os.stat(path).st_ino == inode:
            os.unlink(path)
    except FileNotFoundError:
        pass
