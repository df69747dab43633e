"""The arrows point one way: loyalty/ -> sync/ -> rules/, ledger/ (the developers' guide)."""

from __future__ import annotations

import ast
import re
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


@pytest.mark.parametrize("package", ["ledger", "rules", "reports", "sync"])
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


# Words that name a source or what only one source knows about; the service is machinery only.
SOURCE_WORDS = ("order", "refund", "customers", "review", "comment", "signup", "coupon")


@pytest.mark.parametrize("module", ["sync/service.py", "sync/recalculate.py"])
def test_the_sync_machinery_names_no_source(module: str) -> None:
    """sync/service.py runs the registry's sources (sync/sources.py) without knowing any: adding
    a source touches the registry, never the service (issue 9, acceptance 7); so does the
    recalculation, through the sources' `Recalculates` hooks (issue 13)."""
    text = (ROOT / module).read_text()
    words = {w.lower() for w in re.findall(r"[A-Za-z]+", text)}
    found = sorted(w for w in words if any(w.startswith(name) for name in SOURCE_WORDS))
    assert found == []


def test_sources_are_listed_in_the_registry_customers_first() -> None:
    from sync.sources import SOURCES

    names = [factory.__name__ for factory in SOURCES]
    assert names[:2] == ["customers_source", "orders_source"]


def test_the_sync_takes_narrow_settings_not_the_whole_config() -> None:
    import inspect

    from sync.service import run_sync
    from sync.settings import SyncSettings

    assert inspect.signature(run_sync).parameters["settings"].annotation in (
        SyncSettings,
        "SyncSettings",
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
