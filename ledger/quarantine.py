"""Reading the quarantine: source items the sync set aside, from every source.

For `loyalty quarantine` (and reports): the sync writes these records (`sync.quarantine`); this
module only reads them.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.models import QuarantinedItem


def quarantined_items(
    session: Session, store_id: int, *, include_resolved: bool = False
) -> list[QuarantinedItem]:
    """A store's quarantined items, oldest first; open ones only unless `include_resolved`."""
    query = select(QuarantinedItem).where(QuarantinedItem.store_id == store_id)
    if not include_resolved:
        query = query.where(QuarantinedItem.resolved_at.is_(None))
    return list(
        session.execute(query.order_by(QuarantinedItem.first_seen, QuarantinedItem.id)).scalars()
    )
