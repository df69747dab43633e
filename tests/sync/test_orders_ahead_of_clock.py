"""An order dated more than a day after the store's clock is quarantined naming its date field.

The clock is the store's as the run goes on, not the window's end fixed when the run started: a
first sync of a big shop can last longer than a day, and the orders created meanwhile are dated
after that end but are not ahead of the store.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from rules.types import Order, PurchaseRuleBook
from sync.order_data import parse_order
from sync.order_points import MAX_AHEAD, OrderPoints
from sync.owners import OwnerDirectory
from sync.quarantine import Rejected
from tests.samples import WOOCOMMERCE_SAMPLES

WINDOW_END = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # the store's time when the run started
LATER = WINDOW_END + timedelta(days=3)  # the store's time three days into the run


def dated(at: datetime) -> tuple[Order, Any]:
    raw = json.loads((WOOCOMMERCE_SAMPLES / "order.json").read_text(encoding="utf-8"))
    stamp = at.replace(tzinfo=None).isoformat(timespec="seconds")
    raw["date_modified_gmt"] = stamp  # created as the sample says, years before
    return parse_order(raw), raw


def points(*, store_clock: datetime | None) -> OrderPoints:
    return OrderPoints(
        1,
        PurchaseRuleBook(),
        first_order_bonus=0,
        owners=OwnerDirectory(1),
        fetch_refunds=lambda wanted: [],
        categories=None,
        store_now=lambda: WINDOW_END,
        store_clock=None if store_clock is None else (lambda: store_clock),
    )


def kept(orders: OrderPoints, at: datetime) -> tuple[bool, list[Rejected]]:
    rejected: list[Rejected] = []
    result = orders._not_ahead([dated(at)], rejected, WINDOW_END)
    return bool(result), rejected


def test_an_order_created_during_a_long_run_is_measured_against_the_clock_as_it_runs_on() -> None:
    two_days_in = WINDOW_END + timedelta(days=2)  # more than a day after the window's end

    assert kept(points(store_clock=LATER), two_days_in) == (True, [])
    # Measured against the window's end, as before the store's running clock was asked, the
    # same order was quarantined.
    was_kept, [rejected] = kept(points(store_clock=None), two_days_in)
    assert not was_kept
    assert rejected.field == "date_modified_gmt"


def test_an_order_more_than_a_day_after_the_running_clock_is_quarantined_naming_its_field() -> None:
    was_kept, [rejected] = kept(points(store_clock=LATER), LATER + MAX_AHEAD + timedelta(seconds=1))
    assert not was_kept
    assert rejected.field == "date_modified_gmt"
    assert "more than a day after the store's clock" in rejected.reason
    assert kept(points(store_clock=LATER), LATER + MAX_AHEAD) == (True, [])
