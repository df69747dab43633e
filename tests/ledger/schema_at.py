"""A ledger at an older revision, for the tests of what a migration does to the rows an older
version wrote."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from alembic import command
from sqlalchemy import Connection, Engine, text

from ledger.migrate import alembic_config


@contextmanager
def ledger_at(engine: Engine, url: str, revision: str) -> Iterator[Connection]:
    """A transaction on the database of `url`, migrated to `revision` (and no further)."""
    with engine.begin() as connection:
        config = alembic_config(url)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        yield connection


def insert_store(connection: Connection, created_at: str = "2024-01-01 00:00:00") -> None:
    """Store 1, as any revision holds it."""
    connection.execute(
        text("INSERT INTO stores (id, key, created_at) VALUES (1, 's', :t)"), {"t": created_at}
    )
