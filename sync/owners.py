"""Who holds an order's points, and moving a guest's points to the account that registers later.

An order with a customer id belongs to that account. A guest order (customer id 0) belongs to the
account whose email is its billing email if there is one, else to a guest held by that email. When
an account with a guest's email appears, the guest's orders are reassigned to it, first-order
bonuses are re-decided for both, and what is left on the guest moves over as a pair of transfer
entries (guest -B, account +B), so the history stays readable and every balance stays provable.
The guest's entries stay where they are; the move is recorded (`ledger.customers.record_move`),
for the reconcile of an expired order it earned (`ledger.customers.heirs`: who holds each entry's
points now).

The reverse happens when an account is deleted in the store (WordPress turns its orders into guest
orders billed to the same email): the account is marked deleted, its orders go to whoever holds
that email (an account with it, else a guest), and everything left on it, order points and the
rest (adjustments, bonuses), moves over as a transfer pair with the reason. If the person registers
again, the guest -> account move above brings it all back.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ledger.customers import (
    account_customer,
    account_customers,
    account_ids,
    accounts_by_email,
    carry_signup,
    find_account_by_email,
    guest_customer,
    guest_customers,
    guests_by_email,
    normalise_email,
    record_move,
)
from ledger.entries import NewEntry, lock_balances
from ledger.kinds import SourceKind
from ledger.models import Balance, Customer, Redemption, TrackedActivity, TrackedOrder
from ledger.reconcile import Target, reconcile
from ledger.stamps import move_stamps
from rules import notes
from rules.purchase import first_order_points
from rules.types import Award, Order

#: What a source does when one owner's holdings move to another (a guest registered, an account was
#: deleted): `(session, old owner, new owner)`, in the move's unit of work; returns the entries to
#: append with the move (or appends its own).
OwnerMoved = Callable[[Session, int, int], list[NewEntry]]


#: Owners a directory remembers (each of its two caches): what a few groups of orders name, so
#: that memory stays flat however big the shop (an owner forgotten is read again when needed, a
#: page's unknown owners in one query). 10,000 held 2.5 MB more at the peak of a 100,000-order
#: sync than 2,000 (20,000 customers), for no CPU measurably.
OWNER_CACHE_SIZE = 2_000

_K = TypeVar("_K")


class BoundedCache(dict[_K, int]):
    """A dict that forgets its oldest entries beyond `size` (a cache: the ledger has the truth)."""

    def __init__(self, size: int = OWNER_CACHE_SIZE) -> None:
        super().__init__()
        self.size = size

    def __setitem__(self, key: _K, value: int) -> None:
        super().__setitem__(key, value)
        while len(self) > self.size:
            del self[next(iter(self))]

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value


class OwnerDirectory:
    """Resolves order owners to ledger customer ids, with a per-run cache (one sync = one writer)
    of bounded size."""

    def __init__(self, store_id: int, cache_size: int = OWNER_CACHE_SIZE) -> None:
        self.store_id = store_id
        self._accounts: BoundedCache[int] = BoundedCache(cache_size)
        self._by_email: BoundedCache[str] = BoundedCache(cache_size)
        self._deleted: set[int] = set()  # WooCommerce ids of accounts deleted in the store

    def owner_of(self, session: Session, order: Order) -> int | None:
        return self.owner_for(session, order.customer_id, order.billing_email)

    def owner_for(self, session: Session, wc_id: int, email: str) -> int | None:
        """Who holds what an account (`wc_id` > 0) or a guest (`wc_id` 0, by email) earns: the
        account; for a guest, the account with that email, else the guest held by it."""
        if wc_id:
            account_id = self.account(session, wc_id)
            if wc_id not in self._deleted:
                return account_id
            # An item still naming a deleted account belongs with its email, as WordPress turns
            # such orders into guest orders.
        email = normalise_email(email)
        if not email:
            return None
        cached = self._by_email.get(email)
        if cached is not None:
            return cached
        account = find_account_by_email(session, self.store_id, email)
        owner = account.id if account else guest_customer(session, self.store_id, email).id
        self._by_email[email] = owner
        return owner

    def prepare(self, session: Session, orders: Collection[Order]) -> None:
        """Resolve a page's owners in a few statements (accounts, then emails), so `owner_of`
        answers each of its orders from the cache: the same owners, a query per page instead of
        several per order."""
        unknown = {o.customer_id for o in orders if o.customer_id} - self._accounts.keys()
        if unknown:
            for wc_id, (customer_id, deleted) in account_ids(
                session, self.store_id, unknown
            ).items():
                self._accounts[wc_id] = customer_id
                if deleted:
                    self._deleted.add(wc_id)
        emails = {
            normalise_email(o.billing_email)
            for o in orders
            if not o.customer_id or o.customer_id in self._deleted
        }
        emails = {e for e in emails if e and e not in self._by_email}
        if not emails:
            return
        owners = accounts_by_email(session, self.store_id, emails)
        owners |= guest_customers(session, self.store_id, emails - owners.keys())
        self._by_email.update(owners)

    def account(self, session: Session, wc_id: int) -> int:
        cached = self._accounts.get(wc_id)
        if cached is None:
            customer = account_customer(session, self.store_id, wc_id, None)
            cached = self._accounts[wc_id] = customer.id
            if customer.deleted_at is not None:
                self._deleted.add(wc_id)
        return cached

    def forget(self, account: Customer) -> None:
        """The account was deleted in the store: its id and email resolve to it no more."""
        if account.wc_id is not None:
            self._deleted.add(account.wc_id)
        for email in [e for e, owner in self._by_email.items() if owner == account.id]:
            del self._by_email[email]

    def register_accounts(
        self, session: Session, customers: list[tuple[int, str]]
    ) -> list[tuple[int, Customer]]:
        """Record a page of accounts from the customers listing, (wc_id, email) each.

        Returns (account id, guest) for each account whose email a guest holds points under.
        """
        accounts = account_customers(session, self.store_id, customers)
        self._accounts.update(accounts)
        guests = guests_by_email(session, self.store_id, [email for _, email in customers])
        merges = []
        for wc_id, email in sorted(customers):
            normalised = normalise_email(email)
            if not normalised:
                continue
            # WordPress keeps account emails unique, so the email names exactly this account.
            self._by_email[normalised] = accounts[wc_id]
            if normalised in guests:
                merges.append((accounts[wc_id], guests[normalised]))
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

    An owner earns the bonus while any of their orders carries points. A bonus of 0 is off:
    bonuses already held stay as they are.
    """
    if bonus <= 0 or not owner_ids:
        return []
    return reconcile(session, store_id, bonus_targets(session, store_id, owner_ids, bonus, now=now))


