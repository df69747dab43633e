"""`loyalty resync --recalculate` over every source (orders with their first-order bonuses, reviews,
blog comments, signups) against the sandbox store. After a rule change, the differences, per
customer, are exactly what the store's data gives under the old and the new rules computed
independently (`tests/e2e/expected.py`, not `rules/`). The real command, killed (SIGKILL) halfway
and run again, appends exactly the total its dry run printed; a progress bar on a terminal, log
lines without one."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import astuple, dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select

from ledger.balances import verify_balances
from ledger.models import PointEntry
from ledger.session import session_scope
from loyalty.config import Config, load_config
from loyalty.sync_settings import sync_settings
from sandbox.server import SandboxServer
from sandbox.store import SandboxStore
from sync.recalculate import NOTE, run_recalculation
from sync.summary import SyncSummary
from tests.e2e.conftest import balances_of, small_store, write_config_file
from tests.e2e.expected import Holder, expected_activity, expected_balances, ledger_balances, merged

Sync = Callable[..., SyncSummary]
WP_USER, WP_PASSWORD = "editor", "abcd efgh ijkl mnop qrst uvwx"  # the e2e sandbox's
CAP = 3  # comments a day


@dataclass(frozen=True)
class Rules:
    review: int = 10
    comment: int = 5
    signup: int = 50
    first_order: int = 20
    rate: str = "1"  # points per 1.00 of the rule set in force now (v2 from today when not 1)

    def toml(self) -> str:
        purchase = '[rules.purchase]\nversion = "v1"\n'
        if self.rate != "1":
            today = datetime.now(UTC).date().isoformat()
            purchase = (
                f'[rules.purchase]\nversion = "v2"\npoints_per_unit = "{self.rate}"\n'
                f"effective_from = {today}\n"
                '[[rules.purchase.previous]]\nversion = "v1"\neffective_from = 1970-01-01\n'
            )
        return (
            f'[wordpress]\nusername = "{WP_USER}"\napp_password = "{WP_PASSWORD}"\n'
            + purchase
            + f"[rules.first_order]\npoints = {self.first_order}\n"
            + f"[rules.review]\nenabled = true\npoints = {self.review}\n"
            + f"[rules.comment]\nenabled = true\npoints = {self.comment}\nmax_per_day = {CAP}\n"
            + f"[rules.signup]\npoints = {self.signup}\n"
        )

    def expected(self, store: SandboxStore, registered: list[int]) -> dict[Holder, int]:
        """What every holder should hold under these rules, from the store's data alone."""
        return merged(
            expected_balances(store, Decimal(self.rate), first_order=self.first_order),
            expected_activity(
                store, review_points=self.review, comment_points=self.comment, comment_cap=CAP
            ),
            {("account", wc_id): self.signup for wc_id in registered},
        )


OLD = Rules()
CHANGES = {
    "reviews": Rules(review=15),
    "comments": Rules(comment=7),
    "signups": Rules(signup=80),
    "first-order bonus": Rules(first_order=30),
    "purchase rate": Rules(rate="2"),
}
ALL = Rules(review=15, comment=7, signup=80, first_order=30, rate="2")


@pytest.fixture
def store() -> SandboxStore:
    # More than a hundred orders: the orders are decided again in two batches.
    return small_store(seed=31, customers=30, orders=150, reviews=50, comments=50)


@dataclass
class Shop:
    """The store synced under the old rules, with accounts registered after signups started."""

    store: SandboxStore
    registered: list[int]
    config_file: Callable[[Rules], Path]
    config: Callable[[Rules], Config]


@pytest.fixture
def shop(
    store: SandboxStore, sandbox: SandboxServer, db_url: str, sync: Sync, tmp_path: Path
) -> Shop:
    def config_file(rules: Rules) -> Path:
        path = write_config_file(
            tmp_path / ("-".join(map(str, astuple(rules))) + ".toml"), sandbox, db_url
        )
        path.write_text(path.read_text() + rules.toml())
        return path

    def config(rules: Rules) -> Config:
        return load_config(config_file(rules), env={})

    sync(config(OLD))  # signups start earning here
    registered = [int(store.register_customer(email=f"new{i}@example.com")["id"]) for i in (1, 2)]
    sync(config(OLD))
    return Shop(store, registered, config_file, config)


