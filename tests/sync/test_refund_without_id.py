"""A refund the store sends without a usable id quarantines the order naming it; the run goes on."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.customers import get_or_create_store
from ledger.models import QuarantinedItem
from rules.types import PurchaseRuleBook
from sync.order_points import OrderPoints
from sync.owners import OwnerDirectory
from tests.samples import WOOCOMMERCE_SAMPLES

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def order_with_refund(refund_id: int) -> dict[str, Any]:
    raw: dict[str, Any] = json.loads((WOOCOMMERCE_SAMPLES / "order.json").read_text("utf-8"))
    raw["refunds"] = [{"id": refund_id, "reason": "", "total": "-1.00"}]
    return raw


def test_a_fetched_refund_whose_id_is_null_quarantines_its_order(session: Session) -> None:
    store = get_or_create_store(session, "https://shop.example.com")
    session.flush()
    fetched = [{"id": None, "parent_id": 0, "amount": "1.00", "line_items": []}]
    points = OrderPoints(
        store.id,
        PurchaseRuleBook(),
        first_order_bonus=0,
        owners=OwnerDirectory(store.id),
        fetch_refunds=lambda wanted: fetched,
        categories=None,
        store_now=lambda: NOW,
    )

    outcome = points.process(session, [order_with_refund(77)], now=NOW)

    # Before: TypeError on int(None), and the whole run stopped.
    assert outcome.quarantined == 2  # the refund, naming its id, and the order waiting for it
    assert outcome.entries == []
    held = session.execute(select(QuarantinedItem.resource, QuarantinedItem.field)).all()
    assert sorted(map(tuple, held)) == [("orders", "refunds"), ("refunds", "id")]
