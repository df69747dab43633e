"""Reading balances, and proving the cached ones equal the sum of the entries.

`verify_balances` is what `loyalty verify` and the tests run after every sync: an empty list means
every cached balance and lifetime equals what the append-only entries add up to.
`list_balances` feeds the CLI and reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Executable, case, exists, func, literal, or_, select
from sqlalchemy.orm import Session

from ledger.kinds import LIFETIME_KINDS, OUTSIDE_BALANCE_KINDS
from ledger.models import Balance, Customer, PointEntry


@dataclass(frozen=True)
class BalanceDifference:
    """A customer whose cached balance (or lifetime, or pending points) disagrees with the entries.

    `cached_balance`/`cached_lifetime` are None when entries exist but no balance row does.
    """

    customer_id: int
    wc_id: int | None
    email: str | None
    cached_balance: int | None
    entries_balance: int
    cached_lifetime: int | None
    entries_lifetime: int
    cached_pending: int | None = None
    entries_pending: int = 0


@dataclass(frozen=True)
class BalanceRow:
    """One customer's balance for listing: `customer_id` is the WooCommerce id (None for guests)."""

    customer_id: int | None
    email: str | None
    balance: int
    lifetime: int


def verify_balances(session: Session, store_id: int | None = None) -> list[BalanceDifference]:
    """Recompute every customer's balance and lifetime from the entries and list the mismatches
    (of one store, or of all stores); [] means the ledger is consistent. Ordered by customer id."""
    rows = [
        *session.execute(_mismatched_sums(store_id)),
        *session.execute(_balances_without_entries(store_id)),
    ]
    differences = [
        BalanceDifference(
            customer_id=row.customer_id,
            wc_id=row.wc_id,
            email=row.email,
            cached_balance=_int_or_none(row.cached_balance),
            entries_balance=int(row.entries_balance),
            cached_lifetime=_int_or_none(row.cached_lifetime),
            entries_lifetime=int(row.entries_lifetime),
            cached_pending=_int_or_none(row.cached_pending),
            entries_pending=int(row.entries_pending),
        )
        for row in rows
    ]
    return sorted(differences, key=lambda difference: difference.customer_id)


def list_balances(session: Session, store_id: int) -> list[BalanceRow]:
    """Every cached balance of a store: highest balance first, then by WooCommerce id (guests last)."""
    rows = session.execute(
        select(Customer.wc_id, Customer.email, Balance.balance, Balance.lifetime)
        .join(Customer, Customer.id == Balance.customer_id)
        .where(Balance.store_id == store_id)
        .order_by(
            Balance.balance.desc(), Customer.wc_id.asc().nulls_last(), Customer.email, Customer.id
        )
    )
    return [
        BalanceRow(customer_id=wc_id, email=email, balance=balance, lifetime=lifetime)
        for wc_id, email, balance, lifetime in rows
    ]


def _mismatched_sums(store_id: int | None) -> Executable:
    """Customers whose entries add up to something other than their balance row (or who have none)."""
    sums = _entry_sums(store_id)
    return (
        select(
            sums.c.customer_id,
            Customer.wc_id,
            Customer.email,
            Balance.balance.label("cached_balance"),
            sums.c.balance.label("entries_balance"),
            Balance.lifetime.label("cached_lifetime"),
            sums.c.lifetime.label("entries_lifetime"),
            Balance.pending.label("cached_pending"),
            sums.c.pending.label("entries_pending"),
        )
        .select_from(sums)
        .join(Customer, Customer.id == sums.c.customer_id)
        .outerjoin(Balance, Balance.customer_id == sums.c.customer_id)
        .where(
            or_(
                Balance.customer_id.is_(None),
                Balance.balance != sums.c.balance,
                Balance.lifetime != sums.c.lifetime,
                Balance.pending != sums.c.pending,
            )
        )
    )


def _entry_sums(store_id: int | None) -> Any:
    """One grouped query over the entries: net points and lifetime points per customer."""
    lifetime_points = case(
        (PointEntry.kind.in_(sorted(kind.value for kind in LIFETIME_KINDS)), PointEntry.points),
        else_=literal(0),
    )
    outside = PointEntry.kind.in_(sorted(k.value for k in OUTSIDE_BALANCE_KINDS))
    balance_points = case((outside, literal(0)), else_=PointEntry.points)
    pending_points = case((outside, PointEntry.points), else_=literal(0))
    query = select(
        PointEntry.customer_id,
        func.sum(balance_points).label("balance"),
        func.sum(lifetime_points).label("lifetime"),
        func.sum(pending_points).label("pending"),
    ).group_by(PointEntry.customer_id)
    if store_id is not None:
        query = query.where(PointEntry.store_id == store_id)
    return query.subquery("entry_sums")


def _balances_without_entries(store_id: int | None) -> Executable:
    """Balance rows that are not zero although no entry backs them."""
    query = (
        select(
            Balance.customer_id,
            Customer.wc_id,
            Customer.email,
            Balance.balance.label("cached_balance"),
            literal(0).label("entries_balance"),
            Balance.lifetime.label("cached_lifetime"),
            literal(0).label("entries_lifetime"),
            Balance.pending.label("cached_pending"),
            literal(0).label("entries_pending"),
        )
        .join(Customer, Customer.id == Balance.customer_id)
        .where(
            ~exists().where(PointEntry.customer_id == Balance.customer_id),
            or_(Balance.balance != 0, Balance.lifetime != 0, Balance.pending != 0),
        )
    )
    if store_id is not None:
        query = query.where(Balance.store_id == store_id)
    return query


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)
