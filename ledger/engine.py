"""Engines for the ledger database (SQLite or PostgreSQL), configured so that several processes
may write the same database at once: on SQLite WAL, a busy timeout and the write lock taken at
BEGIN. `session` (units of work) and `migrate` (Alembic) both build on it.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url

SQLITE_BUSY_TIMEOUT_SECONDS = 30
#: Execution option marking a read-only unit of work (a deferred BEGIN on SQLite).
READONLY_OPTION = "loyalty_readonly"
#: Query parameters of a database or broker URL that carry a credential.
_SECRET_PARAM = re.compile(r"(?i)pass|pwd|secret|token|api_?key")


def create_engine_for(url: str) -> Engine:
    """An engine for a database URL: `sqlite:///path.db` or `postgresql://...` (driven by psycopg 3)."""
    parsed = _with_driver(make_url(url))
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    engine = create_engine(parsed, pool_pre_ping=True)
    event.listen(engine, "connect", _postgres_on_connect)
    return engine


def _postgres_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # The ledger's queries are short and index-driven; PostgreSQL's JIT kicks in on cost estimates
    # (a correlated subquery per customer looks expensive) and spent 0.5 s compiling a report that
    # runs in 0.2 s. Off for the ledger's connections only.
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET jit = off")
    dbapi_connection.commit()


def safe_url(url: str | URL) -> str:
    """The URL for messages and logs: password masked, query parameters that carry a credential
    (`password`, `sslpassword`, `token`, ...: `url_secrets`) dropped."""
    parsed = make_url(url) if isinstance(url, str) else url
    parsed = parsed.difference_update_query([k for k in parsed.query if _SECRET_PARAM.search(k)])
    return parsed.render_as_string(hide_password=True)


def url_secrets(url: str | URL) -> list[str]:
    """The credentials a URL carries: its password, and the values of query parameters named like
    one (a driver or broker takes `?password=` as well as `user:password@`)."""
    parsed = make_url(url) if isinstance(url, str) else url
    found = [str(parsed.password)] if parsed.password else []
    # A broker's client (redis-py, kombu) takes the user part up to the last "@", SQLAlchemy up to
    # the first: a password with an "@" in it is read both ways.
    rendered = url if isinstance(url, str) else url.render_as_string(hide_password=False)
    userinfo = urlsplit(rendered).netloc.rpartition("@")[0]
    if ":" in userinfo:
        found.append(unquote(userinfo.split(":", 1)[1]))
    for name, value in parsed.query.items():
        if _SECRET_PARAM.search(name):
            found += [value] if isinstance(value, str) else list(value)
    return [secret for secret in found if secret]


def _with_driver(url: URL) -> URL:
    # A bare postgresql:// would pick psycopg2, which is not installed: psycopg 3 is the driver.
    if url.drivername in ("postgresql", "postgres"):
        return url.set(drivername="postgresql+psycopg")
    return url


def _sqlite_engine(url: URL) -> Engine:
    engine = create_engine(
        url, pool_pre_ping=True, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}
    )
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control away from the sqlite3 module (it would BEGIN lazily, only before
    # DML, and break SAVEPOINTs); `_sqlite_on_begin` issues BEGIN itself.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer, nor it them
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable enough in WAL mode, much faster
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_SECONDS * 1000}")
    finally:
        cursor.close()


def _sqlite_on_begin(connection: Connection) -> None:
    # A deferred transaction that reads and then writes fails at once with SQLITE_BUSY when another
    # process committed in between (the busy timeout cannot help). Writers therefore take the
    # write lock at BEGIN and queue on the busy timeout; read-only scopes stay deferred.
    if connection.get_execution_options().get(READONLY_OPTION):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
