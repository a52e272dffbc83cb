"""Message models shared by the test suites.

``CLIENT`` / ``SERVER`` fit every codec (all fields have a fixed binary size); ``RICH`` uses what
only the textual and variable-binary codecs can carry (strings, lists, dicts, optionals, nesting);
``STAMPED`` adds a datetime, which only the textual codec carries.
"""

from __future__ import annotations

import datetime
import enum
from typing import Annotated

import attrs
import construct as c


class Color(enum.IntEnum):
    RED = 1
    GREEN = 2
    BLUE = 3


@attrs.frozen
class Ping:
    n: Annotated[int, c.Int32ul]


@attrs.frozen
class Move:
    player: Annotated[int, c.Int8ul]
    x: float
    y: Annotated[float, c.Float32l]
    color: Color
    hit: bool


@attrs.frozen
class Named:
    name: Annotated[str, c.PaddedString(16, "utf8")]
    token: Annotated[bytes, c.Bytes(8)]


@attrs.frozen
class Quit:
    pass


@attrs.frozen
class Pong:
    n: Annotated[int, c.Int32ul]
    at: int


CLIENT = Ping | Move | Named | Quit
SERVER = Pong | Quit


@attrs.frozen
class Point:
    x: int
    y: int


@attrs.frozen
class Rich:
    name: str
    tags: list[str]
    scores: dict[str, int]
    maybe: int | None
    where: Point
    blob: bytes
    points: list[Point]


RICH = Rich | Point | Quit


@attrs.frozen
class Stamped:
    at: datetime.datetime
    note: str | None = None


STAMPED = Stamped | Quit
