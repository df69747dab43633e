"""Pages of orders decided in groups (sync/order_source.py): the pages fetched already are decided
and committed with their cursor in one transaction, an order listed twice is decided once on its
latest copy, and a run that fails inside a group leaves the ledger at the group before it.

Whether pages are "fetched already" depends on timing; these tests make it deterministic: each
group is taken only once its listing's read-ahead is full (or the listing is done), so the groups
are as big as the bound and the read-ahead allow.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select

from ledger.migrate import upgrade
from ledger.models import PointEntry, SyncCursor, TrackedOrder
from ledger.session import create_engine_for, session_scope
from loyalty.config import Config
from loyalty.sync_settings import sync_settings
from sandbox.store import SandboxStore
from sync import order_source
from sync.ahead import Prefetched
from sync.context import SyncContext
from sync.order_points import OrderPoints, Outcome
from sync.service import run_sync
from sync.summary import SyncSummary
from tests.e2e.conftest import balances_of, small_store
from tests.e2e.test_order_sync import assert_exact

Sync = Callable[..., SyncSummary]
_groups = Prefetched.groups


def _groups_when_full(self: Prefetched[Any], size: Any, bound: int) -> Iterator[list[Any]]:
    """`Prefetched.groups`, each group taken once the read-ahead is full or the listing done."""
    self.start()
    inner = _groups(self, size, bound)
    while True:
        deadline = time.monotonic() + 60
        while not self._out.full() and self._thread is not None and self._thread.is_alive():
            assert time.monotonic() < deadline, "the listing's thread never filled its read-ahead"
            time.sleep(0.005)
        try:
            group = next(inner)
        except StopIteration:
            return
        yield group


@pytest.fixture
def full_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Prefetched, "groups", _groups_when_full)


def _ledger(engine: Engine) -> tuple[dict[str, int], dict[int, tuple[Any, ...]]]:
    """What each reference holds, and each tracked order's decided state."""
    with session_scope(engine) as session:
        held = dict(
            session.execute(
                select(PointEntry.source_ref, func.sum(PointEntry.points)).group_by(
                    PointEntry.source_ref
                )
            ).all()
        )
        tracked = {
            row.order_id: (row.status, row.points, row.fingerprint, row.deleted)
            for row in session.execute(select(TrackedOrder)).scalars()
        }
    return {ref: int(points) for ref, points in held.items() if points}, tracked


def _on_fresh_db(config: Config, tmp_path: Path, name: str) -> tuple[Config, Engine]:
    url = f"sqlite:///{tmp_path / name}"
    upgrade(url)
    return replace(config, database=replace(config.database, url=url)), create_engine_for(url)


@pytest.fixture
def store() -> SandboxStore:
    # 600 orders in pages of 25: several groups of 200 (GROUP_ITEMS in the tests that set it)
    return small_store(seed=23, customers=40, orders=600)


def _small_pages(config: Config) -> Config:
    return replace(config, store=replace(config.store, per_page=25))


