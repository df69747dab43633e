"""Manual adjustments by a shop admin (`loyalty adjust`), recorded as ledger entries.

Choice: adjusting a WooCommerce customer the ledger has not met yet creates them as an account
customer. An admin may credit a customer before their first order (a goodwill gesture, points
migrated from another plugin); the sync later finds the same `(store, wc_id)` row.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.customers import account_customer
from ledger.entries import POINTS_LIMIT, NewEntry, append_entry
from ledger.errors import InvalidAdjustment, PointsOutOfRange
from ledger.kinds import SourceKind
from ledger.models import PointEntry, Store
from ledger.types import MAX_BIGINT, storable_text
from rules import notes

__all__ = ["InvalidAdjustment", "adjust"]


def adjust(
    session: Session,
    store_id: int,
    wc_customer_id: int,
    points: int,
    reason: str,
    *,
    now: datetime,
    request_id: str | None = None,
) -> PointEntry:
    """Append a manual adjustment of `points` (signed, non-zero) for WooCommerce customer
    `wc_customer_id`, keeping `reason` as the entry's note. Returns the new entry.

    `request_id` (a form's one-time id) makes asking twice harmless: the adjustment it made is
    returned and nothing is appended; the same id for another adjustment is InvalidAdjustment.

    Raises PointsOutOfRange when the points, or the balance they would leave, lie beyond
    ±POINTS_LIMIT (the caller's unit of work then rolls back).
    """
    _validate(store_id, wc_customer_id, points, reason)
    if session.get(Store, store_id) is None:
        raise InvalidAdjustment(f"store_id {store_id} is not a store in this ledger")
    customer = account_customer(session, store_id, wc_customer_id, email=None)
    if customer.deleted_at is not None:  # points put there would never be seen or moved again
        if customer.email is None:
            raise InvalidAdjustment(notes.ADJUST_DELETED_NO_EMAIL(customer=wc_customer_id))
        raise InvalidAdjustment(notes.ADJUST_DELETED(customer=wc_customer_id, email=customer.email))
    ref = f"adjustment:{request_id or uuid.uuid4()}"
    done = _entry(session, store_id, ref)
    if done is not None:
        if (done.customer_id, done.points, done.note) != (customer.id, points, reason.strip()):
            raise InvalidAdjustment(notes.ADJUST_REQUEST_USED(request=repr(request_id)))
        return done
    entry = NewEntry(
        customer_id=customer.id,
        points=points,
        kind=SourceKind.ADJUSTMENT,
        source_ref=ref,
        idempotency_key=ref,
        occurred_at=now,
        note=reason.strip(),
    )
    append_entry(session, store_id, entry, now=now)
    made = _entry(session, store_id, ref)
    assert made is not None
    return made


def _entry(session: Session, store_id: int, key: str) -> PointEntry | None:
    return session.execute(
        select(PointEntry).where(PointEntry.store_id == store_id, PointEntry.idempotency_key == key)
    ).scalar_one_or_none()


def _validate(store_id: int, wc_customer_id: int, points: int, reason: str) -> None:
    if (
        isinstance(wc_customer_id, bool)
        or not isinstance(wc_customer_id, int)
        or not 0 < wc_customer_id <= MAX_BIGINT
    ):
        raise InvalidAdjustment(
            f"wc_customer_id must be a positive WooCommerce customer id, got {wc_customer_id!r}"
        )
    if isinstance(points, bool) or not isinstance(points, int) or points == 0:
        raise InvalidAdjustment(notes.ADJUST_NOT_ZERO(points=repr(points)))
    if abs(points) > POINTS_LIMIT:
        raise PointsOutOfRange(notes.ADJUST_WITHIN(limit=f"{POINTS_LIMIT:,}", points=points))
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidAdjustment(notes.ADJUST_NO_REASON())
    if not storable_text(reason, lines=True):
        raise InvalidAdjustment(notes.ADJUST_CONTROL())
    if isinstance(store_id, bool) or not isinstance(store_id, int):
        raise InvalidAdjustment(f"store_id must be an integer, got {store_id!r}")
