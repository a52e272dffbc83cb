"""Reading type hints, the same way for every serde: names, ``Annotated``, optionals, tags."""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable
from typing import Any

from .errors import ProtocolDefinitionError

__all__ = ["check_distinct_names", "optional_of", "strip_annotated", "type_name"]


def strip_annotated(hint: Any) -> Any:
    """``T`` for ``Annotated[T, ...]`` (however nested), else ``hint`` itself."""
    while typing.get_origin(hint) is typing.Annotated:
        hint = hint.__origin__
    return hint


def type_name(hint: Any) -> str:
    """A type as an error message names it: ``Point``, ``list[int]``, ``int | None``."""
    hint = strip_annotated(hint)
    if isinstance(hint, type) and not typing.get_args(hint):
        return hint.__name__
    return repr(hint).replace("typing.", "")


def optional_of(hint: Any) -> Any:
    """``T`` for ``T | None`` and ``Optional[T]``, else None.

    The union may be ``Annotated``; ``T`` keeps its own ``Annotated`` (a layout hint).
    """
    hint = strip_annotated(hint)
    if not (isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union):
        return None
    others = [arg for arg in typing.get_args(hint) if arg is not type(None)]
    if len(others) != 1 or len(others) == len(typing.get_args(hint)):
        return None
    return others[0]


def check_distinct_names(classes: Iterable[type]) -> None:
    """Refuse two message classes of one side with one name: the name is the tag."""
    names = [cls.__name__ for cls in classes]
    if len(set(names)) != len(names):
        raise ProtocolDefinitionError(
            f"message classes of one side must have distinct names (used as tags): {names}"
        )
