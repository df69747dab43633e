"""Database fixtures shared by the whole suite.

- `db_url`: a fresh database at head for each test, on SQLite (a file in tmp_path) and on
  PostgreSQL (a schema of its own, reached through the URL's `search_path`, so subprocesses given
  the URL land in it too): a copy of the one database each test process migrated with the real
  migrations (`MigratedTemplate`). Test ids: `sqlite`, `postgres`.
- `raw_db_url`: the same, empty (for migration tests).
- `engine`: an engine on `db_url`, disposed afterwards.
- `session`: a session inside a transaction that is rolled back at the end (`session.commit()`
  only releases a savepoint), for tests that need no real commits.
- `store_accounts`: the configured test store of the command-line tests
  (`https://shop.example.com`) answering which accounts it has, for adjustments of accounts the
  ledger does not know yet (`loyalty.accounts`).

PostgreSQL comes from LOYALTY_TEST_POSTGRES_URL; the run stops at once if it is unreachable.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import redis
import responses
from requests import PreparedRequest
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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests marked `slow` (ten seconds or more on this 2-core machine) run first, the rest
    in their usual order: with xdist they then start at once on every worker and overlap the many
    short ones, instead of coming last and leaving one worker to finish them alone."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


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
def db_url(
    request: pytest.FixtureRequest, tmp_path: Path, migrated_template: MigratedTemplate
) -> Iterator[str]:
    """The URL of a fresh database migrated to head by the real migrations (a copy of the one
    database this test process migrated, see `MigratedTemplate`)."""
    with _fresh_database(request.param, tmp_path, request) as url:
        migrated_template.copy_to(url)
        yield url


@pytest.fixture
def more_db_urls(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    migrated_template: MigratedTemplate,
    db_url: str,
) -> Iterator[Callable[[], str]]:
    """More fresh databases at head, of `db_url`'s dialect: each call makes one more (for a test
    that compares ledgers built differently). Dispose of their engines before the test ends."""
    dialect = "sqlite" if make_url(db_url).get_backend_name() == "sqlite" else "postgres"
    with ExitStack() as stack:

        def make() -> str:
            folder = tmp_path / f"more-{uuid.uuid4().hex[:8]}"
            folder.mkdir()
            url = stack.enter_context(_fresh_database(dialect, folder, request))
            migrated_template.copy_to(url)
            return url

        yield make


class MigratedTemplate:
    """The real migrations, run once per test process and dialect; each test's database is a copy.

    Migrating from empty to head costs about a second on PostgreSQL, and hundreds of tests ask for
    a fresh database. The copy is exact: SQLite's through its backup API, PostgreSQL's by replaying
    what `pg_dump` prints of the migrated schema (tables, sequences, indexes, constraints and rows:
    `alembic_version`), with the schema renamed. Without `pg_dump` on the PATH each PostgreSQL
    test migrates its own schema, as before. `tests/ledger/test_migrations.py` still migrates
    from empty, and checks that a copy is at head and matches the models.
    """

    def __init__(self, folder: Path, admin: Callable[[], Engine]) -> None:
        self._folder = folder
        self._admin = admin
        self._sqlite: Path | None = None
        self._postgres: str | None = None  # the dump, `_TEMPLATE_SCHEMA` for its schema's name

    def copy_to(self, url: str) -> None:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            self._copy_sqlite(Path(str(parsed.database)))
        elif shutil.which("pg_dump") is None:
            upgrade(url)
        else:
            self._copy_postgres(url)

    def _copy_sqlite(self, target: Path) -> None:
        if self._sqlite is None:
            self._sqlite = self._folder / "template.db"
            upgrade(f"sqlite:///{self._sqlite}")
        source, copy = sqlite3.connect(self._sqlite), sqlite3.connect(target)
        try:
            source.backup(copy)
        finally:
            copy.close()
            source.close()

    def _copy_postgres(self, url: str) -> None:
        if self._postgres is None:
            self._postgres = _postgres_dump(self._admin())
        schema = _schema_of(url)
        connection = self._admin().raw_connection()
        try:
            with closing(connection.cursor()) as cursor:
                cursor.execute(self._postgres.replace(_TEMPLATE_SCHEMA, schema))
            connection.commit()
        finally:
            connection.close()


_TEMPLATE_SCHEMA = f"template_{uuid.uuid4().hex[:16]}"
# Left out of the dump: comments, psql's meta-commands (`\\restrict`), the session settings it
# starts with (search_path '' among them: every name is schema-qualified) and the schema itself.
_DUMP_PREAMBLE = ("--", "\\", "SET ", "SELECT pg_catalog.set_config(", "CREATE SCHEMA ")


def _postgres_dump(admin: Engine) -> str:
    """The SQL that rebuilds a schema migrated to head, its name written as `_TEMPLATE_SCHEMA`."""
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{_TEMPLATE_SCHEMA}"'))
    url = make_url(POSTGRES_URL)
    try:
        upgrade(url.update_query_dict({"options": f"-csearch_path={_TEMPLATE_SCHEMA}"})
                .render_as_string(hide_password=False))  # fmt: skip
        libpq = url.set(drivername="postgresql", password=None).render_as_string()
        dumped = subprocess.run(
            ["pg_dump", "--no-owner", "--no-privileges", "--inserts",
             f"--schema={_TEMPLATE_SCHEMA}", f"--dbname={libpq}"],
            env={**os.environ, "PGPASSWORD": url.password or ""} if url.password else None,
            capture_output=True, text=True, check=True, timeout=60,
        ).stdout  # fmt: skip
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{_TEMPLATE_SCHEMA}" CASCADE'))
    return "\n".join(line for line in dumped.splitlines() if not line.startswith(_DUMP_PREAMBLE))


def _schema_of(url: str) -> str:
    options = str(make_url(url).query["options"])
    return options.removeprefix("-csearch_path=")


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MigratedTemplate]:
    """This test process's `MigratedTemplate` (one per xdist worker)."""
    engines: list[Engine] = []

    def admin() -> Engine:
        if not engines:
            engines.append(create_engine_for(POSTGRES_URL))
        return engines[0]

    yield MigratedTemplate(tmp_path_factory.mktemp("template"), admin)
    for engine in engines:
        engine.dispose()


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


#: The store of the command-line tests' configs (tests/cli/test_cli.py's STORE).
TEST_STORE_URL = "https://shop.example.com"


@dataclass
class StoreAccounts:
    """What the test store was asked (`asked`: the ids, one list a request) and the accounts it
    does not have (`missing`, for the test to fill)."""

    missing: set[int] = field(default_factory=set)
    asked: list[list[int]] = field(default_factory=list)


@pytest.fixture
def store_accounts() -> Iterator[StoreAccounts]:
    """The test store answering `GET customers?include=` with every id it is asked for, except
    the ones in `missing`."""
    accounts = StoreAccounts()

    def callback(request: PreparedRequest) -> tuple[int, dict[str, str], str]:
        query = parse_qs(urlsplit(request.url or "").query)
        asked = [int(i) for i in query["include"][-1].split(",")]
        accounts.asked.append(asked)
        found = [{"id": i} for i in asked if i not in accounts.missing]
        headers = {"X-WP-Total": str(len(found)), "X-WP-TotalPages": "1"}
        return 200, headers, json.dumps(found)

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(
            responses.GET, f"{TEST_STORE_URL}/wp-json/wc/v3/customers", callback=callback
        )
        yield accounts


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
