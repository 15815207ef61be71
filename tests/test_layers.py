"""The layers import downward only, and no two modules import each other (directly or in a ring).

Order: telco (the kernel) -> memory -> actors -> serve -> cli; jobs may use telco, memory and actors. Every import
counts, including one inside a function: a deferred import still ties the two modules together.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("telco", "memory", "actors", "serve", "jobs", "cli")
MAY_IMPORT = {
    "telco": {"telco"},
    "memory": {"telco", "memory"},
    "actors": {"telco", "memory", "actors"},
    "serve": {"telco", "memory", "actors", "serve"},
    "jobs": {"telco", "memory", "actors", "jobs"},
    "cli": set(PACKAGES),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[_module_name(path)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(name: str, path: Path, known: set[str]) -> list[tuple[int, str]]:
    """(line, module) for every import of a project module in the file, relative imports resolved."""
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(), str(path))
    # Imports for type checkers only never run, so they tie nothing together at run time.
    typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If) and _is_type_checking(block.test)
                   for stmt in block.body for n in ast.walk(stmt)}
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base if is_package else base[:-1]
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            submodules = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in known]
            out += [(node.lineno, m) for m in submodules] or [(node.lineno, target)]
    return [(line, m) for line, m in out if m.split(".")[0] in PACKAGES]


MODULES = _modules()
GRAPH = {name: _imports(name, path, set(MODULES)) for name, path in MODULES.items()}


def test_the_packages_are_found():
    # A guard that finds nothing guards nothing.
    assert len(MODULES) > 150 and {m.split(".")[0] for m in MODULES} == set(PACKAGES)


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_run_downward(package):
    wrong = [f"{MODULES[name].relative_to(ROOT)}:{line} imports {target}"
             for name, edges in GRAPH.items() if name.split(".")[0] == package
             for line, target in edges if target.split(".")[0] not in MAY_IMPORT[package]]
    assert not wrong, f"{package} may import only {sorted(MAY_IMPORT[package])}:\n" + "\n".join(wrong)


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (the graph is a few hundred modules)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[list[str]] = []
    counter = 0
    for root in graph:
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
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                groups.append(sorted(group))
    return groups


def test_no_import_cycles():
    graph = {name: {t for _, t in edges if t in MODULES and t != name} for name, edges in GRAPH.items()}
    cycles = [g for g in _strongly_connected(graph) if len(g) > 1]
    assert not cycles, "modules that import each other:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_cycle_check_sees_a_cycle():
    assert _strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c"], ["d"]]


def test_no_module_finds_another_package_by_its_own_path():
    # Data files are named in telco.data; a module that walks up from __file__ to reach another package's files
    # breaks as soon as either moves or the package is installed elsewhere.
    wrong = [str(p.relative_to(ROOT)) for p in MODULES.values() if ".parents[" in p.read_text()]
    assert not wrong, "use telco.data (or the package's own folder) instead:\n" + "\n".join(wrong)