def holders(changes: list[Any]) -> dict[Holder, int]:
    """A recalculation's customers (objects or JSON) by holder, as the expectations name them."""

    def get(change: Any, key: str) -> Any:
        return change[key] if isinstance(change, dict) else getattr(change, key)

    return {
        (("account", get(c, "customer_id")) if get(c, "customer_id") else ("guest", get(c, "email"))): get(c, "points")
        for c in changes
    }  # fmt: skip


def difference(new: dict[Holder, int], old: dict[Holder, int]) -> dict[Holder, int]:
    """Per holder, what moves from `old` to `new` (zeros left out)."""
    return {h: d for h in new.keys() | old.keys() if (d := new.get(h, 0) - old.get(h, 0))}


@pytest.mark.parametrize("changed", list(CHANGES), ids=list(CHANGES))
def test_a_rule_change_of_each_source_moves_exactly_the_independent_difference(
    changed: str, shop: Shop, sandbox: SandboxServer, sync: Sync, engine_for: Callable[[], Engine]
) -> None:
    rules = CHANGES[changed]
    old = OLD.expected(shop.store, shop.registered)
    new = rules.expected(shop.store, shop.registered)
    config = shop.config(rules)
    assert ledger_balances(balances_of(config, engine_for())) == old
    assert sync(config).entries_appended == 0  # a sync alone applies no rule change to the past

    sandbox.request_log.clear()
    run = run_recalculation(sync_settings(config), point_value=Decimal("0.01"), engine=engine_for())

    # The ledger keeps no order amounts: the orders are read again by id, a hundred a request
    # (the trashed ones from the trash). Everything else is decided from the ledger.
    asked = [
        (e.path.rsplit("/", 1)[-1], e.query.get("status")) for e in sandbox.request_log.entries()
    ]
    assert sorted(asked) == [("orders", "any"), ("orders", "any"), ("orders", "trash")]
    expected = difference(new, old)
    assert expected, "the change must move points"
    assert holders(run.customers) == expected
    assert (run.total, run.liability(run.total)) == (
        sum(expected.values()),
        Decimal(sum(expected.values())) / 100,
    )
    assert ledger_balances(balances_of(config, engine_for())) == new
    assert sync(config).entries_appended == 0  # the sync agrees with what was recalculated
    again = run_recalculation(sync_settings(config), point_value=Decimal(1), engine=engine_for())
    assert again.total == 0


def cli(config_file: Path, *flags: str, stderr: Any = subprocess.PIPE) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "loyalty.cli", "--config", str(config_file), "resync"]
    return subprocess.Popen(
        [*command, "--recalculate", "--json", *flags], stdout=subprocess.PIPE, stderr=stderr
    )


def on_a_terminal(config_file: Path, *flags: str) -> tuple[dict[str, Any], str]:
    """The command with its stderr on a pseudo-terminal: (its JSON, what the terminal showed)."""
    master, slave = pty.openpty()
    shown: list[bytes] = []

    def read() -> None:
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # the terminal closed: the command ended
                return
            if not data:
                return
            shown.append(data)

    reader = threading.Thread(target=read)
    reader.start()
    process = cli(config_file, *flags, stderr=slave)
    os.close(slave)
    out, _ = process.communicate(timeout=120)
    reader.join(timeout=120)
    os.close(master)
    assert process.returncode == 0, b"".join(shown).decode()
    return json.loads(out), b"".join(shown).decode()


def marked_total(engine: Engine) -> int:
    with session_scope(engine) as session:
        total = session.execute(
            select(func.coalesce(func.sum(PointEntry.points), 0)).where(
                PointEntry.note.startswith(NOTE)
            )
        ).scalar_one()
    return int(total)


