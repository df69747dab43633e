"""Points debt in the ledger: what each customer owes, and who needs settling.

A customer's recorded debt (`[points] debt = "net_against_future"`) is the sum of their `debt`
entries, all held by the reference `debt:{ledger customer id}`; write-offs are held by
`write_off:{ledger customer id}`. Both are read through the `(store_id, source_ref)` index, as a
range of references, so finding debtors never scans the entries. What to append is decided by
`rules.debt` (the sync's `sync.debt`); redemptions read `owed_points`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.batches import chunks
from ledger.entries import refs_starting
from ledger.kinds import SourceKind
from ledger.models import Balance, PointEntry

DEBT_PREFIX = "debt:"
WRITE_OFF_PREFIX = "write_off:"


def debt_ref(customer_id: int) -> str:
    """The reference every debt entry of a ledger customer is held by."""
    return f"{DEBT_PREFIX}{customer_id}"


def write_off_ref(customer_id: int) -> str:
    return f"{WRITE_OFF_PREFIX}{customer_id}"


@dataclass(frozen=True)
class DebtState:
    """A customer's spendable balance and recorded debt (>= 0)."""

    customer_id: int
    balance: int
    recorded: int

    @property
    def owed(self) -> int:
        return self.recorded + max(0, -self.balance)


def recorded_debts(session: Session, store_id: int) -> dict[int, int]:
    """Recorded debt per ledger customer, for every customer who has any."""
    rows = session.execute(
        select(PointEntry.customer_id, func.sum(PointEntry.points))
        .where(
            PointEntry.store_id == store_id,
            refs_starting(DEBT_PREFIX),
            PointEntry.kind == SourceKind.DEBT.value,
        )
        .group_by(PointEntry.customer_id)
    )
    return {int(customer): int(points) for customer, points in rows if points}


def debtors(session: Session, store_id: int) -> list[DebtState]:
    """Customers whose debt may need settling: a balance below zero, or recorded debt beside a
    balance above zero. In ledger customer id order."""
    recorded = recorded_debts(session, store_id)
    below = session.execute(
        select(Balance.customer_id, Balance.balance).where(
            Balance.store_id == store_id, Balance.balance < 0
        )
    ).all()
    found = {int(c): DebtState(int(c), int(b), recorded.get(int(c), 0)) for c, b in below}
    owing = sorted(c for c, points in recorded.items() if points > 0 and c not in found)
    for chunk in chunks(owing):
        for customer, balance in session.execute(
            select(Balance.customer_id, Balance.balance).where(
                Balance.customer_id.in_(chunk), Balance.balance > 0
            )
        ):
            found[int(customer)] = DebtState(int(customer), int(balance), recorded[int(customer)])
    return [found[c] for c in sorted(found)]


def debt_state(session: Session, customer_id: int) -> DebtState:
    """One customer's balance and recorded debt (0 and 0 for a customer without entries)."""
    balance = session.execute(
        select(Balance.balance).where(Balance.customer_id == customer_id)
    ).scalar_one_or_none()
    recorded = session.execute(
        select(func.sum(PointEntry.points)).where(
            PointEntry.customer_id == customer_id, PointEntry.kind == SourceKind.DEBT.value
        )
    ).scalar_one()
    return DebtState(customer_id, int(balance or 0), int(recorded or 0))


def last_revoke(session: Session, customer_id: int) -> str | None:
    """The source of the customer's latest negative entry that is not a redemption (redemptions
    are checked against the balance: what made it go below 0 was a revoke, or an adjustment)."""
    return session.execute(
        select(PointEntry.source_ref)
        .where(
            PointEntry.customer_id == customer_id,
            PointEntry.points < 0,
            PointEntry.kind != SourceKind.REDEMPTION.value,
        )
        .order_by(PointEntry.occurred_at.desc(), PointEntry.id.desc())
        .limit(1)
    ).scalar_one_or_none()
