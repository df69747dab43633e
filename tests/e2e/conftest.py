"""End-to-end fixtures: a real sandbox store over real HTTP, a real database, the real sync."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, inspect, select

from ledger.balances import list_balances
from ledger.customers import get_or_create_store
from ledger.kinds import SourceKind
from ledger.models import PointEntry
from ledger.session import create_engine_for, session_scope
from loyalty.config import Config, DatabaseConfig, Secret, StoreConfig
from loyalty.sync_settings import sync_settings
from rules import notes
from sandbox.generator import generate_store
from sandbox.server import SandboxServer
from sandbox.store import SandboxStore
from sync.service import run_sync
from sync.summary import SyncSummary
from tests.hostile_store import HostileStore

CONSUMER_KEY = "ck_" + "e2e" * 13 + "k"
CONSUMER_SECRET = "cs_" + "s3cr" * 10
ANCHOR = datetime(2026, 6, 1, tzinfo=UTC)  # generated history ends here, well before any test runs


def small_store(seed: int = 11, **sizes: int) -> SandboxStore:
    sizes = {"customers": 30, "orders": 220, "reviews": 0, "comments": 0, **sizes}
    return generate_store(seed=seed, anchor=ANCHOR, **sizes)


def gift_shop(*emails: str) -> SandboxStore:
    """A store of these registered customers and one product: a 1.00 gift card (virtual, no tax),
    so an order of N cards earns N points at the default rate."""
    shop = SandboxStore()
    for email in emails:
        shop.register_customer(email=email)
    category = shop.add_category("Gifts")["id"]
    shop.add_product(
        name="Card", price=Decimal("1.00"), category_ids=[category], virtual=True, taxable=False
    )
    return shop


def meta_values(store: SandboxStore, wc_id: int, key: str) -> list[Any]:
    """Every value of the customer's meta `key`, as the store holds them."""
    return [m["value"] for m in store.get("customers", wc_id)["meta_data"] if m["key"] == key]


def meta(store: SandboxStore, wc_id: int, key: str = "loyalty_points") -> Any:
    """The customer's meta `key` (the first value), None when unset."""
    values = meta_values(store, wc_id, key)
    return values[0] if values else None


@pytest.fixture
def store() -> SandboxStore:
    return small_store()


@pytest.fixture
def sandbox(store: SandboxStore) -> Iterator[SandboxServer]:
    server = SandboxServer(
        store,
        consumer_key=CONSUMER_KEY,
        consumer_secret=CONSUMER_SECRET,
        wp_username="editor",
        wp_app_password="abcd efgh ijkl mnop qrst uvwx",
    )
    server.start()
    yield server
    server.stop()


def store_config(server: SandboxServer, **overrides: Any) -> StoreConfig:
    base = StoreConfig(
        url=server.base_url,
        consumer_key=Secret(CONSUMER_KEY),
        consumer_secret=Secret(CONSUMER_SECRET),
        timeout=10.0,
        max_requests_per_second=500.0,  # the sandbox is local; pacing is tested in the client
        max_retry_seconds=60.0,
        allow_insecure_http=True,
    )
    return replace(base, **overrides)


@pytest.fixture
def config(sandbox: SandboxServer, db_url: str) -> Config:
    return Config(store=store_config(sandbox), database=DatabaseConfig(url=db_url))


@pytest.fixture
def engine_for(db_url: str) -> Iterator[Callable[[], Engine]]:
    engines: list[Engine] = []

    def make() -> Engine:
        engines.append(create_engine_for(db_url))
        return engines[-1]

    yield make
    try:
        for engine in engines[:1]:  # every note the sync wrote can be shown in any language
            assert unwritten_notes(engine) == []
    finally:
        for engine in engines:
            engine.dispose()


def unwritten_notes(engine: Engine) -> list[str]:
    """The ledger's notes that templates of `rules.notes` did not write, whole or in part (an
    admin's own reasons aside): the report could show them in English only."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(PointEntry.__tablename__):
            return []
        found = connection.execute(
            select(PointEntry.note)
            .where(PointEntry.kind != SourceKind.ADJUSTMENT.value, PointEntry.note.is_not(None))
            .distinct()
        ).scalars()
        return sorted(note for note in found if not notes.fully_written(note))


def store_midnight() -> datetime:
    """A 00:00 UTC for a test whose store's clock runs around a midnight: today's before noon,
    else tomorrow's. Any time from 12 hours before it to 12 hours after it is then within a day of
    this machine's clock, at whatever hour the test runs (a store's clock further off is not
    believed, `sync.store_clock.MAX_PLAUSIBLE_SKEW`: a test that set the store to "yesterday,
    22:00" after 22:00 saw its sync fall back to this machine's clock, and failed two hours a
    day)."""
    now = datetime.now(UTC)
    today = datetime(now.year, now.month, now.day, tzinfo=UTC)
    return today if now.hour < 12 else today + timedelta(days=1)


@pytest.fixture
def at_store_time(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> Callable[[datetime], None]:
    """Set the time, within 12 hours of `store_midnight()`, for the store and for the sync: the
    sandbox's clock (its `Date` header and what it stamps) and the run's own clock
    (`sync.context.wall_clock`, which dates what a run records at its `now`) run on from it."""

    def set_time(moment: datetime) -> None:
        shift = moment - datetime.now(UTC)
        sandbox.set_clock_skew(shift.total_seconds())
        monkeypatch.setattr(
            "sync.context.wall_clock",
            lambda: (datetime.now(UTC) + shift).replace(microsecond=0),
        )

    return set_time


@pytest.fixture
def sync(config: Config, engine_for: Callable[[], Engine]) -> Callable[..., SyncSummary]:
    """Run the real sync; keyword arguments override `[sync]` settings or pass run options."""

    def run(
        cfg: Config | None = None,
        *,
        full: bool = False,
        dry_run: bool = False,
        **overrides: Any,
    ) -> SyncSummary:
        cfg = cfg or config
        if overrides:
            cfg = replace(cfg, sync=replace(cfg.sync, **overrides))
        return run_sync(sync_settings(cfg), full=full, dry_run=dry_run, engine=engine_for())

    return run


def balances_of(config: Config, engine: Engine) -> list[Any]:
    with session_scope(engine) as session:
        store_id = get_or_create_store(session, config.require_store().key).id
        return list_balances(session, store_id)


def always_check_known_orders() -> dict[str, Any]:
    """Sync settings making every run re-check known order ids (deleted orders show up at once)."""
    return {"reconcile_every_hours": 0}


def write_config_file(path: Path, server: SandboxServer, db_url: str, **store: Any) -> Path:
    extra = "".join(f"{k} = {v}\n" for k, v in store.items())
    path.write_text(
        "[store]\n"
        f'url = "{server.base_url}"\n'
        f'consumer_key = "{CONSUMER_KEY}"\n'
        f'consumer_secret = "{CONSUMER_SECRET}"\n'
        "allow_insecure_http = true\n"
        "max_requests_per_second = 500\n"
        f"{extra}"
        "[database]\n"
        f'url = "{db_url}"\n'
    )
    return path


@pytest.fixture
def hostile_store() -> Iterator[Callable[..., HostileStore]]:
    """Start hostile stores (tests/hostile_store.py: a behaviour, options); all stop at the end."""
    started: list[HostileStore] = []

    def start(behaviour: str, **options: Any) -> HostileStore:
        started.append(HostileStore(behaviour, **options).start())
        return started[-1]

    yield start
    for store in started:
        store.stop()