def bonus_targets(
    session: Session,
    store_id: int,
    owner_ids: Collection[int],
    bonus: int,
    *,
    now: datetime,
) -> list[Target]:
    """What each owner's first-order bonus should hold now (`bonus` while any of their orders
    carries points, else 0), as targets."""
    if not owner_ids:
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
    targets = []
    for owner in sorted(owner_ids):
        award = first_order_points(bonus, owner in earning, f"customer:{owner}")
        targets.append(award_target(owner, award, SourceKind.FIRST_ORDER, now))
    return targets


def award_target(owner: int, award: Award, kind: SourceKind, occurred_at: datetime) -> Target:
    """What `reconcile` needs of a rule's award held by `owner`, not split by product."""
    return Target(
        owner=owner,
        source_ref=award.key,
        kind=kind,
        points=award.points,
        occurred_at=occurred_at,
        note=award.explanation,
        rule_version=award.rule_version,
    )


def merge_guest(
    session: Session,
    store_id: int,
    guest: Customer,
    account_id: int,
    *,
    bonus: int,
    now: datetime,
    moved: OwnerMoved | None = None,
) -> list[NewEntry]:
    """Reassign the guest's orders to the account and move what is left on the guest."""
    return move_holdings(
        session,
        store_id,
        guest.id,
        account_id,
        bonus=bonus,
        now=now,
        ref=f"transfer:guest:{guest.id}",
        note=notes.GUEST_REGISTERED(email=guest.email),
        moved=moved,
    )


def retire_account(
    session: Session,
    store_id: int,
    account: Customer,
    *,
    bonus: int,
    now: datetime,
    moved: OwnerMoved | None = None,
) -> list[NewEntry]:
    """The account was deleted in the store: mark it, and give its orders and points to its email.

    The email's holder is an account that has it now, else the guest held by it (created if new).
    An account without an email keeps its points, marked deleted (nothing can hold them).
    """
    if account.deleted_at is not None:
        return []
    account.deleted_at = now
    session.flush()
    email = normalise_email(account.email or "")
    if not email:
        return []
    heir = find_account_by_email(session, store_id, email)
    holder = heir.id if heir is not None else guest_customer(session, store_id, email).id
    return move_holdings(
        session,
        store_id,
        account.id,
        holder,
        bonus=bonus,
        now=now,
        ref=f"transfer:deleted:{account.id}",
        note=notes.ACCOUNT_DELETED(account=account.wc_id, email=email),
        moved=moved,
    )


