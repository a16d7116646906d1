"""The package's import graph: no cycles, the layering DESIGN promises, no hidden imports in functions.

Every module of ``geoloc_embed`` is parsed with ``ast`` (nothing is imported to build the graph).
An edge A -> B means that importing A imports B: ``import geoloc_embed.x.y`` and
``from geoloc_embed.x import y`` (relative forms resolved) reach the module ``geoloc_embed.x.y`` when
it is one, else the package ``geoloc_embed.x`` (a name its ``__init__`` defines), plus every package
``__init__`` on the way that is not already an ancestor of A (those run before A anyway).

* module level: statements outside function bodies (class bodies and ``try``/``if`` blocks count);
  ``if TYPE_CHECKING:`` blocks do not run and are kept apart;
* deferred: imports inside functions. They must not hide a cycle, so the cycle check runs on the
  graph with them, and each one is listed in ``DEFERRED_IMPORTS`` with the reason it stays deferred.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIR = REPO_ROOT / "geoloc_embed"
PACKAGE = "geoloc_embed"

#: Every intra-package import inside a function, as (importing module, imported module) -> why it is
#: not at module level. A new one fails ``test_every_deferred_import_is_listed``: move it to module
#: level (the usual answer: the package's modules are cheap to import once ``import geoloc_embed``
#: ran), or, when it defers a heavy optional dependency or a heavy subpackage for start-up time, add
#: it here and say why in a comment at the import.
DEFERRED_IMPORTS: dict[tuple[str, str], str] = {
}

#: The layers below the model (DESIGN section 8): nothing in them imports ``geoloc_embed.encoders``
#: or anything that does (the package root, the trainer, the bench, the CLI, export ...).
BELOW_THE_MODEL = ("config", "coords", "zoo", "convert", "io", "errors")

#: ``import geoloc_embed`` must not load these (start-up time; they are imported on use).
NOT_ON_IMPORT = ("geoloc_embed.trainer", "geoloc_embed.bench", "geoloc_embed.cli",
                 "geoloc_embed.export", "geoloc_embed.plot", "geoloc_embed.integrations")
HEAVY_THIRD_PARTY = ("huggingface_hub", "pyproj", "pandas")


@dataclass
class ImportGraph:
    """The package's modules and their intra-package imports, by kind."""

    modules: set[str]
    module_level: dict[str, set[str]] = field(default_factory=dict)
    deferred: dict[str, set[str]] = field(default_factory=dict)
    type_only: dict[str, set[str]] = field(default_factory=dict)
    #: (importer, imported) -> line numbers of the deferred imports
    deferred_lines: dict[tuple[str, str], list[int]] = field(default_factory=dict)

    def edges(self, *kinds: dict[str, set[str]]) -> dict[str, set[str]]:
        merged: dict[str, set[str]] = {m: set() for m in self.modules}
        for kind in kinds:
            for source, targets in kind.items():
                merged[source] |= targets
        return merged


def module_name(path: Path, package_dir: Path = PACKAGE_DIR) -> tuple[str, bool]:
    """(dotted name, is a package ``__init__``) of a file under ``package_dir``."""
    parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def _ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _targets(importer: str, imported: str, names: Iterable[str], modules: set[str]) -> set[str]:
    """The package's modules that importing ``names`` from ``imported`` runs, seen from ``importer``.

    ``imported.name`` when that is a module, else ``imported`` itself (a name its ``__init__`` or
    module body defines), plus the packages on the way that are not ancestors of ``importer``.
    """
    own = set(_ancestors(importer))
    reached = {f"{imported}.{name}" if f"{imported}.{name}" in modules else imported for name in names}
    for target in list(reached):
        reached |= {a for a in _ancestors(target) if a not in own}
    return {t for t in reached if t in modules and t != importer}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


