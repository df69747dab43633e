"""The sandbox's layout: no import cycles (not even inside functions), one module per resource."""

from __future__ import annotations

import ast
import pkgutil
from pathlib import Path

import sandbox
import sandbox.resources
from sandbox.routes import RESOURCES
from sandbox.store import SandboxStore

ROOT = Path(sandbox.__file__).resolve().parent


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def sandbox_imports(path: Path) -> set[str]:
    """Every sandbox module `path` imports, wherever the import is (functions, TYPE_CHECKING)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] == "sandbox"}


def import_graph() -> dict[str, set[str]]:
    modules = {module_name(path): path for path in ROOT.rglob("*.py")}
    return {
        name: {dep for dep in sandbox_imports(path) if dep in modules and dep != name}
        for name, path in modules.items()
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 visiting, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                return [*stack[stack.index(dep) :], dep]
            if dep not in state and (cycle := visit(dep)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_sandbox_has_no_import_cycle_not_even_inside_functions() -> None:
    graph = import_graph()
    assert "sandbox.server" in graph
    assert "sandbox.resources.orders" in graph
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_cycle_check_sees_an_import_inside_a_function(tmp_path: Path) -> None:
    assert find_cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from sandbox.server import SandboxServer\n", encoding="utf-8")
    assert "sandbox.server" in sandbox_imports(probe)


def test_every_resource_module_is_routed_and_has_a_table() -> None:
    modules = {
        m.name
        for m in pkgutil.iter_modules(sandbox.resources.__path__)
        if m.name != "order_shapes"  # the shape orders and refunds share, not a resource
    }
    routed = {resource.name for resource in RESOURCES}
    assert modules == routed
    store = SandboxStore()
    for name in routed:
        assert store.count(name) == 0
