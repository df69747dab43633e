"""Small builders for ledger tests."""

from __future__ import annotations

from datetime import UTC, datetime

from ledger.entries import NewEntry
from ledger.kinds import SourceKind

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
OCCURRED = datetime(2024, 4, 30, 9, 30, tzinfo=UTC)


def entry(
    customer_id: int,
    points: int,
    key: str,
    *,
    kind: SourceKind = SourceKind.PURCHASE,
    ref: str | None = None,
) -> NewEntry:
    """An entry whose source_ref defaults to the key without its `#n` position."""
    return NewEntry(
        customer_id=customer_id,
        points=points,
        kind=kind,
        source_ref=ref if ref is not None else key.split("#")[0],
        idempotency_key=key,
        occurred_at=OCCURRED,
        rule_version="v1",
    )
