"""Who holds an order's points, and moving a guest's points to the account that registers later.

An order with a customer id belongs to that account. A guest order (customer id 0) belongs to the
account whose email is its billing email if there is one, else to a guest held by that email. When
an account with a guest's email appears, the guest's orders are reassigned to it, first-order
bonuses are re-decided for both, and what is left on the guest moves over as a pair of transfer
entries (guest -B, account +B), so the history stays readable and every balance stays provable.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ledger.customers import (
    account_customer,
    account_customers,
    find_account_by_email,
    guest_customer,
    guests_by_email,
    normalise_email,
)
from ledger.entries import NewEntry, reconcile_key, ref_holdings
from ledger.kinds import SourceKind
from ledger.models import Balance, Customer, TrackedOrder
from rules.purchase import first_order_points
from rules.types import Order


class OwnerDirectory:
    """Resolves order owners to ledger customer ids, with a per-run cache (one sync = one writer)."""

    def __init__(self, store_id: int) -> None:
        self.store_id = store_id
        self._accounts: dict[int, int] = {}
        self._by_email: dict[str, int] = {}

    def owner_of(self, session: Session, order: Order) -> int | None:
        if order.customer_id:
            return self.account(session, order.customer_id)
        email = normalise_email(order.billing_email)
        if not email:
            return None
        cached = self._by_email.get(email)
        if cached is not None:
            return cached
        account = find_account_by_email(session, self.store_id, email)
        owner = account.id if account else guest_customer(session, self.store_id, email).id
        self._by_email[email] = owner
        return owner

    def account(self, session: Session, wc_id: int) -> int:
        cached = self._accounts.get(wc_id)
        if cached is None:
            cached = self._accounts[wc_id] = account_customer(
                session, self.store_id, wc_id, None
            ).id
        return cached

    def register_accounts(
        self, session: Session, customers: list[tuple[int, str]]
    ) -> list[tuple[int, Customer]]:
        """Record a page of accounts from the customers listing, (wc_id, email) each.

        Returns (account id, guest) for each account whose email a guest holds points under.
        """
        accounts = account_customers(session, self.store_id, customers)
        for wc_id, account in accounts.items():
            self._accounts[wc_id] = account.id
        guests = guests_by_email(session, self.store_id, [email for _, email in customers])
        merges = []
        for wc_id, email in sorted(customers):
            normalised = normalise_email(email)
            if not normalised:
                continue
            # WordPress keeps account emails unique, so the email names exactly this account.
            self._by_email[normalised] = accounts[wc_id].id
            if normalised in guests:
                merges.append((accounts[wc_id].id, guests[normalised]))
        return merges


def bonus_entries(
    session: Session,
    store_id: int,
    owner_ids: Collection[int],
    bonus: int,
    *,
    now: datetime,
) -> list[NewEntry]:
    """First-order bonus entries that bring each owner to what they should hold now.

    An owner earns the bonus while any of their orders carries points.
    """
    if bonus <= 0 or not owner_ids:
        return []
    earning = set(
        session.execute(
            select(TrackedOrder.customer_id)
            .where(
                TrackedOrder.store_id == store_id,
                TrackedOrder.customer_id.in_(list(owner_ids)),
                TrackedOrder.points > 0,
            )
            .distinct()
        ).scalars()
    )
    refs = {owner: f"first_order:customer:{owner}" for owner in owner_ids}
    held = ref_holdings(session, store_id, refs.values())
    entries = []
    for owner in sorted(owner_ids):
        award = first_order_points(bonus, owner in earning, f"customer:{owner}")
        holding = held.get(award.key)
        delta = award.points - (holding.points if holding else 0)
        if delta:
            entries.append(
                NewEntry(
                    customer_id=owner,
                    points=delta,
                    kind=SourceKind.FIRST_ORDER,
                    source_ref=award.key,
                    idempotency_key=reconcile_key(award.key, holding),
                    occurred_at=now,
                    rule_version=award.rule_version,
                    note=award.explanation,
                )
            )
    return entries


def merge_guest(
    session: Session, store_id: int, guest: Customer, account_id: int, *, bonus: int, now: datetime
) -> list[NewEntry]:
    """Reassign the guest's orders to the account and move what is left on the guest."""
    session.execute(
        update(TrackedOrder)
        .where(TrackedOrder.store_id == store_id, TrackedOrder.customer_id == guest.id)
        .values(customer_id=account_id)
    )
    entries = bonus_entries(session, store_id, {guest.id, account_id}, bonus, now=now)
    cached = session.execute(
        select(func.coalesce(func.sum(Balance.balance), 0)).where(Balance.customer_id == guest.id)
    ).scalar_one()
    remaining = int(cached) + sum(e.points for e in entries if e.customer_id == guest.id)
    if remaining == 0:
        return entries
    ref = f"transfer:guest:{guest.id}"
    holding = ref_holdings(session, store_id, [ref]).get(ref)
    position = holding.entries if holding else 0
    note = f"guest {guest.email} registered as an account"
    for offset, (customer, points) in enumerate(
        ((guest.id, -remaining), (account_id, remaining)), 1
    ):
        entries.append(
            NewEntry(
                customer_id=customer,
                points=points,
                kind=SourceKind.TRANSFER,
                source_ref=ref,
                idempotency_key=f"{ref}#{position + offset}",
                occurred_at=now,
                note=note,
            )
        )
    return entries
