"""The package's import graph, read statically (ast): no cycles, and the direction table holds.

Every ``import``/``from ... import`` of an ``emu2_eval`` module counts, also those inside
functions (a lazy import is still a dependency). ARCHITECTURE.md shows the same table.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "emu2_eval"

# The layers, lowest first: which emu2_eval packages each package may import (its own modules
# always). Anything not listed is forbidden; the why says what the layer is for. ``cli``, ``api``
# and ``__main__`` sit on top and may import anything. ARCHITECTURE.md shows the same table.
ALLOWED: dict[str, tuple[frozenset[str], str]] = {
    "core": (frozenset(), "errors, registries, requests, hashing, files: imported by every layer"),
    "rundir": (frozenset({"core"}), "the run directory's schema and files: read by every tool"),
    "data": (frozenset({"core", "scoring"}), "dataset loaders: files in, documents out"),
    "tasks": (frozenset({"core", "data", "fewshot"}), "task files are read before anything runs"),
    "fewshot": (
        frozenset({"core", "data", "models", "tasks"}),
        "demonstration selection: encoders may be models, never the engine",
    ),
    "models": (frozenset({"core", "data", "tasks"}), "adapters answer requests; no engine"),
    "scoring": (
        frozenset({"core", "rundir", "tasks"}),
        "a metric scores stored responses, never a model or the engine",
    ),
    "submissions": (frozenset({"core", "data", "scoring", "tasks"}), "server files from samples"),
    "judge": (
        frozenset({"core", "data", "rundir", "scoring", "tasks"}),
        "judge scoring reads run directories",
    ),
    "engine": (
        frozenset(
            {"core", "data", "fewshot", "models", "rundir", "scoring", "submissions", "tasks"}
        ),
        "the engine writes results; reporting and analysis read them",
    ),
    "analysis": (
        frozenset({"core", "reporting", "rundir", "scoring"}),
        "compare and gate read run directories, never run a model",
    ),
    "reporting": (
        frozenset({"core", "engine", "rundir", "scoring", "tasks"}),
        "reports read run directories; the engine never imports them",
    ),
}

# Known exceptions, each with its reason; the test fails when one is no longer needed.
EXCEPTIONS: dict[tuple[str, str], str] = {}


def package_of(module: str) -> str:
    """The layer of ``emu2_eval.<layer>.<...>`` (``""`` for the package itself)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """module -> the emu2_eval modules it imports (names resolved to existing modules)."""
    files = {module_name(p, package): p for p in package.rglob("*.py")}

    def existing(name: str) -> str | None:
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        deps: set[str] = set()
        package_parts = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package_parts[: len(package_parts) - node.level + 1]
                    source = ".".join([*base, node.module] if node.module else base)
                else:
                    source = node.module or ""
                # ``from pkg import sub`` imports the submodule when there is one, else ``pkg``
                targets = [
                    f"{source}.{alias.name}" if f"{source}.{alias.name}" in files else source
                    for alias in node.names
                ]
            else:
                continue
            for target in targets:
                if target == "emu2_eval" or target.startswith("emu2_eval."):
                    resolved = existing(target)
                    if resolved and resolved != module:
                        deps.add(resolved)
        graph[module] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def violations(graph: dict[str, set[str]]) -> list[str]:
    found = []
    for module, deps in sorted(graph.items()):
        layer = package_of(module)
        if layer not in ALLOWED:  # cli, api, __main__: the top (a new package fails the next test)
            continue
        allowed, why = ALLOWED[layer]
        for dep in sorted(deps):
            target = package_of(dep)
            if target in (layer, "") or target in allowed or (module, dep) in EXCEPTIONS:
                continue
            found.append(
                f"{module} imports {dep}: {layer} may import only {sorted(allowed)} ({why})"
            )
    return found


def test_no_import_cycle() -> None:
    assert cycles(import_graph()) == []


def test_imports_point_the_documented_way() -> None:
    graph = import_graph()
    assert violations(graph) == []
    stale = [pair for pair in EXCEPTIONS if pair[1] not in graph.get(pair[0], set())]
    assert stale == [], "exceptions no longer needed: remove them from EXCEPTIONS"


def test_the_checker_sees_cycles_and_lazy_imports(tmp_path: Path) -> None:
    """The same checks on a tiny package: a cycle through a function-level import is found,
    and so is an engine module importing the reporting layer."""
    package = tmp_path / "emu2_eval"
    (package / "engine").mkdir(parents=True)
    (package / "reporting").mkdir()
    for init in (package, package / "engine", package / "reporting"):
        (init / "__init__.py").write_text("")
    (package / "a.py").write_text("from emu2_eval import b\n")
    (package / "b.py").write_text("def f():\n    from emu2_eval.a import x\n")
    (package / "engine" / "run.py").write_text("def g():\n    from ..reporting import html\n")
    (package / "reporting" / "html.py").write_text("")
    graph = import_graph(package)
    assert cycles(graph) == [["emu2_eval.a", "emu2_eval.b"]]
    assert violations(graph) == [
        "emu2_eval.engine.run imports emu2_eval.reporting.html: engine may import only "
        f"{sorted(ALLOWED['engine'][0])} ({ALLOWED['engine'][1]})",
    ]


def test_every_package_has_a_layer() -> None:
    """A new package must take its place in the table (and the table names no ghost)."""
    packages = {package_of(m) for m in import_graph()} - {""}
    layers = {name for name in packages if (PACKAGE / name).is_dir()}
    assert layers == set(ALLOWED), "add the new package to ALLOWED with what it may import"
    for allowed, why in ALLOWED.values():
        assert allowed <= set(ALLOWED) and why
