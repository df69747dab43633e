"""Pending purchase points, as a table: an award, what is held, when it first earned and `now` in;
available and pending targets out. Time is passed in."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rules.pending import PendingRules, PurchaseSplit, split_purchase

OFF = PendingRules()
WINDOW = PendingRules(days=14)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


EARNED = at("2025-03-01T10:00")
MATURES = at("2025-03-15T10:00")


@pytest.mark.parametrize(
    ("rules", "award", "held", "first", "now", "expected"),
    [
        # off: everything is available at once
        (OFF, 100, 0, None, EARNED, PurchaseSplit(100, 0)),
        # a new order: all of it pending until 14 days after it first earned
        (WINDOW, 100, 0, None, EARNED, PurchaseSplit(0, 100, MATURES)),
        (WINDOW, 100, 0, EARNED, at("2025-03-15T09:59:59"), PurchaseSplit(0, 100, MATURES)),
        # exactly at the end of the window, and after it: available, pending 0
        (WINDOW, 100, 0, EARNED, MATURES, PurchaseSplit(100, 0, matured_at=MATURES)),
        (WINDOW, 100, 0, EARNED, at("2025-06-01T00:00"), PurchaseSplit(100, 0, matured_at=MATURES)),
        # a partial refund inside the window lowers pending only
        (WINDOW, 60, 0, EARNED, at("2025-03-05T00:00"), PurchaseSplit(0, 60, MATURES)),
        # a cancellation inside the window: nothing pending, nothing available, nothing to mature
        (WINDOW, 0, 0, EARNED, at("2025-03-05T00:00"), PurchaseSplit(0, 0)),
        # a refund after the window lowers the available points (as without pending points)
        (WINDOW, 60, 100, EARNED, at("2025-04-01T00:00"), PurchaseSplit(60, 0, matured_at=MATURES)),
        # points available before pending was switched on stay available...
        (WINDOW, 100, 100, EARNED, at("2025-03-05T00:00"), PurchaseSplit(100, 0)),
        # ... a rise inside the window waits as pending ...
        (WINDOW, 130, 100, EARNED, at("2025-03-05T00:00"), PurchaseSplit(100, 30, MATURES)),
        # ... and only an award below them touches them
        (WINDOW, 40, 100, EARNED, at("2025-03-05T00:00"), PurchaseSplit(40, 0)),
        # a negative difference (a recalculation to rules that give less) inside the window
        # lowers the pending points, mirrored: the spendable balance is not touched ...
        (WINDOW, -30, 0, EARNED, at("2025-03-05T00:00"), PurchaseSplit(0, -30, MATURES)),
        # ... unless it was available already (recorded before pending points were on)
        (WINDOW, -30, -30, EARNED, at("2025-03-05T00:00"), PurchaseSplit(-30, 0)),
        (WINDOW, -30, -10, EARNED, at("2025-03-05T00:00"), PurchaseSplit(-10, -20, MATURES)),
        (WINDOW, -30, 10, EARNED, at("2025-03-05T00:00"), PurchaseSplit(0, -30, MATURES)),
        # after the window, or with pending points off, it is available at once
        (WINDOW, -30, 0, EARNED, MATURES, PurchaseSplit(-30, 0, matured_at=MATURES)),
        (OFF, -30, 0, EARNED, EARNED, PurchaseSplit(-30, 0)),
    ],
)
def test_split_purchase(
    rules: PendingRules,
    award: int,
    held: int,
    first: datetime | None,
    now: datetime,
    expected: PurchaseSplit,
) -> None:
    split = split_purchase(award, held_available=held, first_earned=first, now=now, rules=rules)
    assert split == expected
    assert split.available + split.pending == award  # nothing is lost or made up


def test_a_refund_inside_the_window_never_lowers_the_available_points() -> None:
    for award in range(0, 101, 10):
        split = split_purchase(
            award, held_available=0, first_earned=EARNED, now=at("2025-03-10T00:00"), rules=WINDOW
        )
        assert split.available == 0


@pytest.mark.parametrize(
    ("room", "expected"),
    [
        (None, PurchaseSplit(0, -30, MATURES)),  # no bound
        (100, PurchaseSplit(0, -30, MATURES)),  # its order holds 100 pending: they absorb it
        (20, PurchaseSplit(-10, -20, MATURES)),  # 20 pending: the other 10 from the balance
        (0, PurchaseSplit(-30, 0)),  # nothing pending (earned before pending was on): at once
        (-5, PurchaseSplit(-30, 0)),
    ],
)
def test_a_negative_award_lowers_no_more_pending_points_than_there_are(
    room: int | None, expected: PurchaseSplit
) -> None:
    """A recalculated difference under rules that give less, beside an order whose own points
    are not all pending: the pending points never go below zero (they went to -50 while 100
    stayed spendable: found by a review, 4 Dec)."""
    split = split_purchase(
        -30,
        held_available=0,
        first_earned=EARNED,
        now=at("2025-03-05T00:00"),
        rules=WINDOW,
        pending_room=room,
    )
    assert split == expected
    assert split.available + split.pending == -30
