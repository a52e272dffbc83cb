"""One file descriptor held in reserve, for a server that has run out of them.

Out of descriptors, ``accept()`` fails with EMFILE before it even looks at the listen queue, so a
newcomer waits in the backlog until its client times out, and the server cannot even say no.
Holding one spare descriptor (``/dev/null``, opened at start) fixes that: on EMFILE the server
closes the spare, accepts the newcomer with the descriptor this frees, closes the newcomer at
once (it learns now, instead of timing out) and opens the spare again.  libuv, nginx and others
do the same.
"""

from __future__ import annotations

import os

__all__ = ["SpareDescriptor"]


class SpareDescriptor:
    """A descriptor that can be given back for one ``accept`` and taken again afterwards."""

    __slots__ = ("_fd",)

    def __init__(self) -> None:
        self._fd: int | None = None  # held from the first restore() to close()

    def release(self) -> bool:
        """Close the spare so the next descriptor opened can use it; False if there was none."""
        if self._fd is None:
            return False
        os.close(self._fd)
        self._fd = None
        return True

    def restore(self) -> None:
        """Hold a spare again (if a descriptor is free by now; else at the next call)."""
        if self._fd is None:
            try:
                self._fd = os.open(os.devnull, os.O_RDONLY)
            except OSError:
                self._fd = None

    def close(self) -> None:
        self.release()
