"""Generate the book's API reference from the docstrings of every name in ``trio_reactive.__all__``.

    python book/generate_api.py           # rewrite book/src/api-reference.md
    python book/generate_api.py --check   # exit 1 if the committed page is out of date

The page is derived, never edited by hand: ``tests/test_book.py`` regenerates it and fails when
the committed copy differs or a public name has no docstring, so it cannot drift from the code.
Type aliases (``Processor``, ``Event``) are documented by the string literal that follows their
assignment, as Sphinx reads attribute docstrings.
"""

from __future__ import annotations

import ast
import enum
import importlib
import inspect
import itertools
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "book" / "src" / "api-reference.md"
#: Code lines of the book must fit the rendered page.
WIDTH = 88

HEADER = """\
# API reference

Every public name of `trio_reactive` (what `import trio_reactive as tr` gives), generated from
the docstrings by `book/generate_api.py`; a test keeps this page and the code in step. The
chapters explain how the pieces fit; this page is for looking one up.
"""

SECTIONS = (
    ("Servers and clients", "serving"),
    ("Protocols, processors and services", "declaring"),
    ("Configuration", "config"),
    ("Events and statistics", "events"),
    ("Wire formats", "wire"),
    ("Errors", "errors"),
)


def _section(name: str, value: Any) -> str:
    module = getattr(value, "__module__", "") or ""
    if isinstance(value, type) and issubclass(value, BaseException):
        return "errors"
    if module.endswith((".events", ".stats")) or name == "Event":
        return "events"
    if module.endswith(".config"):
        return "config"
    if ".wire." in module or name in {"Codec", "Serde"}:
        return "wire"
    if module.endswith((".protocol", ".processor", ".composite")) or name == "Processor":
        return "declaring"
    return "serving"


# -- docstrings --------------------------------------------------------------------------------

_ROLE = re.compile(r":(?:class|func|meth|attr|data|exc|mod):`~?(?:[\w.]*\.)?([^`<>]+?)`")
_LITERAL = re.compile(r"``([^`]+)``")


def markdown(doc: str) -> str:
    """A docstring as Markdown: reST roles and double-backtick literals become code spans."""
    text = inspect.cleandoc(doc)
    text = _ROLE.sub(lambda m: f"`{m.group(1)}`", text)
    return _LITERAL.sub(lambda m: f"`{m.group(1)}`", text)


def alias_docstrings() -> dict[str, str]:
    """``NAME = ...`` followed by a string literal, at the top level of a package module."""
    found: dict[str, str] = {}
    package = ROOT / "trio_reactive"
    for path in sorted(package.rglob("*.py")):
        body = ast.parse(path.read_text(encoding="utf-8")).body
        for node, after in itertools.pairwise(body):
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                found[node.targets[0].id] = after.value.value
    return found


def docstring(name: str, value: Any, aliases: dict[str, str]) -> str | None:
    """The name's own docstring (not one inherited from a base class or a typing construct)."""
    if isinstance(value, type) or inspect.isfunction(value) or inspect.ismodule(value):
        own = value.__dict__.get("__doc__") if isinstance(value, type) else value.__doc__
        return own or None
    return aliases.get(name)


# -- signatures --------------------------------------------------------------------------------


def _annotation(annotation: Any) -> str:
    if isinstance(annotation, str):
        return annotation
    return inspect.formatannotation(annotation)


def _parameter(parameter: inspect.Parameter, defaults: dict[str, str]) -> str:
    text = parameter.name
    if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
        text = "*" + text
    elif parameter.kind is inspect.Parameter.VAR_KEYWORD:
        text = "**" + text
    if parameter.annotation is not inspect.Parameter.empty:
        text += f": {_annotation(parameter.annotation)}"
    if parameter.name in defaults:
        text += f" = {defaults[parameter.name]}"
    elif parameter.default is not inspect.Parameter.empty:
        default = parameter.default
        shown = default.name if isinstance(default, enum.Enum) else repr(default)
        if " at 0x" in shown or shown.startswith("<"):
            shown = "..."
        text += f" = {shown}" if ":" in text else f"={shown}"
    return text


def signature(
    prefix: str, function: Any, *, skip_first: bool = False, defaults: dict[str, str] | None = None
) -> str | None:
    """``prefix(parameters) -> return``, one parameter per line when it does not fit.

    An ``async def`` reads ``async name(...)``; an async context manager reads ``async with
    name(...) as Thing``, which is how it is used.
    """
    try:
        found = inspect.signature(function)
    except (TypeError, ValueError):
        return None
    wrapped = getattr(function, "__wrapped__", None)
    context_manager = wrapped is not None and inspect.isasyncgenfunction(wrapped)
    if context_manager:
        prefix = f"async with {prefix}"
    elif inspect.iscoroutinefunction(function):
        prefix = f"async {prefix}"
    parameters = list(found.parameters.values())
    if skip_first:
        parameters = parameters[1:]
    parts: list[str] = []
    marked_keyword_only = False
    for parameter in parameters:
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY and not marked_keyword_only:
            parts.append("*")
            marked_keyword_only = True
        elif parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            marked_keyword_only = True
        parts.append(_parameter(parameter, defaults or {}))
    returns = ""
    if found.return_annotation is not inspect.Signature.empty:
        returned = _annotation(found.return_annotation)
        yielded = re.fullmatch(r"AsyncIterator\[(.*)\]", returned)
        returns = f" as {yielded.group(1)}" if context_manager and yielded else f" -> {returned}"
    one_line = f"{prefix}({', '.join(parts)}){returns}"
    if len(one_line) <= WIDTH:
        return one_line
    return "\n".join([f"{prefix}(", *(f"    {part}," for part in parts), f"){returns}"])


