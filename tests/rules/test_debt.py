"""Points debt decisions, as a table: policy, balance and recorded debt in, the settlement out."""

from __future__ import annotations

from decimal import Decimal

import pytest

from rules.debt import DebtAction, DebtPolicy, DebtSettlement, owed, settle_debt
from rules.redemption import RedemptionRules, RedemptionTier, Refusal, quote_redemption

NEGATIVE = DebtPolicy.ALLOW_NEGATIVE
NET = DebtPolicy.NET_AGAINST_FUTURE
CLAMP = DebtPolicy.CLAMP_ZERO_AND_RECORD


@pytest.mark.parametrize(
    ("policy", "balance", "recorded", "expected"),
    [
        # nothing below zero, nothing recorded: nothing to do, whatever the policy
        (NEGATIVE, 0, 0, None),
        (NET, 120, 0, None),
        (CLAMP, 0, 0, None),
        # allow_negative: the balance stays below zero (shown as owed)
        (NEGATIVE, -100, 0, None),
        # net_against_future: the balance is brought to 0 and the debt recorded
        (NET, -100, 0, (DebtAction.RECORD, 100)),
        (NET, -30, 100, (DebtAction.RECORD, 30)),  # more debt on top of recorded debt
        # ... and points that arrive pay it first, partly or wholly
        (NET, 40, 100, (DebtAction.REPAY, -40)),
        (NET, 150, 100, (DebtAction.REPAY, -100)),
        (NET, 0, 100, None),  # nothing to pay with yet
        # clamp_zero_and_record: the balance is brought to 0 and the points written off
        (CLAMP, -100, 0, (DebtAction.WRITE_OFF, 100)),
        # debt recorded under another policy is still paid back first
        (CLAMP, 40, 100, (DebtAction.REPAY, -40)),
        (NEGATIVE, 40, 100, (DebtAction.REPAY, -40)),
    ],
)
def test_settle_debt(
    policy: DebtPolicy, balance: int, recorded: int, expected: tuple[DebtAction, int] | None
) -> None:
    decided = settle_debt(policy, balance, recorded, cause="order:42")
    assert (None if decided is None else (decided.action, decided.points)) == expected
    if decided is not None:
        after = balance + decided.points
        still_recorded = recorded + (
            decided.points if decided.action is not DebtAction.WRITE_OFF else 0
        )
        assert after >= 0
        assert still_recorded >= 0
        # settling again, on the state it leaves, changes nothing: exact under replays
        again = settle_debt(policy, after, still_recorded)
        assert again is None


def test_the_notes_say_why_and_name_the_cause() -> None:
    assert settle_debt(CLAMP, -100, 0, cause="order:42") == DebtSettlement(
        DebtAction.WRITE_OFF, 100, "100 points written off: revoked after they were spent"
        " (after order:42)"
    )  # fmt: skip
    recorded = settle_debt(NET, -100, 0, cause="order:42")
    assert recorded is not None
    assert recorded.note == (
        "100 points owed: revoked after they were spent (after order:42);"
        " taken from future points first"
    )
    repaid = settle_debt(NET, 40, 100)
    assert repaid is not None
    assert repaid.note == "40 points paid toward the debt, 60 still owed"


@pytest.mark.parametrize(
    ("balance", "recorded", "expected"), [(0, 0, 0), (50, 0, 0), (-30, 0, 30), (0, 70, 70)]
)
def test_owed(balance: int, recorded: int, expected: int) -> None:
    assert owed(balance, recorded) == expected


def test_a_customer_who_owes_points_cannot_redeem() -> None:
    rules = RedemptionRules(tiers=(RedemptionTier("10-off", 100, Decimal("10")),))
    refused = quote_redemption(rules, 500, tier="10-off", owed=30)
    assert refused == Refusal(
        "the customer owes 30 points (points revoked after they were spent):"
        " no redemption until the debt is paid back from new points"
    )
    assert not isinstance(quote_redemption(rules, 500, tier="10-off", owed=0), Refusal)