def build_graph(package_dir: Path = PACKAGE_DIR) -> ImportGraph:
    """Parse every module under ``package_dir`` (the ``geoloc_embed`` folder) into an ``ImportGraph``."""
    names = {path: module_name(path, package_dir) for path in sorted(package_dir.rglob("*.py"))}
    graph = ImportGraph(modules={name for name, _ in names.values()})

    for path, (name, is_package) in names.items():
        package = name.split(".") if is_package else name.split(".")[:-1]

        def absolute(node: ast.ImportFrom, package: list[str] = package) -> str:
            if node.level == 0:
                return node.module or ""
            anchor = package[: len(package) - (node.level - 1)]
            return ".".join(anchor + ([node.module] if node.module else []))

        def record(node: ast.Import | ast.ImportFrom, in_function: bool, type_only: bool, name: str = name) -> None:
            found: set[str] = set()
            if isinstance(node, ast.ImportFrom):
                imported = absolute(node)
                if imported.split(".")[0] == PACKAGE:
                    found = _targets(name, imported, [alias.name for alias in node.names], graph.modules)
                    subs = [f"{imported}.{a.name}" for a in node.names if f"{imported}.{a.name}" in graph.modules]
                    direct = subs[0] if len(subs) == len(node.names) == 1 else imported
            else:
                for alias in node.names:
                    if alias.name.split(".")[0] == PACKAGE:
                        parent, _, last = alias.name.rpartition(".")
                        found |= _targets(name, parent or alias.name, [last], graph.modules)
                        direct = alias.name
            if not found:
                return
            kind = graph.type_only if type_only else graph.deferred if in_function else graph.module_level
            kind.setdefault(name, set()).update(found)
            if kind is graph.deferred:
                graph.deferred_lines.setdefault((name, direct), []).append(node.lineno)

        def handle(node: ast.AST, in_function: bool, type_only: bool) -> None:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                record(node, in_function, type_only)
            elif isinstance(node, ast.If) and _is_type_checking(node.test):
                for stmt in node.body:
                    handle(stmt, in_function, True)
                for stmt in node.orelse:
                    handle(stmt, in_function, type_only)
            else:
                inner = in_function or isinstance(node, _FUNCTIONS)
                for child in ast.iter_child_nodes(node):
                    handle(child, inner, type_only)

        handle(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)), False, False)
    return graph


