"""The ledger schema's revisions, read without Alembic: for the check every command makes.

`ledger.session.check_schema_current` runs before every sync and every command that opens the
ledger; through Alembic it cost its import (about a tenth of a second of CPU, a sixth of a sync
process's start) and the loading of every migration script. Here the database's revision is read
from Alembic's `alembic_version` table with one query, and this code's revisions from the
`revision` / `down_revision` lines of the migration scripts, as text. A layout this reading does not
cover (a merge of two branches, an unusual assignment) is handed to Alembic (`ledger.migrate`);
tests/ledger/test_migrations.py checks both agree on the shipped scripts.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Engine, inspect, text

VERSIONS_DIR = Path(__file__).resolve().with_name("migrations") / "versions"
VERSION_TABLE = "alembic_version"  # Alembic's default, as `ledger.migrate` leaves it

_REVISION = re.compile(r"""^revision(?:\s*:[^=\n]*)?\s*=\s*["']([^"']+)["']\s*$""", re.M)
_DOWN = re.compile(r"""^down_revision(?:\s*:[^=\n]*)?\s*=\s*(?:None|["']([^"']+)["'])\s*$""", re.M)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None for a database without the ledger schema."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return None
        rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars()
        versions = sorted(set(rows))
    if len(versions) > 1:  # several heads: only Alembic can say what that means
        from ledger import migrate

        return migrate.current_revision(engine)
    return versions[0] if versions else None


def head_revision() -> str:
    """The newest revision this code ships."""
    chain = read_chain(VERSIONS_DIR)
    if chain is None:
        from ledger import migrate

        return migrate.head_revision()
    return chain[-1]


def known_revisions() -> frozenset[str]:
    """Every revision this code ships (to tell a database behind us from one ahead of us)."""
    chain = read_chain(VERSIONS_DIR)
    if chain is None:
        from ledger import migrate

        return migrate.known_revisions()
    return frozenset(chain)


@lru_cache(maxsize=4)
def read_chain(directory: Path) -> tuple[str, ...] | None:
    """The revisions of the scripts in `directory` from the first to the head, or None when they
    are not one plain chain of simple assignments (then Alembic reads them)."""
    parent: dict[str, str | None] = {}
    for script in sorted(directory.glob("*.py")):
        if script.name.startswith("_"):
            continue
        source = script.read_text(encoding="utf-8")
        revisions, downs = _REVISION.findall(source), _DOWN.findall(source)
        if len(revisions) != 1 or len(downs) != 1 or revisions[0] in parent:
            return None
        parent[revisions[0]] = downs[0] or None
    children = [r for r in parent.values() if r is not None]
    heads = [r for r in parent if r not in children]
    if len(heads) != 1 or len(set(children)) != len(children):
        return None
    chain = [heads[0]]
    while (down := parent.get(chain[-1])) is not None:
        if down not in parent:
            return None
        chain.append(down)
    return tuple(reversed(chain)) if len(chain) == len(parent) else None
