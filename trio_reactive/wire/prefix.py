"""The u32 length prefix: the one definition every length-prefixed piece of the wire uses.

A frame of the variable codec, and every ``str``, ``bytes``, list and map inside a variable
payload, starts with its length (or count) as an unsigned 32-bit little-endian integer.
"""

from __future__ import annotations

import struct

__all__ = ["LENGTH", "MAX_U32", "PREFIX_SIZE"]

#: The prefix as a struct: ``LENGTH.pack(n)`` and ``LENGTH.unpack_from(buffer, offset)``.
LENGTH = struct.Struct("<I")
#: Its size in bytes.
PREFIX_SIZE = LENGTH.size
#: The largest length it can carry, and so the largest ``max_message_size``.
MAX_U32 = 0xFFFFFFFF
