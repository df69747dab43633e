"""Engines and session scopes: one unit of work, safe for several writing processes."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text

from ledger.migrate import upgrade
from ledger.models import Store
from ledger.session import create_engine_for, safe_url, session_scope


def _stores(engine: Engine) -> int:
    with session_scope(engine, readonly=True) as session:
        return session.execute(select(func.count()).select_from(Store)).scalar_one()


def test_session_scope_commits_when_the_block_succeeds(engine: Engine) -> None:
    with session_scope(engine) as session:
        session.add(Store(key="shop.example.com"))

    assert _stores(engine) == 1


def test_session_scope_rolls_back_when_the_block_raises(engine: Engine) -> None:
    def add_then_fail() -> None:
        with session_scope(engine) as session:
            session.add(Store(key="shop.example.com"))
            session.flush()
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        add_then_fail()

    assert _stores(engine) == 0


def test_objects_stay_readable_after_the_scope_commits(engine: Engine) -> None:
    with session_scope(engine) as session:
        store = Store(key="shop.example.com")
        session.add(store)

    assert (store.id, store.key) == (1, "shop.example.com")


def test_a_readonly_scope_never_commits(engine: Engine) -> None:
    with session_scope(engine, readonly=True) as session:
        session.add(Store(key="shop.example.com"))
        session.flush()

    assert _stores(engine) == 0


def test_sqlite_connections_enforce_foreign_keys_with_wal_and_a_busy_timeout(
    tmp_path: Path,
) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'pragmas.db'}")
    try:
        with engine.connect() as connection:
            pragmas = [
                connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("foreign_keys", "journal_mode", "busy_timeout")
            ]
    finally:
        engine.dispose()

    assert pragmas == [1, "wal", 30000]


def test_sqlite_savepoints_roll_back_only_their_part(tmp_path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'savepoints.db'}")
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (x INTEGER)"))
            connection.execute(text("INSERT INTO t VALUES (1)"))
            savepoint = connection.begin_nested()
            connection.execute(text("INSERT INTO t VALUES (2)"))
            savepoint.rollback()
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT x FROM t")).scalars().all()
    finally:
        engine.dispose()

    assert rows == [1]


def test_a_plain_postgresql_url_is_driven_by_psycopg_3() -> None:
    engine = create_engine_for("postgresql://user@db.example.com/loyalty")

    assert engine.dialect.driver == "psycopg"


def test_safe_url_hides_the_password_wherever_it_is_given() -> None:
    shown = safe_url(
        "postgresql+psycopg://loyalty:s3cret@db/ledger?password=s3cret&sslmode=require"
    )

    assert "s3cret" not in shown
    assert shown == "postgresql+psycopg://loyalty:***@db/ledger?sslmode=require"


def test_a_readonly_scope_on_sqlite_reads_while_another_writer_holds_the_lock(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    upgrade(url)
    engine = create_engine_for(url)
    try:
        with session_scope(engine) as writer:
            writer.add(Store(key="shop.example.com"))
            writer.flush()  # the write lock is held until this scope commits
            with session_scope(engine, readonly=True) as reader:
                seen_meanwhile = reader.execute(select(func.count()).select_from(Store)).scalar()
        assert (seen_meanwhile, _stores(engine)) == (0, 1)
    finally:
        engine.dispose()