def test_pages_fetched_already_are_decided_in_fewer_transactions_with_the_same_ledger(
    full_groups: None,
    store: SandboxStore,
    config: Config,
    engine_for: Callable[[], Engine],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = _small_pages(config)
    commits: dict[str, int] = {}

    def run(name: str, engine: Engine, cfg: Config) -> None:
        count = 0

        def on_commit(_connection: Any) -> None:
            nonlocal count
            count += 1

        event.listen(engine, "commit", on_commit)
        run_sync(sync_settings(cfg), engine=engine)
        event.remove(engine, "commit", on_commit)
        commits[name] = count

    grouped = engine_for()
    run("grouped", grouped, config)
    assert_exact(store, config, grouped)

    one_page, engine = _on_fresh_db(config, tmp_path, "one_page.db")
    monkeypatch.setattr(order_source, "GROUP_ITEMS", 1)  # a group is the page that is ready
    run("one page", engine, one_page)
    assert _ledger(engine) == _ledger(grouped)
    # ~25 pages of live orders in two groups of 500 (their read-ahead holds 20 pages): ~23
    # commits fewer (less a few: the statistics are refreshed after 4 and 16 pages, once grouped)
    assert commits["one page"] - commits["grouped"] >= 20
    engine.dispose()


def test_an_order_listed_twice_in_a_group_is_decided_once_on_its_latest_copy(
    full_groups: None,
    store: SandboxStore,
    config: Config,
    engine_for: Callable[[], Engine],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The store lists an order a first time earning points, then (it was cancelled meanwhile)
    again on a later page: deciding the pages one after another awards and takes back; one group
    decides the cancelled copy only. Both leave the ledger as the store says."""
    config = replace(config, store=replace(config.store, per_page=100))
    monkeypatch.setattr(order_source, "GROUP_ITEMS", 1_000)  # every page in one group
    earning = [o for o in store.all("orders") if o["status"] == "completed"]
    cancelled = earning[len(earning) // 2]
    store._data["orders"][cancelled["id"]]["status"] = "cancelled"
    stale_copies = 0
    real_fetch = order_source.fetch_orders_window

    def listed_twice(*args: Any, **kwargs: Any) -> Iterator[Any]:
        """The listing's pages, with the order's earlier (completed) copy on the first page."""
        nonlocal stale_copies
        pages = list(real_fetch(*args, **kwargs))
        latest = [i for p in pages for i in p.items if i.get("id") == cancelled["id"]]
        if latest and latest[0] not in pages[0].items:
            stale = copy.deepcopy(latest[0])
            stale["status"] = "completed"
            pages[0] = replace(pages[0], items=[stale, *pages[0].items])
            stale_copies += 1
        yield from pages

    monkeypatch.setattr(order_source, "fetch_orders_window", listed_twice)
    ref = f"order:{cancelled['id']}"

    grouped = engine_for()
    run_sync(sync_settings(config), engine=grouped)
    assert stale_copies == 1, "the order should have been on a later page than the first"
    assert_exact(store, config, grouped)
    with session_scope(grouped) as session:
        entries = session.execute(
            select(func.count()).where(PointEntry.source_ref == ref)
        ).scalar_one()
        row = session.get(TrackedOrder, (1, cancelled["id"]))
    assert entries == 0  # decided once, cancelled: it never held anything
    assert row is not None
    assert row.status == "cancelled"

    one_page, engine = _on_fresh_db(config, tmp_path, "one_page.db")
    monkeypatch.setattr(order_source, "GROUP_ITEMS", 1)
    run_sync(sync_settings(one_page), engine=engine)
    with session_scope(engine) as session:
        entries = session.execute(
            select(func.count()).where(PointEntry.source_ref == ref)
        ).scalar_one()
    assert entries == 2  # awarded on the first page, taken back on the later one
    assert _ledger(engine)[0] == _ledger(grouped)[0]
    assert balances_of(one_page, engine) == balances_of(config, grouped)
    engine.dispose()


@pytest.mark.slow
def test_a_run_failing_inside_a_group_leaves_the_group_before_it_and_the_next_run_ends_exact(
    full_groups: None,
    store: SandboxStore,
    config: Config,
    sync: Sync,
    engine_for: Callable[[], Engine],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = _small_pages(config)
    monkeypatch.setattr(order_source, "GROUP_ITEMS", 200)  # 8 pages of 25
    groups: list[list[int]] = []
    cursors: list[datetime | None] = []
    real_process = OrderPoints.process
    real_save = SyncContext.save_cursor

    def process(self: OrderPoints, session: Any, items: list[Any], **kwargs: Any) -> Outcome:
        outcome = real_process(self, session, items, **kwargs)  # written, not committed yet
        groups.append([item["id"] for item in items])
        if len(groups) == 2:
            raise RuntimeError("killed while deciding the second group")
        return outcome

    def save_cursor(self: SyncContext, session: Any, name: str, *args: Any) -> None:
        if name == "orders":
            cursors.append(args[0])
        real_save(self, session, name, *args)

    monkeypatch.setattr(OrderPoints, "process", process)
    monkeypatch.setattr(SyncContext, "save_cursor", save_cursor)
    with pytest.raises(RuntimeError, match="second group"):
        sync(config)
    # groups of several pages (up to the bound; the time slices' last pages are partial)
    assert len(groups) == 2
    assert all(100 < len(g) <= 225 for g in groups)

    engine = engine_for()
    with session_scope(engine) as session:
        tracked = set(session.execute(select(TrackedOrder.order_id)).scalars())
        refs = set(session.execute(select(PointEntry.source_ref)).scalars())
        cursor = session.get(SyncCursor, (1, "orders"))
    assert tracked == set(groups[0])  # the first group, all of it; nothing of the second
    assert {r for r in refs if r.startswith("order:")} <= {f"order:{i}" for i in groups[0]}
    assert cursor is not None
    assert cursor.position == cursors[0]

    monkeypatch.setattr(OrderPoints, "process", real_process)
    sync(config)
    assert_exact(store, config, engine_for())


def test_refunds_this_run_listed_decide_as_the_ledgers_cache_does(
    store: SandboxStore,
    config: Config,
    sync: Sync,
    engine_for: Callable[[], Engine],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every group's refunds, as the run's map gives them, equal the cache's (read and parsed
    again), and most come from the map."""
    real = OrderPoints._refund_details
    served = compared = 0

    def both(self: OrderPoints, session: Any, orders: Any, outcome: Outcome, now: Any) -> Any:
        nonlocal served, compared
        run_map = dict(self._run_refunds)
        from_map = real(self, session, orders, outcome, now)
        served += len(run_map.keys() & from_map.keys())
        self._run_refunds, kept = {}, self._run_refunds
        from_cache = real(self, session, orders, Outcome(), now)
        self._run_refunds = kept
        assert from_map == from_cache
        compared += len(from_map)
        return from_map

    monkeypatch.setattr(OrderPoints, "_refund_details", both)
    sync()
    assert compared > 0
    assert served == compared  # every refund the orders named was listed by this run
    assert_exact(store, config, engine_for())
