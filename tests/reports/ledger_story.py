"""A small ledger with known entries, whose every report figure is worked out by hand below.

Customers: alice (account 7), bob (account 8), a guest. Entries, in order of occurrence:

| day        | who   | kind        | points | ref                 | lines (product, category, points) |
|------------|-------|-------------|--------|---------------------|-----------------------------------|
| 2024-01-05 | alice | purchase    | +100   | order:1#1           | (10, 3, 60), (20, 0, 40)          |
| 2024-01-20 | bob   | purchase    | +50    | order:2#1           | (10, 3, 50)                       |
| 2024-02-03 | alice | purchase    | -30    | order:1#2 (refund)  | (10, 3, -30)                      |
| 2024-02-10 | guest | purchase    | +40    | order:3#1           | (20, 0, 40)                       |
| 2024-02-11 | alice | review      | +10    | review:1#1          |                                   |
| 2024-02-15 | bob   | first_order | +5     | first_order:bob#1   |                                   |
| 2024-03-01 | alice | adjustment  | -20    | adjustment:a        |                                   |
| 2024-03-02 | guest | transfer    | -40    | transfer:guest#1    |                                   |
| 2024-03-02 | bob   | transfer    | +40    | transfer:guest#2    |                                   |
| 2024-03-10 | bob   | redemption  | -60    | redemption:1#1      |                                   |
| 2024-03-12 | alice | expiry      | -5     | expiry:1#1          |                                   |
| 2024-03-15 | bob   | pending     | +25    | order:4#1           |                                   |
| 2024-03-20 | bob   | redemption  | +10    | redemption:1#2      |                                   |

Balances: alice 100-30+10-20-5 = 55, bob 50+5+40-60+10 = 45 (pending is not spendable), guest 0.
Lifetime: alice 100-30+10 = 80, bob 50+5+40 = 95, guest 40-40 = 0.
Orders carrying points: alice 1 (order 1; order 5 earns nothing), bob 2 (order 2, and the guest's
order 3, which followed the guest to bob's account).

Tier moves (events, not entries; "silver" from 90 lifetime points), each placed in history right
after the customer's last entry at its moment:

| moment           | who   | from   | to     | follows            | balance shown |
|------------------|-------|--------|--------|--------------------|---------------|
| 2024-01-05 10:00 | alice | -      | silver | order:1#1          | 100           |
| 2024-02-03 10:00 | alice | silver | -      | order:1#2 (refund) | 70            |
| 2024-03-02 10:00 | bob   | -      | silver | transfer:guest#2   | 95            |

Next expiries: alice 30 points on 2024-04-10, bob 45 points on 2024-05-01.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy.orm import Session

from ledger.customers import account_customer, get_or_create_store, guest_customer
from ledger.entries import NewEntry, append_entries, remember_products
from ledger.expiring import save_next_expiries
from ledger.kinds import SourceKind as K
from ledger.models import TrackedOrder
from ledger.rollups import LinePoints
from ledger.tiers import record_moves

FEB_TO_MID_MARCH = (date(2024, 2, 1), date(2024, 3, 15))
NOW = datetime(2024, 4, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Story:
    store_id: int
    alice: int
    bob: int
    guest: int


def build(session: Session) -> Story:
    store = get_or_create_store(session, "https://shop.example.com")
    alice = account_customer(session, store.id, 7, "alice@example.com")
    bob = account_customer(session, store.id, 8, "bob@example.com")
    guest = guest_customer(session, store.id, "guest@example.com")
    session.flush()
    a, b, g = alice.id, bob.id, guest.id
    rows = [
        ((2024, 1, 5), a, K.PURCHASE, 100, "order:1#1", [(10, 3, 60), (20, 0, 40)]),
        ((2024, 1, 20), b, K.PURCHASE, 50, "order:2#1", [(10, 3, 50)]),
        ((2024, 2, 3), a, K.PURCHASE, -30, "order:1#2", [(10, 3, -30)]),
        ((2024, 2, 10), g, K.PURCHASE, 40, "order:3#1", [(20, 0, 40)]),
        ((2024, 2, 11), a, K.REVIEW, 10, "review:1#1", []),
        ((2024, 2, 15), b, K.FIRST_ORDER, 5, "first_order:bob#1", []),
        ((2024, 3, 1), a, K.ADJUSTMENT, -20, "adjustment:a", []),
        ((2024, 3, 2), g, K.TRANSFER, -40, "transfer:guest#1", []),
        ((2024, 3, 2), b, K.TRANSFER, 40, "transfer:guest#2", []),
        ((2024, 3, 10), b, K.REDEMPTION, -60, "redemption:1#1", []),
        ((2024, 3, 12), a, K.EXPIRY, -5, "expiry:1#1", []),
        ((2024, 3, 15), b, K.PENDING, 25, "order:4#1", []),
        ((2024, 3, 20), b, K.REDEMPTION, 10, "redemption:1#2", []),
    ]
    entries = [
        NewEntry(
            customer_id=who,
            points=points,
            kind=kind,
            source_ref=key.split("#")[0],
            idempotency_key=key,
            occurred_at=datetime(*day, 10, 0, tzinfo=UTC),
            note=f"{kind.value} {points:+d}",
            lines=tuple(LinePoints(*line) for line in lines),
        )
        for day, who, kind, points, key, lines in rows
    ]
    # Two batches, as two syncs would write them: the rollup rows add up across transactions.
    append_entries(session, store.id, entries[:6], now=NOW)
    append_entries(session, store.id, entries[6:], now=NOW)
    remember_products(session, store.id, {10: "Haircut", 20: "Shampoo"})
    # What the sync knows of the orders: the guest's order 3 followed them to bob's account.
    for order_id, owner, points in ((1, a, 70), (2, b, 50), (3, b, 40), (5, a, 0)):
        session.add(
            TrackedOrder(
                store_id=store.id, order_id=order_id, customer_id=owner, status="completed",
                modified_at=NOW, points=points, fingerprint="f", last_seen_at=NOW,
            )
        )  # fmt: skip
    session.flush()
    moves = [
        (a, datetime(2024, 1, 5, 10, tzinfo=UTC), None, "silver"),
        (a, datetime(2024, 2, 3, 10, tzinfo=UTC), "silver", None),
        (b, datetime(2024, 3, 2, 10, tzinfo=UTC), None, "silver"),
    ]
    record_moves(session, store.id, moves, now=NOW)
    save_next_expiries(session, store.id, {a: (30, date(2024, 4, 10)), b: (45, date(2024, 5, 1))})
    session.flush()
    return Story(store.id, a, b, g)
