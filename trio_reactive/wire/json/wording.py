"""How the JSON serde words what is wrong: values by their JSON type, failures by their path.

Used on the slow paths only, after a fast path has failed, so wording costs nothing when frames
are good.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import attrs
import cattrs
import cattrs.gen
from cattrs.errors import (
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
)

from ..typeinfo import optional_of, strip_annotated, type_name

__all__ = ["Invalid", "StructureHook", "describe", "explain", "first_non_finite", "short"]

PREVIEW = 60
StructureHook = Callable[[Any, Any], Any]


class Invalid(ValueError):
    """A value of the wrong JSON type or shape; its message is already phrased for the reader."""


def optional_inner(tp: Any) -> Any:
    """``X`` for ``X | None`` (and ``Optional[X]``), else ``tp`` itself, Annotated stripped."""
    inner = optional_of(tp)
    return strip_annotated(tp if inner is None else inner)



def short(text: str) -> str:
    return text if len(text) <= PREVIEW else text[: PREVIEW - 3] + "..."


def describe(value: Any) -> str:
    """Name a decoded JSON value by its JSON type, with a preview of scalars."""
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return f"number {short(repr(value))}"
    if isinstance(value, str):
        return f"string {short(repr(value))}"
    if isinstance(value, list):
        return f"array of {len(value)}"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _format_exception(exc: BaseException, tp: Any) -> str:
    """Phrase one structuring failure (``cattrs.transform_error`` adds where it happened)."""
    if isinstance(exc, Invalid):
        return str(exc)
    if isinstance(exc, ForbiddenExtraKeysError):
        keys = ", ".join(sorted(repr(key) for key in exc.extra_fields))
        return f"unexpected key(s) {short(keys)}"
    if isinstance(exc, KeyError):
        return "missing required field"
    inner = optional_inner(tp)
    if isinstance(exc, (AttributeError, TypeError)) and attrs.has(inner):
        # The generated attrs hook indexes and calls .keys() on its input: it was not an object.
        return f"expected an object for {inner.__name__}"
    if tp is not None:
        return f"invalid {type_name(tp)}: {type(exc).__name__}: {short(str(exc))}"
    return f"{type(exc).__name__}: {short(str(exc))}"


def explain(exc: BaseException, path: str) -> str:
    if isinstance(exc, (ClassValidationError, IterableValidationError)):
        errors = cattrs.transform_error(exc, path, _format_exception)
    else:
        errors = [f"{_format_exception(exc, None)} @ {path}"]
    shown = "; ".join(errors[:5])
    return shown + (f"; and {len(errors) - 5} more" if len(errors) > 5 else "")


def first_non_finite(value: Any, path: str) -> str | None:
    """Where the first NaN or infinity sits in unstructured data, or None if there is none."""
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{path} = {value!r}"
    if isinstance(value, dict):
        for key, item in value.items():
            found = first_non_finite(item, f"{path}.{key}")
            if found is not None:
                return found
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found = first_non_finite(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


