"""The coupon uses a sync notes from the orders it reads: only codes it may have issued, looked up
in the ledger a bounded number at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, event, select

from ledger import redemptions as ledger
from ledger.customers import account_customer, get_or_create_store
from ledger.models import Redemption
from ledger.session import session_scope
from rules.redemption import CODE_ALPHABET, CODE_LENGTH, format_code
from sync import redemption_lifecycle
from sync.redemption_lifecycle import CouponUses, LifecycleCounts

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def code(n: int) -> str:
    symbols = "".join(
        CODE_ALPHABET[(n // len(CODE_ALPHABET) ** i) % len(CODE_ALPHABET)]
        for i in range(CODE_LENGTH)
    )
    return format_code("pts-", symbols)


def test_only_codes_shaped_like_issued_ones_are_kept_lowercased() -> None:
    uses = CouponUses()
    ours = code(7)
    uses.see(
        [
            {"id": 1, "status": "completed", "coupon_lines": [{"code": "SUMMER10"}]},
            {"id": 2, "status": "completed", "coupon_lines": [{"code": f" {ours.upper()} "}]},
            {"id": 3, "status": "refunded", "coupon_lines": [{"code": ours}, {"code": "free"}]},
            {"id": 4, "status": "completed", "coupon_lines": [None, {"code": 5}, "x"]},
            {"id": "5", "status": "completed", "coupon_lines": [{"code": ours}]},  # no usable id
        ]
    )
    assert uses.seen == {ours: [(2, "completed"), (3, "refunded")]}


def test_thousands_of_used_codes_are_looked_up_a_bounded_number_at_a_time(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redemption_lifecycle, "CODES_A_QUERY", 7)
    with session_scope(engine) as session:
        store_id = get_or_create_store(session, "coupon-shop").id
        customer = account_customer(session, store_id, 1, "a@example.com")
        session.flush()
        for n in range(30):
            session.add(
                Redemption(
                    store_id=store_id,
                    customer_id=customer.id,
                    request_key=f"r{n}",
                    channel="admin",
                    points=100,
                    amount="1.00",
                    code=code(n),
                    email="a@example.com",
                    status=ledger.ISSUED,
                    coupon_id=1000 + n,
                    expires_at=NOW + timedelta(days=30),
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
    uses = CouponUses()
    uses.see(
        [
            {"id": 500 + n, "status": "completed", "coupon_lines": [{"code": code(n)}]}
            for n in range(0, 60, 2)  # every other issued code, and codes never issued
        ]
    )
    counts = LifecycleCounts()
    lookups: list[str] = []

    def note(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "redemptions.code IN" in statement:
            lookups.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        with session_scope(engine) as session:
            redemption_lifecycle._apply_orders(session, store_id, uses, counts, NOW, [], {})
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert len(lookups) == 5  # 30 codes seen, 7 a query
    assert counts.used == 15
    with session_scope(engine) as session:
        used = dict(
            session.execute(
                select(Redemption.code, Redemption.used_order_id).where(
                    Redemption.status == ledger.USED
                )
            ).all()
        )
    assert used == {code(n): 500 + n for n in range(0, 30, 2)}
