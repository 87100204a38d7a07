"""The import graph of `app` has no cycles: every module can be read, tested and moved on top of what it imports.

The graph is grimp's (the library behind import-linter), read from the source without importing it. Every import
statement counts: imports inside functions (the lazy S3 and Redis imports) and imports under `if TYPE_CHECKING:`
too — a cycle through type hints still means neither module can be understood without the other.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

import grimp
import pytest

PACKAGE = "app"


def import_graph() -> grimp.ImportGraph:
    # cache_dir=None: grimp would otherwise write a cache into the working directory.
    return grimp.build_graph(PACKAGE, cache_dir=None, exclude_type_checking_imports=False)


def cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, without recursion), each
    sorted, in a stable order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            module, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[module] = min(low[module], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[module])
            if low[module] == index[module]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == module:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


def shortest_loop(graph: grimp.ImportGraph, component: Iterable[str]) -> list[str]:
    """One cycle through the component's first module, as the modules along it (first == last)."""
    members = set(component)
    start = min(members)
    previous: dict[str, str] = {}
    queue = deque([start])
    while queue:
        module = queue.popleft()
        for child in sorted(graph.find_modules_directly_imported_by(module) & members):
            if child == start:
                path = [module]
                while path[-1] != start:
                    path.append(previous[path[-1]])
                return [start, *reversed(path[:-1]), start]
            if child not in previous:
                previous[child] = module
                queue.append(child)
    raise AssertionError(f"no cycle through {start}")  # unreachable for a strongly connected component


def describe(graph: grimp.ImportGraph, component: list[str]) -> str:
    loop = shortest_loop(graph, component)
    lines = [f"cycle among {', '.join(component)}:"]
    for importer, imported in zip(loop, loop[1:], strict=False):
        details = graph.get_import_details(importer=importer, imported=imported)
        where = "; ".join(f"line {d['line_number']}: {d['line_contents']}" for d in details)
        lines.append(f"  {importer} -> {imported}  ({where})")
    return "\n".join(lines)


def test_app_has_no_import_cycles() -> None:
    graph = import_graph()
    found = cycles(graph)
    assert not found, "import cycles in app/:\n" + "\n".join(describe(graph, c) for c in found)


# Layers, top to bottom: a module may import its own layer and those below, never one above. Services are grouped
# by domain in the same way. Face and recordings sit side by side and must not import each other (INDEPENDENT).
LAYERS: list[tuple[str, ...]] = [
    ("app.main", "app.cli"),
    ("app.api",),
    ("app.schemas",),
    ("app.services.demo",),
    ("app.services.dashboard", "app.services.live_counts"),
    ("app.services.flags",),
    ("app.services.review",),
    ("app.services.face", "app.services.recordings"),
    ("app.services.sitting",),
    ("app.services.exam",),
    ("app.services.auth", "app.services.audit", "app.services.images", "app.services.quotas", "app.services.scope", "app.services.timezones"),
    # Low-level packages without database or services: the face engine, and the recording analysis built on it.
    ("app.flags", "app.face"),
]

INDEPENDENT = frozenset({"app.services.face", "app.services.recordings"})


def _layer(module: str) -> tuple[int, str] | None:
    for rank, layer in enumerate(LAYERS):
        for package in layer:
            if module == package or module.startswith(package + "."):
                return rank, package
    return None


def test_imports_flow_down_the_layers() -> None:
    graph = import_graph()
    upward = []
    for importer in sorted(graph.modules):
        mine = _layer(importer)
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            theirs = _layer(imported)
            if mine is None or theirs is None or mine[1] == theirs[1]:
                continue
            if theirs[0] < mine[0] or (theirs[0] == mine[0] and {mine[1], theirs[1]} <= INDEPENDENT):
                upward.append(f"{importer} -> {imported}")
    assert not upward, "imports against the layers (LAYERS in this file):\n" + "\n".join(upward)


def test_no_route_module_imports_another() -> None:
    """Routes share rules through services, and types and answers through app.api.deps / errors / pictures, never
    each other."""
    graph = import_graph()
    shared = {"app.api", "app.api.deps", "app.api.errors", "app.api.pictures"}
    routes = {m for m in graph.modules if m.startswith("app.api.")} - shared
    found = sorted(f"{a} -> {b}" for a in routes for b in graph.find_modules_directly_imported_by(a) & routes)
    assert not found, "route modules importing route modules:\n" + "\n".join(found)


def test_the_graph_is_the_whole_of_app() -> None:
    modules = import_graph().modules
    for module in ("app.main", "app.adapters.factory", "app.uploads.tus", "app.face.engine", "app.services.face"):
        assert module in modules


@pytest.mark.parametrize(
    ("imports", "expected"),
    [
        ([("a.x", "a.y"), ("a.y", "a.z")], []),
        ([("a.x", "a.y"), ("a.y", "a.x"), ("a.y", "a.z")], [["a.x", "a.y"]]),
        ([("a.x", "a.y"), ("a.y", "a.z"), ("a.z", "a.x"), ("a.p", "a.q"), ("a.q", "a.p")], [["a.p", "a.q"], ["a.x", "a.y", "a.z"]]),
    ],
)
def test_cycles_are_found_and_described(imports: list[tuple[str, str]], expected: list[list[str]]) -> None:
    graph = grimp.ImportGraph()
    for importer, imported in imports:
        graph.add_import(importer=importer, imported=imported, line_number=1, line_contents=f"import {imported}")
    assert cycles(graph) == expected
    for component in expected:
        message = describe(graph, component)
        for module in component:
            assert f"{module} ->" in message