def find_cycle(edges: dict[str, set[str]]) -> Optional[list[str]]:
    """One cycle of the directed graph as [a, b, ..., a], or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for start in sorted(edges):
        if state.get(start):
            continue
        path: list[str] = [start]
        stack = [iter(sorted(edges[start]))]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(edges.get(nxt, ()))))
    return None


def closure(edges: dict[str, set[str]], start: str) -> dict[str, str]:
    """Every module reachable from ``start``, each mapped to the module it was reached from."""
    seen: dict[str, str] = {}
    todo = [start]
    while todo:
        current = todo.pop()
        for target in sorted(edges.get(current, ())):
            if target not in seen and target != start:
                seen[target] = current
                todo.append(target)
    return seen


def chain(reached_from: dict[str, str], start: str, end: str) -> str:
    """``start -> ... -> end`` along the edges ``closure`` followed."""
    steps = [end]
    while steps[-1] != start:
        steps.append(reached_from[steps[-1]])
    return " -> ".join(reversed(steps))


def _in(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


@pytest.fixture(scope="module")
def graph() -> ImportGraph:
    return build_graph()


# --------------------------------------------------------------------------- the graph builder itself
def test_builder_resolves_relative_imports_packages_and_finds_cycles(tmp_path):
    pkg = tmp_path / PACKAGE
    (pkg / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "from .a import f\n",
        "a.py": "from . import b\nfrom .sub import c\n\ndef f():\n    from .sub.c import g\n",
        "b.py": "import geoloc_embed.sub.c\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import a\n",
        "sub/__init__.py": "",
        "sub/c.py": "from .. import b\nfrom ..a import f\n\ndef g():\n    from ..b import x\n",
    }
    for name, text in files.items():
        (pkg / name).write_text(text, encoding="utf-8")
    g = build_graph(pkg)
    assert g.modules == {"geoloc_embed", "geoloc_embed.a", "geoloc_embed.b", "geoloc_embed.sub", "geoloc_embed.sub.c"}
    assert g.module_level["geoloc_embed"] == {"geoloc_embed.a"}
    assert g.module_level["geoloc_embed.a"] == {"geoloc_embed.b", "geoloc_embed.sub", "geoloc_embed.sub.c"}
    assert g.module_level["geoloc_embed.b"] == {"geoloc_embed.sub", "geoloc_embed.sub.c"}
    assert g.module_level["geoloc_embed.sub.c"] == {"geoloc_embed.a", "geoloc_embed.b"}
    assert g.type_only["geoloc_embed.b"] == {"geoloc_embed.a"}
    assert g.deferred["geoloc_embed.a"] == {"geoloc_embed.sub", "geoloc_embed.sub.c"}
    assert set(g.deferred_lines) == {("geoloc_embed.a", "geoloc_embed.sub.c"), ("geoloc_embed.sub.c", "geoloc_embed.b")}
    cycle = find_cycle(g.edges(g.module_level))
    assert cycle is not None and cycle[0] == cycle[-1] and "geoloc_embed.sub.c" in cycle
    assert find_cycle({"x": {"y"}, "y": {"z"}, "z": set()}) is None


# --------------------------------------------------------------------------- the package
def test_no_import_cycle_at_module_level(graph):
    cycle = find_cycle(graph.edges(graph.module_level))
    assert cycle is None, "import cycle at module level: " + " -> ".join(cycle or [])


def test_deferred_imports_hide_no_cycle(graph):
    cycle = find_cycle(graph.edges(graph.module_level, graph.deferred))
    assert cycle is None, ("import cycle through imports inside functions: " + " -> ".join(cycle or [])
                           + "; break it instead of deferring the import")


def test_every_deferred_import_is_listed(graph):
    found = set(graph.deferred_lines)
    new = sorted(found - set(DEFERRED_IMPORTS))
    stale = sorted(set(DEFERRED_IMPORTS) - found)
    assert not new, ("intra-package imports inside functions that DEFERRED_IMPORTS does not list (move them to "
                     "module level, or list them with the reason they must stay deferred): "
                     + "; ".join(f"{a} line {graph.deferred_lines[(a, b)]} imports {b}" for a, b in new))
    assert not stale, f"DEFERRED_IMPORTS lists imports that are gone; remove them: {stale}"


@pytest.mark.parametrize("layer", BELOW_THE_MODEL)
def test_layers_below_the_model_never_import_it(graph, layer):
    edges = graph.edges(graph.module_level, graph.deferred, graph.type_only)
    offenders = []
    for module in sorted(m for m in graph.modules if _in(m, f"{PACKAGE}.{layer}")):
        reached = closure(edges, module)
        for target in sorted(reached):
            if _in(target, f"{PACKAGE}.encoders"):
                offenders.append(chain(reached, module, target))
                break
    assert not offenders, "imports the model layer (geoloc_embed.encoders): " + "; ".join(offenders)


def test_zoo_does_not_import_encoders_directly(graph):
    for module in (m for m in graph.modules if _in(m, f"{PACKAGE}.zoo")):
        for kind in (graph.module_level, graph.deferred, graph.type_only):
            direct = sorted(t for t in kind.get(module, ()) if _in(t, f"{PACKAGE}.encoders"))
            assert not direct, f"{module} imports {direct}"


def test_import_geoloc_embed_leaves_the_heavy_subpackages_alone_statically(graph):
    reached = closure(graph.edges(graph.module_level), PACKAGE)
    heavy = [chain(reached, PACKAGE, t) for t in sorted(reached) if any(_in(t, h) for h in NOT_ON_IMPORT)]
    assert not heavy, "import geoloc_embed imports: " + "; ".join(heavy)


def test_import_geoloc_embed_loads_no_heavy_module():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    watched = HEAVY_THIRD_PARTY + NOT_ON_IMPORT
    code = ("import json, sys\nimport geoloc_embed\n"
            f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY_THIRD_PARTY!r} "
            f"or any(m == w or m.startswith(w + '.') for w in {NOT_ON_IMPORT!r}))))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          cwd=str(REPO_ROOT), timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    assert loaded == [], f"import geoloc_embed loaded {loaded} (watched: {watched})"


def test_the_encoder_stages_import_one_way(graph):
    # forward -> position encoder -> network -> head: the position encoders and the networks never
    # import the model (nor each other), the model imports both.
    edges = graph.edges(graph.module_level, graph.deferred)
    model = f"{PACKAGE}.encoders.model"
    for module in sorted(graph.modules):
        is_positional = _in(module, f"{PACKAGE}.encoders.positional")
        is_network = module in (f"{PACKAGE}.encoders.networks", f"{PACKAGE}.encoders.siren")
        if not (is_positional or is_network):
            continue
        reached = closure(edges, module)
        assert model not in reached, chain(reached, module, model)
        if is_positional:
            assert f"{PACKAGE}.encoders.networks" not in reached, module
        else:
            assert not any(_in(t, f"{PACKAGE}.encoders.positional") for t in reached), module
    assert {f"{PACKAGE}.encoders.networks", f"{PACKAGE}.encoders.positional"} <= graph.module_level[model]


def _is_sys_path(node: ast.AST) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "path" and isinstance(node.value, ast.Name)
            and node.value.id == "sys")


def _edits_sys_path(node: ast.AST) -> bool:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        edits = node.func.attr in ("insert", "append", "extend", "remove", "pop", "clear")
        return edits and _is_sys_path(node.func.value)
    if isinstance(node, ast.Subscript) and isinstance(node.ctx, (ast.Store, ast.Del)):
        return _is_sys_path(node.value)
    return isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and _is_sys_path(node)


def test_no_script_edits_sys_path():
    # Benchmarks run as ``python -m benchmarks.<name>``, tests get the repository root from pytest's
    # ``pythonpath`` option and helper scripts live beside the modules they import.
    offenders = []
    scripts = [*REPO_ROOT.glob("*.py")]
    for folder in ("geoloc_embed", "benchmarks", "tests", "examples", "recipes", "docs"):
        scripts += sorted((REPO_ROOT / folder).rglob("*.py"))
    for path in scripts:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        offenders += [f"{path.relative_to(REPO_ROOT)}:{getattr(node, 'lineno', '?')}" for node in ast.walk(tree)
                      if _edits_sys_path(node)]
    assert not offenders, f"sys.path is modified at {offenders}"