# -- classes -----------------------------------------------------------------------------------


def factory_defaults(value: Any) -> dict[str, str]:
    """An attrs field built by a factory shows the call (``RetryPolicy.wait()``), not NOTHING."""
    if not (isinstance(value, type) and attrs.has(value)):
        return {}
    shown = {}
    for field in attrs.fields(value):
        if isinstance(field.default, attrs.Factory):  # type: ignore[arg-type]
            factory = field.default.factory
            shown[field.alias or field.name] = f"{factory.__qualname__}()"
    return shown


def members(cls: type) -> Iterator[tuple[str, Any]]:
    """Public methods and properties the class itself defines, in source order."""
    for member_name, member in cls.__dict__.items():
        if member_name.startswith("_"):
            continue
        if isinstance(member, (staticmethod, classmethod)):
            yield member_name, member.__func__
        elif isinstance(member, property) or inspect.isfunction(member):
            yield member_name, member


def _member_entry(cls: type, member_name: str, member: Any) -> list[str]:
    lines = []
    if isinstance(member, property):
        lines.append(f"#### `{cls.__name__}.{member_name}` (property)\n")
        doc = member.__doc__
    else:
        skip = not isinstance(cls.__dict__[member_name], staticmethod)
        shown = signature(member_name, member, skip_first=skip)
        lines.append(f"#### `{cls.__name__}.{member_name}`\n")
        if shown:
            lines += ["```text", shown, "```\n"]
        doc = member.__doc__
    if doc:
        lines.append(markdown(doc) + "\n")
    return lines


def missing_member_docstrings(cls: type) -> list[str]:
    """``Class.member`` for each public member without a docstring."""
    return [f"{cls.__name__}.{name}" for name, member in members(cls) if not member.__doc__]


def entry(name: str, value: Any, aliases: dict[str, str]) -> list[str]:
    """The page's section for one public name."""
    lines = [f"### `{name}`\n"]
    is_exception = isinstance(value, type) and issubclass(value, BaseException)
    if inspect.isfunction(value) or (isinstance(value, type) and attrs.has(value)):
        shown = signature(name, value, defaults=factory_defaults(value))
        if shown:
            lines += ["```text", shown, "```\n"]
    elif isinstance(value, type) and is_exception:
        bases = ", ".join(base.__name__ for base in value.__bases__)
        lines.append(f"*Exception, a subclass of {bases}.*\n")
    doc = docstring(name, value, aliases)
    if doc:
        lines.append(markdown(doc) + "\n")
    if isinstance(value, type) and issubclass(value, enum.Enum):
        lines.append("Members: " + ", ".join(f"`{member.name}`" for member in value) + ".\n")
    elif isinstance(value, type) and not is_exception:
        for member_name, member in members(value):
            lines += _member_entry(value, member_name, member)
    return lines


def generate() -> str:
    """The whole page."""
    package = importlib.import_module("trio_reactive")
    aliases = alias_docstrings()
    grouped: dict[str, list[str]] = {key: [] for _, key in SECTIONS}
    for name in sorted(package.__all__, key=str.lower):
        grouped[_section(name, getattr(package, name))].append(name)
    lines = [HEADER]
    for title, key in SECTIONS:
        lines.append(f"## {title}\n")
        for name in grouped[key]:
            lines += entry(name, getattr(package, name), aliases)
    return "\n".join(lines).rstrip() + "\n"


def missing_docstrings() -> list[str]:
    """Public names, and public members of public classes, that have no docstring."""
    package = importlib.import_module("trio_reactive")
    aliases = alias_docstrings()
    missing = []
    for name in package.__all__:
        value = getattr(package, name)
        if not docstring(name, value, aliases):
            missing.append(name)
        if isinstance(value, type) and not issubclass(value, (BaseException, enum.Enum)):
            missing += missing_member_docstrings(value)
    return sorted(missing)


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    page = generate()
    if argv[:1] == ["--check"]:
        if PAGE.read_text(encoding="utf-8") != page:
            print(f"{PAGE.relative_to(ROOT)} is out of date: run python book/generate_api.py")
            return 1
        return 0
    PAGE.write_text(page, encoding="utf-8")
    print(f"wrote {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
