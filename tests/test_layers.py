"""The layers of trio_reactive, checked on the source: every module is parsed with ``ast``.

From the bottom up:

0. ``wire/``: bytes and messages (framing, serdes, codecs).  It imports nothing of
   trio_reactive outside ``wire/``, and not trio: it can be used, and tested, with no event
   loop.
1. the core: ``protocol``, ``stage``, ``config``, ``errors``, ``events``, ``processor``: what a
   service *is*, and nothing about running one (and ``_unwrap``, which the engine uses).
2. ``engine/``: running one connection of a service.
3. the ends: ``server``, ``client``, ``composite``, and what serves them (``_sockets``,
   ``serving``, ``stats``, ``_lifecycle``).
4. the tools built on the ends: ``testing``, the command line (``cli``, ``__main__``).
5. the package itself (``trio_reactive/__init__.py``), which gathers the public names.

Every module is given its layer in :data:`LAYERS` (a module under a listed package has that
package's): a new module fails :func:`test_every_module_has_a_layer` until it has one.

A module may import from its own layer and the layers below it, never above; and no chain of
imports closes on itself while the package is being imported.

An import inside an ``if TYPE_CHECKING:`` block is type-only (it never runs) and allowed
anywhere: that is how a lower layer names a type of a higher one (``events`` names ``Peer``).
An import inside a function runs later, at call time: it still counts for the layers, but not
for import cycles.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

PACKAGE = "trio_reactive"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE

WIRE, CORE, ENGINE, ENDS, TOOLS, FACADE = range(6)
LAYER_NAMES = ("wire", "core", "engine", "ends", "tools", "package")

#: The layer of each module, by name; a package's entry covers all that is under it.
LAYERS = {
    "trio_reactive.wire": WIRE,
    "trio_reactive.protocol": CORE,
    "trio_reactive.stage": CORE,
    "trio_reactive.config": CORE,
    "trio_reactive.errors": CORE,
    "trio_reactive.events": CORE,
    "trio_reactive.processor": CORE,
    "trio_reactive.engine": ENGINE,
    "trio_reactive.server": ENDS,
    "trio_reactive.client": ENDS,
    "trio_reactive.composite": ENDS,
    "trio_reactive._sockets": ENDS,
    "trio_reactive._lifecycle": ENDS,
    "trio_reactive.stats": ENDS,
    "trio_reactive.serving": ENDS,
    "trio_reactive._unwrap": CORE,
    "trio_reactive._logs": CORE,
    "trio_reactive._typing": CORE,
    "trio_reactive.broadcast": ENDS,
    "trio_reactive.connecting": ENDS,
    "trio_reactive._connect": ENDS,
    "trio_reactive._spare": ENDS,
    "trio_reactive._unix": ENDS,
    "trio_reactive.workers": TOOLS,
    "trio_reactive.testing": TOOLS,
    "trio_reactive.cli": TOOLS,
    "trio_reactive.__main__": TOOLS,
}


@attrs.frozen
class Import:
    """One module an import statement brings in, and where that statement is."""

    importer: str
    target: str
    file: str
    line: int
    statement: str
    #: Runs while the importer itself is being imported (module level, not type-only).
    at_import_time: bool

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: `{self.statement}`"


def find_modules(root: Path, package: str) -> dict[str, Path]:
    """Every module of the package under ``root``, by dotted name."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = [package, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _import_statements(tree: ast.Module) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement that can run, and whether it runs at import time.

    The bodies of ``if TYPE_CHECKING:`` are left out (their ``else:`` is kept); function
    bodies run later, so their imports are not at import time.
    """

    def walk(nodes: list[ast.stmt], at_import_time: bool) -> Iterator[tuple[ast.AST, bool]]:
        for node in nodes:
            if isinstance(node, ast.Import | ast.ImportFrom):
                yield node, at_import_time
            elif isinstance(node, ast.If) and _is_type_checking(node.test):
                yield from walk(node.orelse, at_import_time)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                yield from walk(node.body, False)
            else:
                for field in ("body", "orelse", "finalbody", "handlers", "cases"):
                    for child in getattr(node, field, []):
                        if isinstance(child, ast.stmt):
                            yield from walk([child], at_import_time)
                        else:  # an except handler or a match case: statements inside
                            yield from walk(child.body, at_import_time)

    for node, at_import_time in walk(tree.body, True):
        assert isinstance(node, ast.Import | ast.ImportFrom)
        yield node, at_import_time


def _resolve(importer: str, is_package: bool, level: int, module: str | None) -> str:
    """The absolute name of ``from <level dots><module> import ...`` in ``importer``."""
    if not level:
        return module or ""
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    if level > 1:
        base = base[: -(level - 1)]
    return ".".join([*base, module] if module else base)


def find_imports(modules: dict[str, Path], root: Path) -> list[Import]:
    """Every module each module imports, package ``__init__`` files passed through included.

    ``import a.b.c`` runs ``a``, ``a.b`` and ``a.b.c``; ``from p import x`` runs ``p`` and,
    when ``p.x`` is a module, ``p.x`` (else it takes the name ``x`` from ``p``).  A package the
    importer is inside is already being imported, so it counts only when named for itself
    (``import trio_reactive``, or a name taken from it), not as the parent of another target.
    """
    found = []
    for importer, path in modules.items():
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source, str(path))
        is_package = path.name == "__init__.py"
        parts = importer.split(".")
        inside = {".".join(parts[:n]) for n in range(1, len(parts) + is_package)}
        file = path.relative_to(root.parent).as_posix()
        for node, at_import_time in _import_statements(tree):
            statement = ast.get_source_segment(source, node) or ast.unparse(node)
            statement = " ".join(statement.split())
            named: list[str] = []  # imported for themselves
            if isinstance(node, ast.Import):
                named = [alias.name for alias in node.names]
            else:
                base = _resolve(importer, is_package, node.level, node.module)
                for alias in node.names:
                    submodule = f"{base}.{alias.name}"
                    named.append(submodule if submodule in modules else base)
                if base not in inside:
                    named.append(base)
            targets: list[str] = []
            for name in named:
                pieces = name.split(".")
                parents = [".".join(pieces[:n]) for n in range(1, len(pieces))]
                for target in [*(p for p in parents if p not in inside), name]:
                    if target not in targets:
                        targets.append(target)
            found += [
                Import(importer, target, file, node.lineno, statement, at_import_time)
                for target in targets
            ]
    return found


def layer_of(module: str) -> int | None:
    """The layer of ``module``: its own entry, or that of the package it is in (not the
    top-level package's: a new module must be given a layer)."""
    if module == PACKAGE:
        return FACADE
    while "." in module:
        if module in LAYERS:
            return LAYERS[module]
        module = module.rpartition(".")[0]
    return None


def layer_violations(imports: list[Import]) -> list[str]:
    """Each import of a module of a higher layer, and anything wire/ may not import."""
    problems = []
    for found in imports:
        own = layer_of(found.importer)
        if found.target.split(".")[0] != PACKAGE:
            if own == WIRE and found.target.split(".")[0] == "trio":
                problems.append(f"{found}: wire/ must not import trio ({found.target})")
            continue
        theirs = layer_of(found.target)
        if own is None or theirs is None:
            continue  # reported by test_every_module_has_a_layer
        if own == WIRE and theirs != WIRE:
            problems.append(
                f"{found}: wire/ imports {found.target}, outside wire/ "
                f"(the {LAYER_NAMES[theirs]} layer)"
            )
        elif theirs > own:
            problems.append(
                f"{found}: {found.importer} (the {LAYER_NAMES[own]} layer) imports "
                f"{found.target}, of the {LAYER_NAMES[theirs]} layer above it"
            )
    return problems


def import_cycles(imports: list[Import]) -> list[list[Import]]:
    """Cycles among the package's modules through imports run at import time.

    One cycle per strongly connected component, found by a depth-first search within it.
    """
    graph: dict[str, list[Import]] = {}
    for found in imports:
        if found.at_import_time and found.target.split(".")[0] == PACKAGE:
            graph.setdefault(found.importer, []).append(found)
    # Tarjan's strongly connected components, iteratively.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, 0)]
        while work:
            node, position = work.pop()
            if position == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            edges = graph.get(node, [])
            if position < len(edges):
                work.append((node, position + 1))
                target = edges[position].target
                if target not in index:
                    work.append((target, 0))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1 or any(e.target == node for e in edges):
                    components.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return [_cycle_in(component, graph) for component in components]


def _cycle_in(component: set[str], graph: dict[str, list[Import]]) -> list[Import]:
    """A path of imports from the component's first module back to itself."""
    start = min(component)
    paths: list[tuple[str, list[Import]]] = [(start, [])]
    seen = set()
    while paths:
        node, path = paths.pop(0)
        for found in graph.get(node, []):
            if found.target == start:
                return [*path, found]
            if found.target in component and found.target not in seen:
                seen.add(found.target)
                paths.append((found.target, [*path, found]))
    raise AssertionError(f"no cycle through {start} in {sorted(component)}")


def _describe(cycle: list[Import]) -> str:
    chain = " -> ".join([cycle[0].importer, *(found.target for found in cycle)])
    return f"{chain}\n" + "\n".join(f"    {found}" for found in cycle)


# ---------------------------------------------------------------------- the package


MODULES = find_modules(ROOT, PACKAGE)
IMPORTS = find_imports(MODULES, ROOT)


def test_every_module_has_a_layer() -> None:
    missing = sorted(name for name in MODULES if layer_of(name) is None)
    assert not missing, f"modules in no layer (add them to LAYERS in {__name__}): {missing}"


def _violations_of(layers: set[int]) -> list[str]:
    return layer_violations([i for i in IMPORTS if layer_of(i.importer) in layers])


def test_wire_imports_nothing_outside_wire_and_not_trio() -> None:
    problems = _violations_of({WIRE})
    assert not problems, "\n".join(problems)


def test_the_core_imports_neither_the_engine_nor_the_ends() -> None:
    problems = _violations_of({CORE})
    assert not problems, "\n".join(problems)


def test_the_engine_imports_neither_the_ends_nor_testing() -> None:
    problems = _violations_of({ENGINE})
    assert not problems, "\n".join(problems)


def test_the_ends_import_neither_testing_nor_the_tools() -> None:
    problems = _violations_of({ENDS, TOOLS, FACADE})
    assert not problems, "\n".join(problems)


def test_no_import_cycles() -> None:
    cycles = import_cycles(IMPORTS)
    assert not cycles, "import cycles:\n" + "\n".join(_describe(cycle) for cycle in cycles)


def test_the_check_sees_the_package() -> None:
    """Guards against a check that passes because it looked at nothing."""
    assert {"trio_reactive.wire.codec", "trio_reactive.engine.streamed"} <= set(MODULES)
    engine_to_wire = [
        found
        for found in IMPORTS
        if found.importer == "trio_reactive.engine.streamed"
        and found.target == "trio_reactive.wire.codec"
    ]
    assert engine_to_wire and engine_to_wire[0].at_import_time


# ---------------------------------------------------------------------- the check itself


def _package(tmp_path: Path, files: dict[str, str]) -> list[Import]:
    root = tmp_path / PACKAGE
    for name, source in {"__init__.py": "", **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source), encoding="utf-8")
    return find_imports(find_modules(root, PACKAGE), root)


