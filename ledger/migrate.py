"""Alembic, configured in code: `loyalty db upgrade` and the tests call `upgrade(url)`.

No alembic.ini is needed: the script location is this package's `migrations/` folder, so it
works from a source checkout and from an installed wheel alike.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from ledger.engine import create_engine_for

MIGRATIONS_DIR = Path(__file__).resolve().with_name("migrations")


def alembic_config(url: str | None = None) -> Config:
    """An Alembic `Config` pointing at the packaged migrations (and at `url`, if given)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        # ConfigParser treats % as interpolation; URLs carry %-escapes (`?options=-csearch_path%3D`).
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str) -> str:
    """Migrate the database at `url` to the head revision, in one transaction where the
    database allows it; returns the revision it is at afterwards."""
    config = alembic_config(url)
    engine = create_engine_for(url)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
        revision = current_revision(engine)
    finally:
        engine.dispose()
    if revision is None:  # pragma: no cover - alembic would have raised
        raise RuntimeError("the upgrade finished without recording a revision")
    return revision


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None for a database without the ledger schema."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    """The newest revision this code ships."""
    head = _scripts().get_current_head()
    if head is None:  # pragma: no cover - the package always ships 0001
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


def known_revisions() -> frozenset[str]:
    """Every revision this code ships (to tell a database behind us from one ahead of us)."""
    return frozenset(script.revision for script in _scripts().walk_revisions())


@lru_cache(maxsize=1)
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())
