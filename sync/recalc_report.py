"""What `loyalty resync --recalculate` changed (or, dry, would change): points per customer and in
total, their money liability (points times `[points] point_value`), and how many items each source
decided again. For the CLI (a table and a line, or `--json`) and the tests."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.batches import chunks
from ledger.models import Customer


@dataclass(frozen=True)
class CustomerChange:
    customer_id: int | None  # WooCommerce id; None for a guest
    email: str | None
    points: int


@dataclass
class Recalculation:
    """One recalculation: its rule set, options, what it decided and the points it moved."""

    version: str
    dry_run: bool
    since: date | None
    customer: int | None
    point_value: Decimal
    #: Items decided again by this run, per source (orders, reviews, ...), in the registry's order.
    decided: dict[str, int] = field(default_factory=dict)
    resumed: bool = False
    #: Points moved per ledger customer id (a resumed run: its own and the killed runs' together).
    points: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    customers: list[CustomerChange] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.points.values())

    def liability(self, points: int) -> Decimal:
        return points * self.point_value

    def describe(self, session: Session) -> None:
        """Name the customers whose points changed (WooCommerce id and email), by ledger id."""
        changed = sorted(c for c, p in self.points.items() if p)
        found: dict[int, tuple[int | None, str | None]] = {}
        for chunk in chunks(changed):
            for cid, wc_id, email in session.execute(
                select(Customer.id, Customer.wc_id, Customer.email).where(Customer.id.in_(chunk))
            ):
                found[int(cid)] = (wc_id, email)
        self.customers = [
            CustomerChange(*found.get(c, (None, None)), self.points[c]) for c in changed
        ]

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "dry_run": self.dry_run,
            "since": self.since.isoformat() if self.since else None,
            "customer": self.customer,
            "resumed": self.resumed,
            "customers": [
                {
                    "customer_id": c.customer_id,
                    "email": c.email,
                    "points": c.points,
                    "liability": str(self.liability(c.points)),
                }
                for c in self.customers
            ],
            "total": {
                "decided": dict(self.decided),
                "customers": len(self.customers),
                "points": self.total,
                "liability": str(self.liability(self.total)),
            },
        }
