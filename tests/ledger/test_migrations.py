"""Migrations: the schema comes from Alembic, from empty to head, and matches the models."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect
from sqlalchemy.engine import make_url

import ledger
from ledger import migrate, revisions
from ledger.migrate import (
    MIGRATIONS_DIR,
    alembic_config,
    current_revision,
    head_revision,
    upgrade,
)
from ledger.models import Base
from ledger.session import check_schema_current, create_engine_for
from loyalty.errors import SchemaBehind
from tests.ledger.schema_at import ledger_at

HEAD = "0018_customer_moves"
LEDGER_TABLES = {
    "stores",
    "customers",
    "point_entries",
    "balances",
    "sync_cursors",
    "quarantined_items",
    "tracked_orders",
    "refund_details",
    "meta_writes",
    "sync_runs",
    "redemptions",
    "point_rollups",
    "entry_lines",
    "product_spans",
    "products",
    "stamp_orders",
    "stamp_cards",
    "tracked_activity",
    "customer_earnings",
    "product_customers",
    "categories",
    "next_expiries",
    "tier_events",
    "customer_moves",
}


@pytest.fixture
def raw_engine(raw_db_url: str) -> Iterator[Engine]:
    engine = create_engine_for(raw_db_url)
    yield engine
    engine.dispose()


def test_upgrade_from_empty_reaches_head_with_every_table(
    raw_db_url: str, raw_engine: Engine
) -> None:
    assert current_revision(raw_engine) is None

    assert upgrade(raw_db_url) == head_revision() == HEAD

    assert current_revision(raw_engine) == HEAD
    assert set(inspect(raw_engine).get_table_names()) == LEDGER_TABLES | {"alembic_version"}


def test_upgrading_a_database_at_head_changes_nothing(raw_db_url: str, raw_engine: Engine) -> None:
    upgrade(raw_db_url)

    assert upgrade(raw_db_url) == HEAD
    assert current_revision(raw_engine) == HEAD


def test_the_migrated_schema_matches_the_models(raw_db_url: str, raw_engine: Engine) -> None:
    upgrade(raw_db_url)

    with raw_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)

    assert differences == []


def test_constraints_and_indexes_carry_the_naming_convention(
    raw_db_url: str, raw_engine: Engine
) -> None:
    upgrade(raw_db_url)
    inspector = inspect(raw_engine)

    assert inspector.get_pk_constraint("point_entries")["name"] == "pk_point_entries"
    assert {uq["name"] for uq in inspector.get_unique_constraints("point_entries")} == {
        "uq_point_entries_store_id_idempotency_key"
    }
    assert {ix["name"] for ix in inspector.get_indexes("customers")} == {
        "ux_customers_store_id_wc_id",
        "ux_customers_store_id_guest_email",
        "ix_customers_store_id_email",
    }
    assert {fk["name"] for fk in inspector.get_foreign_keys("balances")} == {
        "fk_balances_customer_id_customers",
        "fk_balances_store_id_stores",
    }


def test_downgrade_to_base_removes_every_ledger_table(raw_db_url: str, raw_engine: Engine) -> None:
    upgrade(raw_db_url)

    with raw_engine.begin() as connection:
        config = alembic_config(raw_db_url)
        config.attributes["connection"] = connection
        command.downgrade(config, "base")

    assert set(inspect(raw_engine).get_table_names()) <= {"alembic_version"}
    assert current_revision(raw_engine) is None


def test_migrations_ship_inside_the_ledger_package() -> None:
    assert MIGRATIONS_DIR.is_relative_to(ledger.__path__[0])
    assert (MIGRATIONS_DIR / "env.py").is_file()


def test_a_schema_at_head_is_current(engine: Engine) -> None:
    check_schema_current(engine)


@pytest.mark.parametrize(
    ("db_url", "raw_db_url"),
    [
        pytest.param("sqlite", "sqlite", id="sqlite"),
        pytest.param("postgres", "postgres", id="postgres", marks=pytest.mark.postgres),
    ],
    indirect=True,
)
def test_each_tests_copy_of_the_migrated_database_is_the_migrated_schema(
    db_url: str, raw_db_url: str
) -> None:
    upgrade(raw_db_url)  # what `db_url` copies (tests/conftest.py MigratedTemplate), done again
    copied, migrated = create_engine_for(db_url), create_engine_for(raw_db_url)
    try:
        assert current_revision(copied) == HEAD
        assert _schema(copied) == _schema(migrated)
        with copied.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        copied.dispose()
        migrated.dispose()


def _schema(engine: Engine) -> dict[str, str]:
    """Every table's columns (with defaults), keys, indexes (partial ones with their condition) and
    constraints, as text."""
    inspector = inspect(engine)

    def named(items: list[Any]) -> list[Any]:
        return sorted(items, key=lambda item: str(item.get("name")))

    return {
        table: json.dumps(
            [
                inspector.get_columns(table),
                inspector.get_pk_constraint(table),
                named(inspector.get_foreign_keys(table)),
                named(inspector.get_indexes(table)),
                named(inspector.get_unique_constraints(table)),
                named(inspector.get_check_constraints(table)),
            ],
            default=str,
            sort_keys=True,
        )
        for table in inspector.get_table_names()
    }


def test_an_empty_database_is_reported_with_the_command_to_run(raw_engine: Engine) -> None:
    url = raw_engine.url.render_as_string(hide_password=True)

    with pytest.raises(SchemaBehind) as raised:
        check_schema_current(raw_engine)

    assert str(raised.value) == (
        f"the database at {url} is empty (no ledger schema), this version needs {HEAD}: "
        "run `loyalty db upgrade`"
    )


def test_an_older_schema_is_reported_with_both_revisions_then_upgraded(
    raw_db_url: str, raw_engine: Engine
) -> None:
    with ledger_at(raw_engine, raw_db_url, "0001"):
        pass

    with pytest.raises(SchemaBehind, match=rf"is at revision 0001, this version needs {HEAD}: run"):
        check_schema_current(raw_engine)
    assert upgrade(raw_db_url) == HEAD
    check_schema_current(raw_engine)


def test_a_schema_from_a_newer_version_is_not_sent_to_upgrade(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(revisions, "head_revision", lambda: "0000")
    monkeypatch.setattr(revisions, "known_revisions", lambda: frozenset({"0000"}))

    with pytest.raises(
        SchemaBehind, match=rf"at revision {HEAD}, which this version does not know"
    ):
        check_schema_current(engine)


@pytest.mark.postgres
@pytest.mark.parametrize("raw_db_url", ["postgres"], indirect=True)
def test_the_schema_error_never_shows_the_database_password(raw_db_url: str) -> None:
    # trust authentication ignores the password, so the connection still works
    with_password = make_url(raw_db_url).set(password="s3cret-pw")
    engine = create_engine_for(with_password.render_as_string(hide_password=False))
    try:
        with pytest.raises(SchemaBehind) as raised:
            check_schema_current(engine)
    finally:
        engine.dispose()

    assert "s3cret-pw" not in str(raised.value)
    assert ":***@" in str(raised.value)


def test_the_revisions_read_without_alembic_are_alembic_s(
    raw_db_url: str, raw_engine: Engine
) -> None:
    """`ledger.revisions` (the schema check of every command) reads the shipped scripts as text
    and the database's revision with one query: the same answers as Alembic's, at every step."""
    assert revisions.read_chain(revisions.VERSIONS_DIR) is not None  # no fallback to Alembic
    assert revisions.head_revision() == migrate.head_revision() == HEAD
    assert revisions.known_revisions() == migrate.known_revisions()
    assert revisions.current_revision(raw_engine) is None is migrate.current_revision(raw_engine)
    for step in ("0001", "0005_reports", HEAD):
        with raw_engine.begin() as connection:
            config = alembic_config(raw_db_url)
            config.attributes["connection"] = connection
            command.upgrade(config, step)
        assert revisions.current_revision(raw_engine) == step == current_revision(raw_engine)


def test_scripts_that_are_not_one_plain_chain_are_left_to_alembic(tmp_path: Path) -> None:
    def script(name: str, revision: str, down: str) -> None:
        (tmp_path / name).write_text(
            f'revision: str = "{revision}"\ndown_revision: str | None = {down}\n',
            encoding="utf-8",
        )

    script("0001_a.py", "0001", "None")
    script("0002_b.py", "0002", '"0001"')
    assert revisions.read_chain(tmp_path) == ("0001", "0002")
    script("0003_c.py", "0003", '"0001"')  # a second branch from 0001: two heads
    revisions.read_chain.cache_clear()
    assert revisions.read_chain(tmp_path) is None
    (tmp_path / "0003_c.py").write_text(
        'revision = "0003"\ndown_revision = ("0001", "0002")\n', encoding="utf-8"
    )  # a merge
    revisions.read_chain.cache_clear()
    assert revisions.read_chain(tmp_path) is None
    revisions.read_chain.cache_clear()


def test_the_schema_check_does_not_import_alembic(engine: Engine) -> None:
    """A sync and every ledger command check the schema first: Alembic's import is not theirs."""
    url = engine.url.render_as_string(hide_password=False)
    probe = (
        "import sys\n"
        "from ledger.session import check_schema_current, create_engine_for\n"
        f"check_schema_current(create_engine_for({url!r}))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'mako')))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout == "[]\n"
