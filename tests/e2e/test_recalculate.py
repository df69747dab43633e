"""`loyalty resync --recalculate` of a purchase rate against the sandbox store: a dry run changes
nothing, the real run appends exactly the total the dry run printed, as `adjustment` entries beside
the orders, and a sync afterwards keeps the difference. Every source, and a run killed halfway:
`test_recalculate_sources.py`."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from ledger.balances import verify_balances
from ledger.models import PointEntry
from ledger.session import session_scope
from loyalty.cli import main
from loyalty.config import Config
from rules.types import PurchaseRuleBook, PurchaseRules
from sandbox.server import SandboxServer
from sandbox.store import SandboxStore
from sync.summary import SyncSummary
from tests.e2e.conftest import write_config_file

Sync = Callable[..., SyncSummary]
EMAILS = ("alice@example.com", "bob@example.com")
OLD = PurchaseRules(version="v1")
NEW = replace(
    OLD, version="v2", points_per_unit=Decimal(2), effective_from=datetime.now(UTC).date()
)


class Crash(BaseException):
    """Stands for the process being killed."""


@pytest.fixture
def store() -> SandboxStore:
    shop = SandboxStore()
    for email in EMAILS:
        shop.register_customer(email=email)
    category = shop.add_category("Gifts")["id"]
    shop.add_product(
        name="Card", price=Decimal("1.00"), category_ids=[category], virtual=True, taxable=False
    )
    yesterday = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    product = int(shop.all("products")[0]["id"])
    with shop.clock_at(yesterday):  # created before the new rule set took effect
        for email, cards in ((EMAILS[0], 50), (EMAILS[0], 30), (EMAILS[1], 20)):
            customer = shop.customer_id_by_email(email)
            assert customer is not None
            order = shop.place_order(customer_id=customer, items=[(product, cards)])
            shop.set_order_status(order["id"], "completed")
    return shop


def entries(engine: Engine) -> int:
    with session_scope(engine) as session:
        return int(session.execute(select(func.count()).select_from(PointEntry)).scalar_one())


def meta(store: SandboxStore, email: str) -> Any:
    customer = store.customer_id_by_email(email)
    assert customer is not None
    found = store.get("customers", customer)["meta_data"]
    return next((m["value"] for m in found if m["key"] == "loyalty_points"), None)


@pytest.fixture
def changed(config: Config) -> Config:
    return replace(
        config, rules=replace(config.rules, purchase=PurchaseRuleBook(versions=(OLD, NEW)))
    )


def test_a_dry_run_changes_nothing_and_the_real_run_appends_its_total(
    config: Config,
    changed: Config,
    store: SandboxStore,
    sandbox: SandboxServer,
    sync: Sync,
    engine_for: Callable[[], Engine],
    db_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    engine = engine_for()
    sync(replace(config, rules=replace(config.rules, purchase=PurchaseRuleBook(versions=(OLD,)))))
    assert sync(changed).entries_appended == 0  # old orders keep the rule set they were made under
    before = entries(engine)
    path = write_config_file(tmp_path / "loyalty.toml", sandbox, db_url)
    path.write_text(
        path.read_text()
        + '[rules.purchase]\nversion = "v2"\npoints_per_unit = "2"\n'
        + f"effective_from = {datetime.now(UTC).date().isoformat()}\n"
        + '[[rules.purchase.previous]]\nversion = "v1"\npoints_per_unit = "1"\n'
        + "effective_from = 1970-01-01\n"
    )
    args = ["--config", str(path), "resync", "--recalculate", "--json"]

    assert main([*args, "--dry-run"]) == 0
    dry = json.loads(capsys.readouterr().out)
    assert entries(engine) == before
    assert main(args) == 0
    real = json.loads(capsys.readouterr().out)
    assert main(args) == 0
    again = json.loads(capsys.readouterr().out)

    assert dry["total"] == {
        "decided": {"orders": 3},
        "customers": 2,
        "points": 100,
        "liability": "1.00",
    }
    assert real["total"] == dry["total"]
    assert [(c["customer_id"] is not None, c["email"], c["points"]) for c in real["customers"]] == [
        (True, EMAILS[0], 80),
        (True, EMAILS[1], 20),
    ]
    assert entries(engine) == before + 3
    assert again["total"]["points"] == 0  # nothing left to change
    sync(changed)
    assert (meta(store, EMAILS[0]), meta(store, EMAILS[1])) == ("160", "40")
    assert sync(changed).entries_appended == 0  # the difference stays beside the orders
    with session_scope(engine) as session:
        assert verify_balances(session) == []
        kinds = session.execute(
            select(PointEntry.kind, PointEntry.rule_version).where(
                PointEntry.source_ref.like("recalc:%")
            )
        ).all()
    assert set(kinds) == {("adjustment", "v2")}
