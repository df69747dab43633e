"""Source items the sync could not use: kept as received, counted, and released once they parse.

A broken item never stops a sync and is never silently dropped: the admin sees it (with the field
and the reason) and the item is retried every time it comes back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ledger.models import QuarantinedItem
from loyalty.errors import InvalidSourceData
from sync.redaction import redact, redact_value


def quarantine(
    session: Session,
    store_id: int,
    resource: str,
    raw: Mapping[str, Any] | Any,
    error: InvalidSourceData,
    *,
    now: datetime,
) -> None:
    """Record (or re-record) one unusable item, keyed by its id."""
    item_ref = str(raw.get("id", "?")) if isinstance(raw, Mapping) else "?"
    payload = json.dumps(redact_value(raw), sort_keys=True, default=str)  # as received, no secrets
    existing = session.execute(
        select(QuarantinedItem).where(
            QuarantinedItem.store_id == store_id,
            QuarantinedItem.resource == resource,
            QuarantinedItem.item_ref == item_ref,
        )
    ).scalar_one_or_none()
    if existing is None:
        session.add(
            QuarantinedItem(
                store_id=store_id,
                resource=resource,
                item_ref=item_ref,
                payload=payload,
                error=redact(str(error)),
                field=error.field,
                first_seen=now,
                last_seen=now,
                count=1,
            )
        )
        return
    existing.payload = payload
    existing.error = redact(str(error))
    existing.field = error.field
    existing.last_seen = now
    existing.count += 1
    existing.resolved_at = None


def release(
    session: Session, store_id: int, resource: str, item_refs: Iterable[str], *, now: datetime
) -> None:
    """Mark items resolved: they came back well-formed and were processed."""
    refs = list(item_refs)
    if not refs:
        return
    session.execute(
        update(QuarantinedItem)
        .where(
            QuarantinedItem.store_id == store_id,
            QuarantinedItem.resource == resource,
            QuarantinedItem.item_ref.in_(refs),
            QuarantinedItem.resolved_at.is_(None),
        )
        .values(resolved_at=now)
    )


def open_items(session: Session, store_id: int) -> list[QuarantinedItem]:
    """Everything still in quarantine for a store, oldest first."""
    return list(
        session.execute(
            select(QuarantinedItem)
            .where(QuarantinedItem.store_id == store_id, QuarantinedItem.resolved_at.is_(None))
            .order_by(QuarantinedItem.first_seen, QuarantinedItem.id)
        ).scalars()
    )
