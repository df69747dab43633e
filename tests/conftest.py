"""Database fixtures shared by the whole suite.

- `db_url`: a fresh database migrated to head by the real migrations, once per test, on SQLite
  (a file in tmp_path) and on PostgreSQL (a schema of its own, reached through the URL's
  `search_path`, so subprocesses given the URL land in it too). Test ids: `sqlite`, `postgres`.
- `raw_db_url`: the same, empty (for migration tests).
- `engine`: an engine on `db_url`, disposed afterwards.
- `session`: a session inside a transaction that is rolled back at the end (`session.commit()`
  only releases a savepoint), for tests that need no real commits.

PostgreSQL comes from LOYALTY_TEST_POSTGRES_URL; the run stops at once if it is unreachable.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from ledger.migrate import upgrade
from ledger.session import create_engine_for, safe_url

POSTGRES_URL = os.environ.get(
    "LOYALTY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("LOYALTY_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
START_REDIS = 'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no'
START_POSTGRES = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
DIALECTS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Stop the run with one clear line when a server is down, not with a wall of tracebacks."""
    problem = _postgres_problem()
    if problem is not None:
        _exit_with_one_line(
            session,
            f"PostgreSQL is not reachable at {safe_url(POSTGRES_URL)} ({problem}); start it with "
            f"`{START_POSTGRES}` or point LOYALTY_TEST_POSTGRES_URL at a running server",
        )
    problem = _redis_problem()
    if problem is not None:
        _exit_with_one_line(
            session,
            f"Redis is not reachable at {REDIS_URL} ({problem}); start it with `{START_REDIS}` "
            "or point LOYALTY_TEST_REDIS_URL at a running server",
        )


def _exit_with_one_line(session: pytest.Session, message: str) -> None:
    # pytest prints the exit message itself; the terminal reporter would repeat it in a banner.
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        session.config.pluginmanager.unregister(reporter)
    pytest.exit(message, returncode=3)


def _redis_problem() -> str | None:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3, socket_timeout=3)
    try:
        client.ping()
    except redis.RedisError as error:
        return str(error).splitlines()[0] if str(error) else type(error).__name__
    finally:
        client.close()
    return None


def _postgres_problem() -> str | None:
    url = make_url(POSTGRES_URL).update_query_dict({"connect_timeout": "3"})
    engine = create_engine_for(url.render_as_string(hide_password=False))
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except DBAPIError as error:
        lines = str(error.orig or error).strip().splitlines()
        return lines[0] if lines else type(error).__name__
    finally:
        engine.dispose()
    return None


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Engine]:
    """An engine on the test database itself, for creating and dropping per-test schemas."""
    engine = create_engine_for(POSTGRES_URL)
    yield engine
    engine.dispose()


@contextmanager
def _postgres_schema(admin: Engine) -> Iterator[str]:
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            # A connection leaked by a test would make the drop wait forever: fail instead.
            connection.execute(text("SET LOCAL lock_timeout = '10s'"))
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


@contextmanager
def _fresh_database(dialect: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    if dialect == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    admin: Engine = request.getfixturevalue("postgres_admin")
    with _postgres_schema(admin) as url:
        yield url


@pytest.fixture(params=DIALECTS)
def raw_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh, empty database (no tables, no alembic_version)."""
    with _fresh_database(request.param, tmp_path, request) as url:
        yield url


@pytest.fixture(params=DIALECTS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh database migrated to head by the real migrations."""
    with _fresh_database(request.param, tmp_path, request) as url:
        upgrade(url)
        yield url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on `db_url` (SQLite pragmas and PostgreSQL search_path applied), disposed after."""
    engine = create_engine_for(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session whose work is rolled back at the end; its commits only release savepoints."""
    with engine.connect() as connection:
        transaction = connection.begin()
        session = Session(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            yield session
        finally:
            session.close()
            transaction.rollback()


_LOGGERS_CONFIGURED = ("", "urllib3", "requests_oauthlib", "oauthlib", "alembic", "sqlalchemy")


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Put back the root handlers and the levels `configure_logging` changes, for later tests.

    Every in-process `loyalty.cli.main()` call configures logging, as the real command does.
    """
    root = logging.getLogger()
    handlers = list(root.handlers)
    levels = {name: logging.getLogger(name).level for name in _LOGGERS_CONFIGURED}
    yield
    root.handlers[:] = handlers
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