def test_relative_imports_resolve_to_the_module_imported(tmp_path: Path) -> None:
    imports = _package(
        tmp_path,
        {
            "engine/__init__.py": "from .peer import Peer\n",
            "engine/peer.py": "from ..events import Event\nfrom . import queue\n",
            "engine/queue.py": "",
            "events.py": "import trio_reactive.wire.codec\n",
            "wire/__init__.py": "",
            "wire/codec.py": "",
        },
    )
    edges = {(found.importer, found.target) for found in imports}
    assert edges == {
        ("trio_reactive.engine", "trio_reactive.engine.peer"),
        ("trio_reactive.engine.peer", "trio_reactive.events"),
        ("trio_reactive.engine.peer", "trio_reactive.engine.queue"),
        ("trio_reactive.events", "trio_reactive.wire"),
        ("trio_reactive.events", "trio_reactive.wire.codec"),
    }


def test_type_only_imports_are_allowed_and_function_imports_are_not(tmp_path: Path) -> None:
    imports = _package(
        tmp_path,
        {
            "events.py": """
                from typing import TYPE_CHECKING
                if TYPE_CHECKING:
                    from .engine import Peer
                else:
                    from .client import Client
                def late():
                    from .server import Server
            """,
            "engine/__init__.py": "",
            "client.py": "",
            "server.py": "",
        },
    )
    problems = layer_violations(imports)
    assert len(problems) == 2
    assert "events.py:6: `from .client import Client`" in problems[0]
    assert "the core layer) imports trio_reactive.client, of the ends layer" in problems[0]
    assert "events.py:8: `from .server import Server`" in problems[1]
    assert not any("engine" in problem for problem in problems)


