"""The construct pieces the standard library lacks, for the reference schema.

Stricter than construct's defaults, the way a network codec must be: a bool byte other than
0/1, an enum value with no member, a count the remaining bytes cannot hold, trailing bytes and
a padded string that would not come back the same are all errors, and every failure names the
message field it happened in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import construct as c  # type: ignore[import-untyped]

from .nodes import BOOL_OF_BYTE, BYTE_OF_BOOL, Field


class FieldError(c.ConstructError):  # type: ignore[misc]
    """A parse or build failure, with the message field it happened in."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem


def _problem(exc: BaseException) -> str:
    """construct's own errors say enough by their message; anything else needs its type too."""
    if isinstance(exc, c.ConstructError):
        return str(exc).split("\n", 1)[-1] if exc.path else str(exc)
    return f"{type(exc).__name__}: {exc}"


class _Located(c.Subconstruct):  # type: ignore[misc]
    """Names the field a failure happened in: the innermost one wins.

    construct's own paths skip unnamed wrappers and several of its errors carry no path at all,
    so every node of a layout is wrapped in one of these with its full dotted name.
    """

    def __init__(self, subcon: Any, where: str) -> None:
        super().__init__(subcon)
        self.where = where

    def _parse(self, stream: Any, context: Any, path: str) -> Any:
        try:
            return self.subcon._parsereport(stream, context, path)
        except FieldError:
            raise
        except Exception as exc:
            raise FieldError(self.where, _problem(exc)) from exc

    def _build(self, obj: Any, stream: Any, context: Any, path: str) -> Any:
        try:
            return self.subcon._build(obj, stream, context, path)
        except FieldError:
            raise
        except Exception as exc:
            raise FieldError(self.where, _problem(exc)) from exc


class _Table(c.Adapter):  # type: ignore[misc]
    """Maps wire values to objects (bools, enum members) through the fast path's own tables."""

    def __init__(
        self, subcon: Any, decode: Mapping[Any, Any], encode: Mapping[Any, Any], what: str
    ) -> None:
        super().__init__(subcon)
        self.decode_table = decode
        self.encode_table = encode
        self.what = what

    def _decode(self, obj: Any, context: Any, path: str) -> Any:
        try:
            return self.decode_table[obj]
        except (KeyError, TypeError):
            raise c.ValidationError(f"{obj!r} is not a valid {self.what}") from None

    def _encode(self, obj: Any, context: Any, path: str) -> Any:
        try:
            return self.encode_table[obj]
        except (KeyError, TypeError):
            raise c.ValidationError(f"{obj!r} is not a {self.what}") from None


NUL_AT_END = (
    "ends in a NUL character, which the padding would swallow: it would come back without it"
)


class _NoNulAtEnd(c.Adapter):  # type: ignore[misc]
    """A ``PaddedString`` that refuses to build what it would not parse back the same."""

    def _decode(self, obj: Any, context: Any, path: str) -> Any:
        return obj

    def _encode(self, obj: Any, context: Any, path: str) -> Any:
        if isinstance(obj, str) and obj.endswith("\x00"):
            raise c.ValidationError(NUL_AT_END)
        return obj


def _flag(what: str) -> Any:
    """A strict bool byte: 0 or 1 only."""
    return _Table(c.Int8ul, dict(enumerate(BOOL_OF_BYTE)), BYTE_OF_BOOL, what)


class _Message(c.Adapter):  # type: ignore[misc]
    """An attrs instance over a construct ``Struct`` of its fields."""

    def __init__(self, cls: type, fields: tuple[Field, ...]) -> None:
        super().__init__(c.Struct(*[f.name / f.node.construct for f in fields]))
        self.cls = cls
        self.positional = [f.name for f in fields if not f.kw_only]
        self.keywords = [(f.alias, f.name) for f in fields if f.kw_only]
        self.names = [f.name for f in fields]

    def _decode(self, obj: Any, context: Any, path: str) -> Any:
        args = [obj[name] for name in self.positional]
        return self.cls(*args, **{alias: obj[name] for alias, name in self.keywords})

    def _encode(self, obj: Any, context: Any, path: str) -> Any:
        if not isinstance(obj, self.cls):
            raise c.ValidationError(f"expected a {self.cls.__qualname__}, got {obj!r}")
        return {name: getattr(obj, name) for name in self.names}


class _Counted(c.Construct):  # type: ignore[misc]
    """A u32-LE count, then items; a count the remaining bytes cannot hold is refused up front."""

    def __init__(self, item: Any, min_item_size: int, as_dict: bool) -> None:
        super().__init__()
        self.item = item
        self.min_item_size = min_item_size
        self.as_dict = as_dict

    def _parse(self, stream: Any, context: Any, path: str) -> Any:
        count = c.Int32ul._parsereport(stream, context, path)
        left = c.stream_size(stream) - c.stream_tell(stream, path)
        if count * self.min_item_size > left:
            raise c.StreamError(
                f"count {count} needs at least {count * self.min_item_size} bytes, {left} left"
            )
        items = [self.item._parsereport(stream, context, path) for _ in range(count)]
        return dict(items) if self.as_dict else items

    def _build(self, obj: Any, stream: Any, context: Any, path: str) -> Any:
        items = list(obj.items()) if self.as_dict else obj
        c.Int32ul._build(len(items), stream, context, path)
        for item in items:
            self.item._build(item, stream, context, path)
        return obj

    def _sizeof(self, context: Any, path: str) -> int:
        raise c.SizeofError("a counted sequence has no fixed size", path=path)


class _Maybe(c.Construct):  # type: ignore[misc]
    """A presence byte (strictly 0 or 1), then the item when present."""

    def __init__(self, item: Any) -> None:
        super().__init__()
        self.item = item
        self.flag = _flag("presence flag (0 or 1)")

    def _parse(self, stream: Any, context: Any, path: str) -> Any:
        present = self.flag._parsereport(stream, context, path)
        return self.item._parsereport(stream, context, path) if present else None

    def _build(self, obj: Any, stream: Any, context: Any, path: str) -> Any:
        self.flag._build(obj is not None, stream, context, path)
        if obj is not None:
            self.item._build(obj, stream, context, path)
        return obj

    def _sizeof(self, context: Any, path: str) -> int:
        raise c.SizeofError("an optional has no fixed size", path=path)


class _End(c.Construct):  # type: ignore[misc]
    """Refuses bytes after the message: an overlong payload is a malformed one."""

    def __init__(self, names: tuple[str, ...]) -> None:
        super().__init__()
        self.names = names
        self.flagbuildnone = True

    def _parse(self, stream: Any, context: Any, path: str) -> None:
        extra = len(c.stream_read_entire(stream, path))
        if extra:
            raise FieldError(self.names[context.tag], f"{extra} trailing bytes after the message")

    def _build(self, obj: Any, stream: Any, context: Any, path: str) -> None:
        return None

    def _sizeof(self, context: Any, path: str) -> int:
        return 0


