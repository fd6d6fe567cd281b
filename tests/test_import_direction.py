"""The package's import graph, read statically (ast): no cycles, and the direction table holds.

Every ``import``/``from ... import`` of an ``emu2_eval`` module counts, also those inside
functions (a lazy import is still a dependency). ARCHITECTURE.md shows the same table.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "emu2_eval"

# (importer prefix, forbidden prefix, why). A prefix matches the module and everything below it.
FORBIDDEN = [
    ("emu2_eval.engine", "emu2_eval.reports", "the engine writes results; reporting reads them"),
    ("emu2_eval.engine", "emu2_eval.reporting", "the engine writes results; reporting reads them"),
    ("emu2_eval.engine", "emu2_eval.cli", "the CLI drives the engine, not the reverse"),
    ("emu2_eval.metrics", "emu2_eval.models", "a metric scores stored responses, never a model"),
    ("emu2_eval.metrics", "emu2_eval.reporting", "scores are computed before they are shown"),
    ("emu2_eval.stats", "emu2_eval.models", "statistics know nothing of models"),
    ("emu2_eval.stats", "emu2_eval.metrics", "metrics build on statistics, not the reverse"),
    ("emu2_eval.stats", "emu2_eval.engine", "statistics know nothing of the engine"),
    ("emu2_eval.fewshot", "emu2_eval.models.hf_vlm", "few-shot selection uses no model adapter"),
    ("emu2_eval.tasks", "emu2_eval.engine", "task files are read before anything runs"),
    ("emu2_eval.tasks", "emu2_eval.models", "task files are read before anything runs"),
]

# Known exceptions, each with its reason; the test fails when one is no longer needed.
EXCEPTIONS = {
    ("emu2_eval.metrics.image_similarity", "emu2_eval.models.tiny_gen"): (
        "the built-in tiny CLIP/DINO backbones are built beside the tiny text-to-image pipeline; "
        "they move out of models/ with the package layout of issue 14"
    ),
}


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
        for dep in sorted(deps):
            for importer, forbidden, why in FORBIDDEN:
                if _under(module, importer) and _under(dep, forbidden):
                    if (module, dep) not in EXCEPTIONS:
                        found.append(f"{module} imports {dep}: {why}")
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
        "emu2_eval.engine.run imports emu2_eval.reporting.html: the engine writes results; "
        "reporting reads them",
    ]


@pytest.mark.parametrize(("importer", "forbidden", "why"), FORBIDDEN)
def test_every_rule_names_existing_packages(importer: str, forbidden: str, why: str) -> None:
    graph = import_graph()
    assert any(_under(m, importer) for m in graph), importer
    assert any(_under(m, forbidden) for m in graph), forbidden
    assert why