def test_wire_may_import_neither_the_package_nor_trio(tmp_path: Path) -> None:
    imports = _package(
        tmp_path,
        {
            "wire/__init__.py": "",
            "wire/codec.py": "import trio.lowlevel\nfrom ..errors import DecodeError\n",
            "errors.py": "",
        },
    )
    problems = layer_violations(imports)
    assert len(problems) == 3, problems  # trio, trio.lowlevel, trio_reactive.errors
    assert "wire/ must not import trio (trio.lowlevel)" in problems[1]
    assert "`from ..errors import DecodeError`: wire/ imports trio_reactive.errors" in problems[2]


def test_a_cycle_is_named_import_by_import(tmp_path: Path) -> None:
    imports = _package(
        tmp_path,
        {
            "engine/__init__.py": "",
            "engine/a.py": "from .b import B\n",
            "engine/b.py": "try:\n    from .c import C\nexcept ImportError:\n    pass\n",
            "engine/c.py": "from . import a\n",
            "engine/d.py": "from .a import A\ndef f():\n    from .d import D\n",
        },
    )
    cycles = import_cycles(imports)
    assert len(cycles) == 1
    described = _describe(cycles[0])
    assert described.splitlines()[0] == (
        "trio_reactive.engine.a -> trio_reactive.engine.b -> trio_reactive.engine.c"
        " -> trio_reactive.engine.a"
    )
    assert "engine/b.py:2: `from .c import C`" in described


@pytest.mark.parametrize("guard", ["TYPE_CHECKING", "typing.TYPE_CHECKING"])
def test_a_type_only_import_makes_no_cycle(tmp_path: Path, guard: str) -> None:
    imports = _package(
        tmp_path,
        {
            "a.py": "from .b import B\n",
            "b.py": f"import typing\nfrom typing import TYPE_CHECKING\nif {guard}:\n"
            "    from .a import A\n",
        },
    )
    assert import_cycles(imports) == []


def test_a_new_module_needs_a_layer() -> None:
    assert layer_of("trio_reactive.engine.anything") == ENGINE
    assert layer_of("trio_reactive") == FACADE
    assert layer_of("trio_reactive.brand_new") is None
