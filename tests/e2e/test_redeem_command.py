"""`loyalty redeem` and `loyalty redemptions` as an admin runs them, against the sandbox."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from ledger.models import PointEntry, Redemption
from ledger.session import session_scope
from loyalty.cli import main
from loyalty.config import Config
from loyalty.errors import StoreRejected
from loyalty.sync_settings import make_client
from sandbox.server import SandboxServer
from sandbox.store import SandboxStore
from sync.redemptions import Request
from tests.e2e.conftest import write_config_file
from tests.e2e.test_redemption import (  # noqa: F401 # fixtures
    EMAIL,
    FlakyClient,
    alice,
    answer_lost,
    give,
    ours,
    redeemer,
    store,
    tiered,
)

REDEMPTION = """
[redemption]
tiers = [{name = "10-off", points = 1000, amount = "10.00"}, {name = "40-off", points = 3400, amount = "40.00"}]
coupon_days = 30
"""


@pytest.fixture
def config_file(sandbox: SandboxServer, db_url: str, tmp_path: Path) -> Path:
    path = write_config_file(tmp_path / "loyalty.toml", sandbox, db_url)
    path.write_text(path.read_text() + REDEMPTION)
    return path


def run(config_file: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["--config", str(config_file), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def counts(engine: Engine) -> tuple[int, int]:
    with session_scope(engine) as session:
        redemptions = session.execute(select(func.count()).select_from(Redemption)).scalar_one()
        entries = session.execute(select(func.count()).select_from(PointEntry)).scalar_one()
        return redemptions, entries


def test_redeem_prints_code_amount_expiry_and_new_balance(
    config: Config,
    engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
    config_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    give(config, engine, alice, 1200)

    code, out, err = run(
        config_file, capsys, "redeem", "--customer", str(alice), "--tier", "10-off"
    )

    assert code == 0, err
    [coupon] = ours(store, 1)
    assert f"coupon {coupon['code']}: 10.00 off for customer {alice}, expires " in out
    assert coupon["date_expires_gmt"][:10] in out
    assert out.rstrip().endswith("balance now 200")


def test_redeem_json_has_the_documented_fields(
    config: Config,
    engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
    config_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    give(config, engine, alice, 3500)

    code, out, err = run(
        config_file, capsys, "redeem", "--customer", str(alice), "--tier", "40-off", "--json"
    )

    assert code == 0, err
    data = json.loads(out)
    assert sorted(data) == sorted(
        ["redemption_id", "code", "amount", "points", "expires", "balance"]
    )
    assert (data["amount"], data["points"], data["balance"]) == ("40.00", 3400, 100)
    [coupon] = ours(store, data["redemption_id"])
    assert coupon["code"] == data["code"]
    assert data["expires"].startswith(coupon["date_expires_gmt"])


def test_too_few_points_exit_1_saying_how_many_are_missing_and_write_nothing(
    config: Config,
    engine: Engine,
    sandbox: SandboxServer,
    alice: int,  # noqa: F811
    config_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    give(config, engine, alice, 999)
    before = counts(engine)

    code, out, err = run(
        config_file, capsys, "redeem", "--customer", str(alice), "--tier", "10-off"
    )

    assert code == 1
    assert err.strip() == (
        f"loyalty: error: customer {alice} cannot redeem: the 10-off tier needs 1000 points,"
        " the balance is 999: 1 point missing"
    )
    assert out == ""
    assert counts(engine) == before
    assert sandbox.request_log.count() == 0


def test_dry_run_says_what_it_would_do_and_writes_nothing(
    config: Config,
    engine: Engine,
    sandbox: SandboxServer,
    alice: int,  # noqa: F811
    config_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    give(config, engine, alice, 1500)
    before = counts(engine)

    code, out, err = run(
        config_file, capsys, "redeem", "--customer", str(alice), "--tier", "10-off", "--dry-run"
    )

    assert code == 0, err
    assert "would redeem 1000 points for a 10.00 coupon, leaving 500 points" in out
    assert counts(engine) == before
    assert sandbox.request_log.count() == 0


def test_an_unknown_customer_is_refused_saying_the_ledger_has_none(
    config_file: Path,
    alice: int,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    """ "the balance is 0" suggested the account was found (a review, 3 Dec)."""
    code, _, err = run(config_file, capsys, "redeem", "--customer", "999", "--tier", "10-off")

    assert code == 1
    assert "customer 999 cannot redeem: the ledger has no customer 999: nothing earned" in err


def test_redeem_needs_tiers_or_a_rate(
    sandbox: SandboxServer, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bare = write_config_file(tmp_path / "bare.toml", sandbox, db_url)
    main(["--config", str(bare), "db", "upgrade"])

    code, _, err = run(bare, capsys, "redeem", "--customer", "1", "--points", "100")

    assert code == 2
    assert "nothing is redeemable: set [redemption] tiers or points_per_unit" in err


def test_tier_and_points_are_mutually_exclusive(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        config_file, capsys, "redeem", "--customer", "1", "--tier", "a", "--points", "5"
    )
    assert code == 2
    assert "not allowed with argument" in err


def test_redemptions_pending_lists_the_unfinished_ones(
    tiered: Config,  # noqa: F811
    engine: Engine,
    alice: int,  # noqa: F811
    config_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store_id = give(tiered, engine, alice, 2000)
    issued = redeemer(tiered, engine, store_id).redeem(Request(alice, EMAIL, tier="10-off"))
    pending = redeemer(tiered, engine, store_id).open(Request(alice, EMAIL, tier="10-off"))

    code, out, err = run(config_file, capsys, "redemptions", "--pending", "--json")
    assert code == 0, err
    assert [(r["redemption_id"], r["status"]) for r in json.loads(out)] == [(pending, "pending")]

    code, out, _ = run(config_file, capsys, "redemptions")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == [
        "id",
        "customer",
        "status",
        "points",
        "amount",
        "code",
        "created",
        "note",
    ]
    assert lines[1].split()[:5] == [str(pending), str(alice), "pending", "1000", "10.00"]
    assert lines[2].split()[:5] == [
        str(issued.redemption_id),
        str(alice),
        "issued",
        "1000",
        "10.00",
    ]


def test_redemptions_cancel_ends_one_the_store_will_not_finish_and_returns_its_points(
    tiered: Config,  # noqa: F811
    engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
    config_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The store answers the coupon's POST with 403 every time (a security plugin): the
    redemption stayed pending for good, its points held, with no way out but an adjustment that
    would pay twice if the coupon came later (found by a review, 4 Dec)."""
    store_id = give(tiered, engine, alice, 1000)

    def forbidden(endpoint: str, data: Any) -> Any:
        raise StoreRejected("POST coupons: HTTP 403", status=403, code="rest_forbidden")

    client = FlakyClient(make_client(tiered.require_store()), post=forbidden)
    held = redeemer(tiered, engine, store_id, client=client, claim_seconds=0)
    pending = held.redeem(Request(alice, EMAIL, tier="10-off"))
    assert (pending.status, pending.balance) == ("pending", 0)

    code, out, err = run(config_file, capsys, "redemptions", "--cancel", str(pending.redemption_id))
    again, _, err_again = run(
        config_file, capsys, "redemptions", "--cancel", str(pending.redemption_id)
    )

    assert code == 0, err
    assert out.strip() == (
        f"redemption {pending.redemption_id} cancelled: 1000 points returned, balance now 1000"
    )
    assert (again, "is refused, not pending" in err_again) == (1, True)
    assert ours(store, pending.redemption_id) == []


def test_redemptions_cancel_refuses_while_the_store_has_the_coupon(
    tiered: Config,  # noqa: F811
    engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
    config_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The POST created the coupon but its answer was lost: the redemption is pending, and the
    coupon live in the store. Cancelling would give the points back for a live coupon."""
    store_id = give(tiered, engine, alice, 1000)
    pending = answer_lost(tiered, engine, store_id, alice, claim_seconds=0)

    code, _, err = run(config_file, capsys, "redemptions", "--cancel", str(pending.redemption_id))

    [coupon] = ours(store, pending.redemption_id)
    assert code == 1
    assert f"coupon {coupon['id']} ({coupon['code']}) of redemption {pending.redemption_id}" in err
    assert "is in the store" in err
    with session_scope(engine) as session:
        row = session.get(Redemption, pending.redemption_id)
        assert row is not None
        assert (row.status, row.claimed_until) == ("pending", None)  # the next sync issues it
