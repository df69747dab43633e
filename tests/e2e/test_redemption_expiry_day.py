"""Found by a review (4 Dec): `loyalty redeem` on the day a lot expires, before that day's expiry has run (the
worker's beat is at 00:05 UTC, the sync's expiry runs at its first run of the day), spends the
lot; the expiry run then expires the same lot again. The customer paid for one coupon twice:
1000 points for the coupon and the same 1000 points expired, leaving a balance of -1000."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from ledger.admin import adjust
from ledger.customers import get_or_create_store
from ledger.models import Balance, PointEntry
from ledger.session import session_scope
from loyalty.cli import main
from loyalty.config import Config
from sandbox.server import SandboxServer
from tests.e2e.conftest import write_config_file
from tests.e2e.test_redemption import alice, store  # noqa: F401

CONFIG = """
[redemption]
tiers = [{name = "10-off", points = 1000, amount = "10.00"}]
[expiry]
enabled = true
days = 365
"""


@pytest.fixture
def config_file(sandbox: SandboxServer, db_url: str, tmp_path: Path) -> Path:
    path = write_config_file(tmp_path / "loyalty.toml", sandbox, db_url)
    path.write_text(path.read_text() + CONFIG)
    return path


def lot_expiring_in(config: Config, engine: Engine, wc_id: int, days: int) -> date:
    """1000 points for Alice, earned so that they expire at 00:00 UTC `days` from today (0:
    today, already); the day they expire."""
    today = datetime.now(UTC).date()
    earned = datetime.combine(today - timedelta(days=365 - days), time(0, 0, 1), tzinfo=UTC)
    with session_scope(engine) as session:
        store_id = get_or_create_store(session, config.require_store().key).id
        adjust(session, store_id, wc_id, 1000, "points a year old", now=earned)
    return today + timedelta(days=days)


def redeem(config_file: Path, wc_id: int) -> int:
    return main(
        ["--config", str(config_file), "redeem", "--customer", str(wc_id), "--tier", "10-off"]
    )


def kinds_and_balance(engine: Engine) -> tuple[int, list[tuple[str, int]]]:
    with session_scope(engine) as session:
        balance = session.execute(select(Balance.balance)).scalar_one()
        moves = session.execute(select(PointEntry.kind, PointEntry.points).order_by(PointEntry.id))
        return int(balance), [(str(kind), int(points)) for kind, points in moves]


def test_points_past_their_expiry_are_not_spent_before_the_days_run_records_it(
    config: Config,
    config_file: Path,
    engine_for: Callable[[], Engine],
    alice: int,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    engine = engine_for()
    lot_expiring_in(config, engine, alice, 0)  # at 00:00 UTC today (still so past midnight)

    # this morning, before any expiry ran today: the admin tries to redeem the 1000 points
    assert redeem(config_file, alice) == 1
    refused = capsys.readouterr().err
    assert "the balance is 0: 1000 points missing (1000 points expired" in refused, refused
    # then the day's expiry runs (the worker's beat, cron, or the first sync of the day)
    assert main(["--config", str(config_file), "expire"]) == 0
    capsys.readouterr()

    # 1000 points earned, expired today before anything was spent: no coupon, no debt. (The
    # redemption went through before, and the run expired the same lot again: -1000.)
    assert kinds_and_balance(engine) == (0, [("adjustment", 1000), ("expiry", -1000)])


def test_points_not_expired_yet_are_spent_and_the_run_takes_nothing_more(
    config: Config,
    config_file: Path,
    engine_for: Callable[[], Engine],
    alice: int,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The same lot two days younger (a run across midnight still finds it unexpired): spent
    today, and the run of the day it expires finds nothing left to expire."""
    engine = engine_for()
    expires = lot_expiring_in(config, engine, alice, 2)

    assert redeem(config_file, alice) == 0, capsys.readouterr()
    capsys.readouterr()
    expire = ["--config", str(config_file), "expire", "--dry-run", "--json", "--as-of"]
    assert main([*expire, expires.isoformat()]) == 0
    assert json.loads(capsys.readouterr().out)["total"]["expired_points"] == 0
    assert kinds_and_balance(engine) == (0, [("adjustment", 1000), ("redemption", -1000)])
