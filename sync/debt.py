"""Settling points debt (`[points] debt`) after points moved: for the sync and `loyalty adjust`.

`settle_debts` finds the customers whose balance went below zero, or who have recorded debt and
points to pay it with (`ledger.debt.debtors`), asks `rules.debt` what each needs, and appends it
in the caller's transaction. Each entry is keyed by its position in the customer's debt (or
write-off) history, `debt:{customer}#{n}`: two runs deciding on the same ledger state collide on
the key, and a replay finds nothing to settle, so settling is exact under replays.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.orm import Session

from ledger.debt import DebtState, debt_ref, debtors, last_revoke, write_off_ref
from ledger.entries import NewEntry, append_entries, reconcile_key, ref_holdings
from ledger.kinds import SourceKind
from rules.debt import DebtAction, DebtPolicy, settle_debt


def settle_debts(
    session: Session,
    store_id: int,
    policy: DebtPolicy,
    *,
    now: datetime,
    states: Iterable[DebtState] | None = None,
) -> list[NewEntry]:
    """Append what `policy` says for every customer in debt (or `states`); returns the inserted."""
    candidates = list(debtors(session, store_id) if states is None else states)
    decided = []
    for state in candidates:
        cause = last_revoke(session, state.customer_id) if state.balance < 0 else None
        settlement = settle_debt(policy, state.balance, state.recorded, cause=cause)
        if settlement is not None:
            decided.append((state.customer_id, settlement))
    if not decided:
        return []
    refs = {
        customer: (
            write_off_ref(customer)
            if settlement.action is DebtAction.WRITE_OFF
            else debt_ref(customer)
        )
        for customer, settlement in decided
    }
    held = ref_holdings(session, store_id, list(refs.values()))
    entries = [
        NewEntry(
            customer_id=customer,
            points=settlement.points,
            kind=(
                SourceKind.WRITE_OFF
                if settlement.action is DebtAction.WRITE_OFF
                else SourceKind.DEBT
            ),
            source_ref=refs[customer],
            idempotency_key=reconcile_key(refs[customer], held.get(refs[customer])),
            occurred_at=now,
            note=settlement.note,
        )
        for customer, settlement in decided
    ]
    return append_entries(session, store_id, entries, now=now)
