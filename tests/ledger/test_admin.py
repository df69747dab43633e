"""Manual adjustments: a reasoned entry of their own, for known or not-yet-known customers."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.admin import InvalidAdjustment, adjust
from ledger.balances import verify_balances
from ledger.errors import LedgerError
from ledger.models import Balance, Customer, PointEntry, Store
from tests.ledger.factories import NOW


def test_an_adjustment_is_an_entry_that_keeps_its_reason(
    session: Session, store: Store, alice: Customer
) -> None:
    adjusted = adjust(session, store.id, 7, 250, "  goodwill: late delivery ", now=NOW)

    assert (adjusted.customer_id, adjusted.points, adjusted.kind) == (alice.id, 250, "adjustment")
    assert adjusted.note == "goodwill: late delivery"
    assert adjusted.idempotency_key == adjusted.source_ref
    assert adjusted.source_ref.startswith("adjustment:")
    assert (adjusted.occurred_at, adjusted.recorded_at) == (NOW, NOW)


def test_an_adjustment_moves_the_balance_but_not_the_lifetime(
    session: Session, store: Store, alice: Customer
) -> None:
    adjust(session, store.id, 7, 250, "goodwill", now=NOW)
    adjust(session, store.id, 7, -50, "correction", now=NOW)

    balance = session.get(Balance, alice.id)
    assert balance is not None
    assert (balance.balance, balance.lifetime) == (200, 0)
    assert verify_balances(session, store.id) == []


def test_the_same_adjustment_twice_is_two_entries(
    session: Session, store: Store, alice: Customer
) -> None:
    first = adjust(session, store.id, 7, 10, "goodwill", now=NOW)
    second = adjust(session, store.id, 7, 10, "goodwill", now=NOW)

    assert first.idempotency_key != second.idempotency_key
    assert session.execute(select(func.count()).select_from(PointEntry)).scalar_one() == 2


def test_adjusting_a_customer_the_ledger_has_not_met_creates_the_account(
    session: Session, store: Store
) -> None:
    adjusted = adjust(session, store.id, 555, 100, "migrated from old plugin", now=NOW)

    customer = session.get(Customer, adjusted.customer_id)
    assert customer is not None
    assert (customer.wc_id, customer.is_guest, customer.email) == (555, False, None)


@pytest.mark.parametrize("reason", ["", "   "])
def test_an_adjustment_needs_a_reason(session: Session, store: Store, reason: str) -> None:
    with pytest.raises(InvalidAdjustment, match="reason is required"):
        adjust(session, store.id, 7, 10, reason, now=NOW)


@pytest.mark.parametrize(
    ("wc_customer_id", "points", "field"),
    [(7, 0, "points"), (0, 10, "wc_customer_id"), (-1, 10, "wc_customer_id")],
)
def test_a_malformed_adjustment_names_the_field(
    session: Session, store: Store, wc_customer_id: int, points: int, field: str
) -> None:
    with pytest.raises(InvalidAdjustment, match=rf"^{field} must be"):
        adjust(session, store.id, wc_customer_id, points, "why", now=NOW)


def test_an_adjustment_for_an_unknown_store_is_refused(session: Session) -> None:
    with pytest.raises(InvalidAdjustment, match="store_id 999 is not a store"):
        adjust(session, 999, 7, 10, "why", now=NOW)


def test_invalid_adjustments_are_loyalty_errors_for_the_cli() -> None:
    assert issubclass(InvalidAdjustment, LedgerError)
    assert issubclass(InvalidAdjustment, ValueError)


def test_a_reason_holding_a_control_character_is_refused_before_the_database_sees_it(
    session: Session, store: Store
) -> None:
    """PostgreSQL refuses NUL in text: the dashboard's adjustment answered 500."""
    with pytest.raises(InvalidAdjustment, match="control character"):
        adjust(session, store.id, 7, 10, "goodwill\x00late", now=NOW)

    multi_line = adjust(session, store.id, 7, 10, "goodwill\nlate delivery", now=NOW)
    assert multi_line.note == "goodwill\nlate delivery"


@pytest.mark.parametrize(
    "reason",
    [
        "\u0647\u062f\u064a\u0629 \u200f(\u0637\u0644\u0628 123)",  # Arabic, with a right-to-left mark
        "family bonus \U0001f468\u200d\U0001f469\u200d\U0001f467",  # emoji joined by ZWJ
    ],
)
def test_a_reason_in_plain_text_with_format_characters_is_accepted(
    session: Session, store: Store, reason: str
) -> None:
    entry = adjust(session, store.id, 7, 10, reason, now=NOW)
    assert entry.note == reason
