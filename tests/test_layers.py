"""The arrows point one way: loyalty/ -> sync/ -> rules/, ledger/ (the developers' guide)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


# sync/ raises its own errors now; sync/service.py still takes the whole Config (issue 9: narrow
# settings come with the source seam), so sync/ joins this list then.
@pytest.mark.parametrize("package", ["ledger", "rules", "reports"])
def test_inner_packages_import_nothing_from_the_cli_package(package: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            n for n in imported_modules(path) if n.startswith("loyalty")
        )
        for path in sorted((ROOT / package).rglob("*.py"))
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_ledger_migrate_does_not_import_the_session_module() -> None:
    # session imports migrate (to check the schema); the other way round would be a cycle
    assert not any(
        name.startswith("ledger.session") for name in imported_modules(ROOT / "ledger/migrate.py")
    )


def test_rules_import_no_database_http_or_sync_code() -> None:
    forbidden = ("sqlalchemy", "requests", "httpx", "celery", "ledger", "sync", "loyalty")
    found = {
        str(path.relative_to(ROOT)): sorted(
            n for n in imported_modules(path) if n.split(".")[0] in forbidden
        )
        for path in sorted((ROOT / "rules").rglob("*.py"))
    }
    assert {path: names for path, names in found.items() if names} == {}
