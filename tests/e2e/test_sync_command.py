"""`loyalty sync` and `loyalty balances` as an owner or cron runs them, and rules that need products."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType

from sqlalchemy import Engine, select

from ledger.models import Category, TrackedOrder
from ledger.session import session_scope
from loyalty.config import Config
from rules.types import ItemOverride, PurchaseRuleBook, PurchaseRules
from sandbox.server import SandboxServer
from sandbox.store import SandboxStore
from sync.summary import SyncSummary
from tests.e2e.conftest import write_config_file
from tests.e2e.expected import expected_balances

GIFT_CARDS, ORGANIC = 19, 16


def loyalty(config_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "loyalty.cli", "--config", str(config_file), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_sync_json_then_balances_json_describe_the_ledger(
    sandbox: SandboxServer, store: SandboxStore, db_url: str, tmp_path: Path
) -> None:
    config_file = write_config_file(tmp_path / "loyalty.toml", sandbox, db_url)
    synced = loyalty(config_file, "sync", "--json")
    assert synced.returncode == 0, synced.stderr
    summary = json.loads(synced.stdout)
    assert summary["orders_seen"] >= store.count("orders")
    assert summary["requests"] == sandbox.request_log.count()
    assert summary["entries_appended"] > 0
    for key in ("net_points", "customers_written", "quarantined", "seconds"):
        assert key in summary

    listed = loyalty(config_file, "balances", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert {tuple(sorted(row)) for row in rows} == {("balance", "customer_id", "email", "lifetime")}
    guests = {row["email"]: row["balance"] for row in rows if row["customer_id"] is None}
    expected_guests = {h[1]: p for h, p in expected_balances(store).items() if h[0] == "guest"}
    assert {e: b for e, b in guests.items() if b} == expected_guests


def test_dry_run_prints_the_changes_it_would_make_and_a_second_dry_run_the_same(
    sandbox: SandboxServer, db_url: str, tmp_path: Path
) -> None:
    config_file = write_config_file(tmp_path / "loyalty.toml", sandbox, db_url)
    first = loyalty(config_file, "sync", "--dry-run")
    second = loyalty(config_file, "sync", "--dry-run")
    assert first.returncode == 0, first.stderr
    assert "Dry run: nothing was written." in first.stdout
    assert "Changes it would make:" in first.stdout
    assert "order:" in first.stdout
    assert "would append" in second.stdout
    assert sandbox.request_log.count(method="POST") == 0


def test_a_store_that_cannot_be_reached_exits_1_with_one_line(db_url: str, tmp_path: Path) -> None:
    config_file = tmp_path / "loyalty.toml"
    config_file.write_text(
        '[store]\nurl = "http://127.0.0.1:9"\nconsumer_key = "ck_x"\nconsumer_secret = "cs_y"\n'
        "allow_insecure_http = true\nmax_retry_seconds = 0\n"
        f'[database]\nurl = "{db_url}"\n'
    )
    done = loyalty(config_file, "sync")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "cs_y" not in done.stderr + done.stdout


def test_category_overrides_fetch_products_once_and_shape_the_points(
    store: SandboxStore,
    sandbox: SandboxServer,
    config: Config,
    sync: Callable[..., SyncSummary],
    engine_for: Callable[[], Engine],
) -> None:
    rules = PurchaseRules(
        category_overrides=MappingProxyType(
            {GIFT_CARDS: ItemOverride(excluded=True), ORGANIC: ItemOverride(multiplier=Decimal(2))}
        )
    )
    with_categories = replace(
        config, rules=replace(config.rules, purchase=PurchaseRuleBook((rules,)))
    )
    member = store.register_customer(email="organic@example.org")
    order = store.place_order(
        customer_id=member["id"], items=[(119, 1), (102, 1)], status="completed"
    )
    sync(with_categories)
    with session_scope(engine_for()) as session:
        points = session.execute(
            select(TrackedOrder.points).where(TrackedOrder.order_id == order["id"])
        ).scalar_one()
    organic_line = next(
        li for li in store.get("orders", order["id"])["line_items"] if li["product_id"] == 102
    )
    assert points == int(Decimal(organic_line["total"]) * 2)  # the gift card earns nothing
    product_requests = sandbox.request_log.count(path_prefix="/wp-json/wc/v3/products")
    assert 1 <= product_requests <= 2  # a hundred products a request, each fetched once
    with session_scope(engine_for()) as session:  # the products named their categories
        names = dict(session.execute(select(Category.category_id, Category.name)).all())
    assert (names[ORGANIC], names[GIFT_CARDS]) == ("Organic", "Gift cards")


def test_a_verbose_sync_over_oauth_never_prints_the_consumer_key_or_secret(
    sandbox: SandboxServer, db_url: str, tmp_path: Path
) -> None:
    from tests.e2e.conftest import CONSUMER_KEY, CONSUMER_SECRET

    config_file = write_config_file(tmp_path / "loyalty.toml", sandbox, db_url)
    done = loyalty(config_file, "-v", "sync")
    assert done.returncode == 0, done.stderr
    assert "DEBUG" in done.stderr, "verbose logging should include the HTTP library's request lines"
    for secret in (CONSUMER_KEY, CONSUMER_SECRET):
        assert secret not in done.stdout
        assert secret not in done.stderr
