"""Releasing quarantined items (sync/quarantine.py): an UPDATE only for refs that may be open."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from ledger.customers import get_or_create_store
from ledger.models import QuarantinedItem
from sync.quarantine import Quarantine, Rejected

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _updates(session: Session) -> list[str]:
    seen: list[str] = []

    def on_execute(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("UPDATE QUARANTINED_ITEMS"):
            seen.append(statement)

    event.listen(session.connection().engine, "before_cursor_execute", on_execute)
    return seen


def _open(session: Session, store_id: int) -> set[tuple[str, str]]:
    rows = session.execute(
        select(QuarantinedItem.resource, QuarantinedItem.item_ref).where(
            QuarantinedItem.store_id == store_id, QuarantinedItem.resolved_at.is_(None)
        )
    )
    return {(resource, ref) for resource, ref in rows}


def test_release_costs_no_statement_for_items_nobody_quarantined(session: Session) -> None:
    store_id = get_or_create_store(session, "https://shop.example.com").id
    earlier = Quarantine(store_id)  # an earlier run left one order and one customer open
    earlier.add(session, [Rejected("orders", "5", {"id": 5}, "broken")], now=NOW)
    earlier.add(session, [Rejected("customers", "6", {"id": 6}, "broken")], now=NOW)
    session.flush()

    quarantine = Quarantine(store_id)  # this run's
    updates = _updates(session)
    quarantine.release(session, "orders", ["1", "2", "3"], now=NOW)
    quarantine.release(session, "orders", ["4", "6"], now=NOW)  # "6" is a customer's ref
    assert updates == []
    assert _open(session, store_id) == {("orders", "5"), ("customers", "6")}

    quarantine.release(session, "orders", ["4", "5"], now=NOW)  # the order came back well-formed
    assert len(updates) == 1
    assert _open(session, store_id) == {("customers", "6")}

    # an item quarantined during the run is released when it comes back, as before
    quarantine.add(session, [Rejected("orders", "7", {"id": 7}, "broken")], now=NOW)
    assert ("orders", "7") in _open(session, store_id)
    quarantine.release(session, "orders", ["7"], now=NOW)
    assert _open(session, store_id) == {("customers", "6")}
    quarantine.release(session, "customers", ["6"], now=NOW)
    assert _open(session, store_id) == set()
