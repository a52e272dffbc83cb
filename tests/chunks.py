"""A byte stream cut into reads the way a socket might deliver it: the codec tests' input."""

from __future__ import annotations

import itertools

from hypothesis import strategies as st


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    """``data`` cut at the given offsets (any order, duplicates and out-of-range values allowed)."""
    points = sorted({min(max(cut, 0), len(data)) for cut in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


def reads(data: st.DataObject, stream: bytes, max_cuts: int = 6) -> list[bytes | bytearray]:
    """``stream`` cut anywhere (often not at all), some reads as bytearrays (what some streams
    deliver)."""
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=max_cuts))
    return [
        bytearray(chunk) if data.draw(st.booleans()) else chunk for chunk in split_at(stream, cuts)
    ]


__all__ = ["reads", "split_at"]
