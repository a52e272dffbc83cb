"""What the engine takes as a broken stream."""

from __future__ import annotations

import trio

__all__ = ["BROKEN"]

#: What a broken stream raises: a reset, an I/O error, or a stream closed under a task.
BROKEN = (trio.BrokenResourceError, trio.ClosedResourceError, OSError)