def entries(engine: Engine) -> int:
    with session_scope(engine) as session:
        return int(session.execute(select(func.count()).select_from(PointEntry)).scalar_one())


@pytest.mark.slow
def test_killed_halfway_and_run_again_it_appends_exactly_what_the_dry_run_printed(
    shop: Shop, sandbox: SandboxServer, sync: Sync, engine_for: Callable[[], Engine]
) -> None:
    engine = engine_for()
    config_file = shop.config_file(ALL)
    before = entries(engine)

    dry, terminal = on_a_terminal(config_file, "--dry-run")
    assert entries(engine) == before  # a dry run changes nothing
    assert "\r" in terminal  # a progress bar, redrawn in place
    assert "recalculate orders" in terminal
    assert dry["total"]["decided"].keys() == {"orders", "reviews", "comments", "signups"}

    orders_asked = 0
    killed = cli(config_file)

    def kill_at_the_second_batch(method: str, path: str, query: dict[str, object]) -> None:
        nonlocal orders_asked
        orders_asked += path.endswith("/orders")
        if orders_asked == 2:  # the first hundred orders are committed, the next asked for
            os.kill(killed.pid, signal.SIGKILL)

    sandbox.before_request = kill_at_the_second_batch
    assert killed.wait(timeout=120) == -signal.SIGKILL
    sandbox.before_request = None
    assert entries(engine) > before  # killed halfway: some of it landed
    assert 0 < marked_total(engine) != dry["total"]["points"]

    finish = cli(config_file)
    out, err = finish.communicate(timeout=120)
    assert finish.returncode == 0, err.decode()
    real = json.loads(out)
    log = err.decode()  # not a terminal: log lines, as under cron
    assert "recalculate orders: " in log
    assert "recalculate signups: " in log
    assert "\r" not in log

    assert real["resumed"] is True
    assert real["total"]["points"] == dry["total"]["points"] == marked_total(engine)
    assert real["customers"] == dry["customers"]
    new = ALL.expected(shop.store, shop.registered)
    assert holders(real["customers"]) == difference(new, OLD.expected(shop.store, shop.registered))
    assert ledger_balances(balances_of(shop.config(ALL), engine)) == new
    with session_scope(engine) as session:
        assert verify_balances(session) == []

    again = cli(config_file)
    out, _ = again.communicate(timeout=120)
    assert json.loads(out)["total"]["points"] == 0  # a replay appends nothing
    assert sync(shop.config(ALL)).entries_appended == 0


def test_orders_owners_are_looked_up_a_batch_at_a_time(
    shop: Shop, engine_for: Callable[[], Engine]
) -> None:
    engine = engine_for()
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    settings = sync_settings(shop.config(OLD))
    run = run_recalculation(settings, point_value=Decimal(1), engine=engine, dry_run=True)
    assert run.decided["orders"] == 150
    owners = [s for s in statements if "FROM customers" in s]
    assert len(owners) <= 2 * 5  # a few per batch of a hundred orders, not one per owner


def test_since_and_customer_limit_what_is_recalculated(
    shop: Shop, engine_for: Callable[[], Engine]
) -> None:
    settings = sync_settings(shop.config(ALL))

    def run(**scope: Any) -> dict[Holder, int]:
        found = run_recalculation(
            settings, point_value=Decimal(1), engine=engine_for(), dry_run=True, **scope
        )
        return holders(found.customers)

    today = datetime.now(UTC).date()  # only the two accounts registered today are that recent
    assert run(since=today) == {("account", wc_id): 30 for wc_id in shop.registered}
    assert run(customer=shop.registered[0]) == {("account", shop.registered[0]): 30}
    everyone = difference(
        ALL.expected(shop.store, shop.registered), OLD.expected(shop.store, shop.registered)
    )
    accounts = sorted(h for h in everyone if h[0] == "account" and h[1] not in shop.registered)
    assert run(customer=accounts[0][1]) == {accounts[0]: everyone[accounts[0]]}
    assert run(customer=999_999) == {}  # an account the ledger does not know
