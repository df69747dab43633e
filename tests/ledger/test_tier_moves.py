"""Tier moves over a real ledger (SQLite and PostgreSQL): recorded once, a window's points
leaving move a customer down on a later day, and `loyalty report tiers` lists them."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ledger.customers import account_customer, get_or_create_store
from ledger.models import Customer, Store, TierEvent
from ledger.session import session_scope
from loyalty.cli import main
from rules.tiers import Tier, TierRules
from sync.point_meta import TierMeta
from sync.tiers import update_tiers
from tests.cli.test_cli import ledger_config
from tests.ledger.test_expiry_run import P, put

RECENT = TierRules((Tier("recent", 300, Decimal(2), window_days=30),))
NOW = datetime(2025, 6, 1, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def moves(session: Session) -> list[tuple[str | None, str | None, datetime]]:
    rows = session.execute(
        select(TierEvent.before, TierEvent.after, TierEvent.at).order_by(TierEvent.id)
    )
    return [(before, after, when.replace(tzinfo=UTC)) for before, after, when in rows]


def test_moves_are_recorded_once_and_a_window_moves_a_customer_down(
    session: Session, store: Store, alice: Customer
) -> None:
    put(session, store, alice, (300, P, "order:1", "order:1#1", "2025-01-01T10:00"))

    def update(after_entry: int, last_day: date | None, when: str) -> int:
        return update_tiers(
            session,
            store.id,
            RECENT,
            after_entry=after_entry,
            last_day=last_day,
            store_now=at(when),
            now=NOW,
        )

    assert update(0, None, "2025-01-02T00:00") == 1
    assert moves(session) == [(None, "recent", at("2025-01-01T10:00"))]
    meta = TierMeta(store.id, "loyalty_tier")

    def to_write() -> list[tuple[int, str]]:
        return [(u.wc_id, u.meta[0]["value"]) for u in meta.pending(session)]

    assert to_write() == [(7, "recent")]
    for written in meta.pending(session):
        written.on_written(session)
    assert to_write() == []
    # nothing new that day, nothing recorded again
    assert update(10**9, date(2025, 1, 2), "2025-01-02T12:00") == 0
    # a later day: the window has let the points go
    assert update(10**9, date(2025, 1, 2), "2025-02-15T00:00") == 1
    assert moves(session)[-1] == ("recent", None, at("2025-01-31T10:00"))
    assert to_write() == [(7, "")]


def test_loyalty_report_tiers_lists_the_moves(
    tmp_path: Path, db_url: str, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    with session_scope(engine) as session:
        store = get_or_create_store(session, "https://shop.example.com")
        alice = account_customer(session, store.id, 7, "alice@example.com")
        put(session, store, alice, (300, P, "order:1", "order:1#1", "2025-01-01T10:00"))
        update_tiers(
            session,
            store.id,
            RECENT,
            after_entry=0,
            last_day=None,
            store_now=at("2025-01-02T00:00"),
            now=NOW,
        )
    args = ["--config", ledger_config(tmp_path, db_url), "report", "tiers", "--json"]
    assert main(args) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["moves"] == [
        {
            "date": "2025-01-01T10:00:00+00:00",
            "customer_id": 7,
            "email": "alice@example.com",
            "from": None,
            "to": "recent",
        }
    ]
    assert document["held"] == [{"tier": "recent", "customers": 1}]
    # Points History lists the move right above the entry that lifted alice, with no points
    assert main([*args[:3], "history", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["entries"]
    assert [
        (e["type"], e["reference"].split(":")[0], e["points"], e["balance"]) for e in listed
    ] == [
        ("tier_move", "tier_event", 0, 300),
        ("entry", "order", 300, 300),
    ]
