"""Generated fast paths: one way to write their source, run it, and read it back.

The serdes compile each message class into plain Python written for it (every per-class
decision made while writing, so that running it branches on nothing but the data).  All of that
code goes through here: :class:`Source` writes it, :func:`execute` runs it and registers its
text with :mod:`linecache` (so tracebacks show the generated lines and ``inspect.getsource``
works), and :func:`source_of` gives the text a generated function came from, for a look at
what runs: ``print(source_of(function))``.
"""

from __future__ import annotations

import itertools
import linecache
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

__all__ = ["Source", "execute", "source_of"]

_serial = itertools.count(1)
_PREFIX = "<trio_reactive "


def execute(lines: Sequence[str], name: str, namespace: dict[str, Any]) -> None:
    """Compile and run generated ``lines`` in ``namespace``, their text kept for tracebacks."""
    text = "\n".join(lines) + "\n"
    filename = f"{_PREFIX}{name} #{next(_serial)}>"
    linecache.cache[filename] = (len(text), None, text.splitlines(keepends=True), filename)
    exec(compile(text, filename, "exec"), namespace)


def source_of(function: Callable[..., Any]) -> str:
    """The whole generated source ``function`` was defined in (empty if it was not generated)."""
    filename = function.__code__.co_filename
    if not filename.startswith(_PREFIX):
        return ""
    return "".join(linecache.getlines(filename))


class Source:
    """The source of one generated function, and the constants its names refer to."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.lines: list[str] = []
        self.namespace: dict[str, Any] = {}
        self._constants: dict[int, str] = {}
        self._count = 0
        self._depth = 0

    def const(self, value: Any, hint: str = "k") -> str:
        """A global name for ``value`` in the generated code (one per object)."""
        name = self._constants.get(id(value))
        if name is None:
            name = self.fresh(f"_{hint}")
            self._constants[id(value)] = name
            self.namespace[name] = value
        return name

    def fresh(self, hint: str) -> str:
        """A new local name."""
        self._count += 1
        return f"{hint}{self._count}"

    def line(self, text: str) -> None:
        self.lines.append("    " * self._depth + text)

    @contextmanager
    def block(self, header: str) -> Iterator[None]:
        self.line(header)
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1

    def run(self) -> dict[str, Any]:
        """Run the source; return its namespace, with what it defined."""
        execute(self.lines, self.name, self.namespace)
        return self.namespace

    def compile(self) -> Callable[..., Any]:
        """Run the source; return the function it defines under ``name``."""
        function: Callable[..., Any] = self.run()[self.name]
        return function