def retiring_holders(session: Session, store_id: int, accounts: Collection[Customer]) -> set[int]:
    """Every customer `retire_account` may give these accounts' points to, retired one after
    another: each live account holding one of their emails (the newest wins, maybe one retired
    later) and, where no other account holds it, the email's guest (created if new). So that a
    transaction retiring several locks all the rows it moves together, in ascending order
    (`move_holdings` locks each pair as it moves it: out of order with the pair before)."""
    retiring = {account.id for account in accounts}
    holders: set[int] = set()
    for email in sorted({normalise_email(a.email or "") for a in accounts} - {""}):
        live = set(
            session.execute(
                select(Customer.id).where(
                    Customer.store_id == store_id,
                    Customer.is_guest.is_(False),
                    Customer.deleted_at.is_(None),
                    Customer.email == email,
                )
            ).scalars()
        )
        holders |= live
        if not live - retiring:
            holders.add(guest_customer(session, store_id, email).id)
    return holders


def move_holdings(
    session: Session,
    store_id: int,
    source_id: int,
    target_id: int,
    *,
    bonus: int,
    now: datetime,
    ref: str,
    note: str,
    moved: OwnerMoved | None = None,
) -> list[NewEntry]:
    """Reassign the source's orders (with their stamps: `ledger.stamps.move_stamps`), activity
    items (reviews, comments: every source's, on this run or not) and redemptions to the target,
    re-decide both first-order bonuses, hand on the signup the source's balance carries
    (`ledger.customers.carry_signup`), let the other sources re-decide what they track (`moved`),
    record the move (`ledger.customers.record_move`), and move what is left on the source as a
    pair of transfer entries (source -B, target +B) under `ref`.

    A redemption's points come back (its coupon deleted, expired unused, refused by the store) to
    whoever holds the customer's points by then: left on a deleted account, they were returned
    where nothing can hold or move them (found by a review, 4 Dec).

    Both balance rows are locked first (the lock order of `ledger.entries.append_entries`), so
    the balance moved is the one left once every other writer of either is done: read unlocked,
    an adjustment or a redemption committed in between stayed on a deleted account (where
    nothing sees it again) or was spent and moved both, and a redemption opened meanwhile was
    not moved (a review of concurrent runs, 5 Dec)."""
    session.flush()  # a guest just created holds a balance row too
    lock_balances(session, store_id, sorted({source_id, target_id}), now)
    held_by_customer = (TrackedOrder, TrackedActivity, Redemption)
    for held in held_by_customer:  # every source's, whichever are on this run: a review left
        session.execute(  # on a guest looked moved later, its points paid twice
            update(held)
            .where(held.store_id == store_id, held.customer_id == source_id)
            .values(customer_id=target_id)
            .execution_options(synchronize_session=False)
        )
    for obj in list(session.identity_map.values()):  # rows loaded before the UPDATE
        if isinstance(obj, held_by_customer):
            session.expire(obj)
    move_stamps(session, store_id, source_id, target_id, now=now)  # the orders' stamps with them
    entries = bonus_entries(session, store_id, {source_id, target_id}, bonus, now=now)
    carry_signup(session, source_id, target_id)  # before the hooks: the signups' reads it
    if moved is not None:
        entries += moved(session, source_id, target_id)
    cached = session.execute(
        select(func.coalesce(func.sum(Balance.balance), 0)).where(Balance.customer_id == source_id)
    ).scalar_one()
    remaining = int(cached) + sum(e.points for e in entries if e.customer_id == source_id)
    record_move(session, store_id, source_id, target_id)
    if remaining == 0:
        return entries
    move = Target(
        owner=target_id,
        source_ref=ref,
        kind=SourceKind.TRANSFER,
        points=remaining,
        occurred_at=now,
        note=note,
        previous_owner=source_id,
        held=remaining,
    )
    return entries + reconcile(session, store_id, [move])
