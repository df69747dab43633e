"""Each customer's next expiry, as stored for the meta write-back and the expiring report.

`sync.expiry` decides what expires next (`rules.expiry.next_expiry`) and saves it here, one row
per customer with something to expire (`next_expiries`); the write-back sends `meta` to the
customer's `loyalty_points_expiring`, and `""` once the row is gone.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ledger._dialect import upsert_insert
from ledger.models import Base, NextExpiry, PointEntry

CHUNK = 500


def expiring_meta(points: int, day: date) -> str:
    """The meta value: `{"points": N, "date": "YYYY-MM-DD"}`."""
    return json.dumps({"points": points, "date": day.isoformat()})


def save_next_expiries(
    session: Session, store_id: int, found: Mapping[int, tuple[int, date] | None]
) -> None:
    """Store each customer's next expiry (points, day), or remove it (None): two statements per
    chunk of customers, in ascending customer order."""
    customers = sorted(found)
    table = Base.metadata.tables["next_expiries"]
    for start in range(0, len(customers), CHUNK):
        chunk = customers[start : start + CHUNK]
        gone = [c for c in chunk if found[c] is None]
        if gone:
            session.execute(delete(NextExpiry).where(NextExpiry.customer_id.in_(gone)))
        rows = [
            {
                "customer_id": c,
                "store_id": store_id,
                "points": upcoming[0],
                "day": upcoming[1],
                "meta": expiring_meta(*upcoming),
            }
            for c in chunk
            if (upcoming := found[c]) is not None
        ]
        if rows:
            statement = upsert_insert(session, table)
            statement = statement.on_conflict_do_update(
                index_elements=["customer_id"],
                set_={
                    "points": statement.excluded.points,
                    "day": statement.excluded.day,
                    "meta": statement.excluded.meta,
                },
            )
            session.connection().execute(statement, rows)


def customers_with_entries_between(
    session: Session, store_id: int, after: int, through: int
) -> list[int]:
    """Ledger customers with an entry whose id is in (after, through], ascending."""
    rows = session.execute(
        select(PointEntry.customer_id)
        .where(PointEntry.store_id == store_id, PointEntry.id > after, PointEntry.id <= through)
        .distinct()
    ).scalars()
    return sorted(int(c) for c in rows)
