"""Found by a review (4 Dec): a coupon's points returned after its account was deleted land on the deleted account,
where nothing can ever hold or move them (README: a deleted account's points go to its email)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from sqlalchemy import Engine, select

from ledger.models import Balance, Customer
from ledger.session import session_scope
from loyalty.config import Config
from sandbox.server import SandboxServer
from sandbox.store import SandboxStore
from tests.e2e.test_deleted_accounts import adjust_by_hand, delete_account
from tests.e2e.test_redemption import EMAIL, TIERS, alice, store  # noqa: F401
from tests.e2e.test_redemption_lifecycle import issue, outcome_coupon_id

Sync = Callable[..., Any]


def balances(engine: Engine) -> dict[tuple[int | None, str | None, bool], int]:
    with session_scope(engine) as session:
        rows = session.execute(
            select(Customer.wc_id, Customer.email, Customer.deleted_at, Balance.balance).join(
                Balance, Balance.customer_id == Customer.id
            )
        ).all()
        return {(wc, email, deleted is not None): int(b) for wc, email, deleted, b in rows}


def test_points_of_a_coupon_deleted_after_its_account_was_deleted_reach_the_email(
    config: Config,
    engine_for: Callable[[], Engine],
    store: SandboxStore,  # noqa: F811
    sandbox: SandboxServer,
    alice: int,  # noqa: F811
    sync: Sync,
) -> None:
    cfg = replace(config, redemption=TIERS)
    engine = engine_for()
    outcome = issue(cfg, engine, alice)  # 1000 given, 1000 redeemed: balance 0
    assert outcome.status == "issued"
    sync(cfg)
    adjust_by_hand(cfg, engine, alice, 5)  # something for the write-back to send
    delete_account(sandbox, alice)
    first = sync(cfg)  # the write-back finds the account gone: it is retired, its 5 go to the email
    assert first.accounts_deleted == 1
    store.delete_coupon(outcome_coupon_id(engine, outcome), force=True)

    sync(cfg)  # the coupon is gone: its 1000 points come back
    sync(cfg)
    sync(cfg)  # later syncs move nothing either

    found = balances(engine)
    # expected: the points returned follow the account's points to the email's guest
    assert found.get((None, EMAIL, False)) == 1005, found
    assert found.get((alice, EMAIL, True)) == 0, found
