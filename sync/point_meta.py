"""More customer meta for the write-back (`sync.customer_meta.MoreMeta`): the next expiry and the
pending points, each sent only to the accounts whose value differs from what was last written.

- `ExpiringMeta`: `loyalty_points_expiring` = `{"points": N, "date": "YYYY-MM-DD"}` from
  `next_expiries` (kept by `sync.expiry`), `""` once nothing expires;
- `PendingMeta`: `loyalty_points_pending` = the customer's pending points (`balances.pending`);
- `TierMeta`: `loyalty_tier` = the name of the tier held (the latest `tier_events` move), `""`
  for none.

What was written is kept in `meta_writes` (`written_expiring`, `written_pending`), recorded in the
transaction that records the store's answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from ledger.models import Balance, Customer, MetaWrite, NextExpiry, TierEvent
from sync.customer_meta import MetaUpdate


def _accounts(store_id: int) -> list[ColumnElement[bool]]:
    """The conditions every written account meets: this store's, an account, not deleted."""
    return [
        Customer.store_id == store_id,
        Customer.wc_id.is_not(None),
        Customer.deleted_at.is_(None),
    ]


def _written_state(session: Session, customer_id: int) -> MetaWrite:
    state = session.get(MetaWrite, customer_id)
    if state is None:
        state = MetaWrite(customer_id=customer_id, attempts=0, gave_up=False)
        session.add(state)
        session.flush()  # the write-back's own record of this customer must find this row
    return state


@dataclass(frozen=True)
class ExpiringMeta:
    """The next expiry of each account whose value changed."""

    store_id: int
    key: str

    def pending(self, session: Session) -> list[MetaUpdate]:
        current = func.coalesce(NextExpiry.meta, "")
        rows = session.execute(
            select(Customer.id, Customer.wc_id, current)
            .outerjoin(NextExpiry, NextExpiry.customer_id == Customer.id)
            .outerjoin(MetaWrite, MetaWrite.customer_id == Customer.id)
            .where(*_accounts(self.store_id))
            .where(
                or_(NextExpiry.customer_id.is_not(None), MetaWrite.written_expiring.is_not(None)),
                func.coalesce(MetaWrite.written_expiring, "") != current,
            )
        )
        return [
            MetaUpdate(
                customer_id=int(customer_id),
                wc_id=int(wc_id or 0),
                meta=({"key": self.key, "value": str(value)},),
                on_written=partial(self._written, int(customer_id), str(value)),
            )
            for customer_id, wc_id, value in rows
        ]

    def _written(self, customer_id: int, value: str, session: Session) -> None:
        _written_state(session, customer_id).written_expiring = value


@dataclass(frozen=True)
class PendingMeta:
    """The pending points of each account whose pending points changed."""

    store_id: int
    key: str

    def pending(self, session: Session) -> list[MetaUpdate]:
        rows = session.execute(
            select(Customer.id, Customer.wc_id, Balance.pending)
            .join(Balance, Balance.customer_id == Customer.id)
            .outerjoin(MetaWrite, MetaWrite.customer_id == Customer.id)
            .where(*_accounts(self.store_id))
            .where(
                or_(
                    and_(MetaWrite.written_pending.is_(None), Balance.pending != 0),
                    MetaWrite.written_pending != Balance.pending,
                )
            )
        )
        return [
            MetaUpdate(
                customer_id=int(customer_id),
                wc_id=int(wc_id or 0),
                meta=({"key": self.key, "value": str(points)},),
                on_written=partial(self._written, int(customer_id), int(points)),
            )
            for customer_id, wc_id, points in rows
        ]

    def _written(self, customer_id: int, points: int, session: Session) -> None:
        _written_state(session, customer_id).written_pending = points


@dataclass(frozen=True)
class TierMeta:
    """The tier held by each account whose tier changed since it was last written."""

    store_id: int
    key: str

    def pending(self, session: Session) -> list[MetaUpdate]:
        latest = (
            select(TierEvent.customer_id, func.max(TierEvent.at).label("at"))
            .where(TierEvent.store_id == self.store_id)
            .group_by(TierEvent.customer_id)
            .subquery()
        )
        held = func.coalesce(TierEvent.after, "")
        rows = session.execute(
            select(Customer.id, Customer.wc_id, held)
            .join(latest, latest.c.customer_id == Customer.id)
            .join(
                TierEvent,
                (TierEvent.customer_id == latest.c.customer_id) & (TierEvent.at == latest.c.at),
            )
            .outerjoin(MetaWrite, MetaWrite.customer_id == Customer.id)
            .where(*_accounts(self.store_id))
            .where(
                or_(
                    and_(MetaWrite.written_tier.is_(None), held != ""),
                    MetaWrite.written_tier != held,
                )
            )
        )
        return [
            MetaUpdate(
                customer_id=int(customer_id),
                wc_id=int(wc_id or 0),
                meta=({"key": self.key, "value": str(name)},),
                on_written=partial(self._written, int(customer_id), str(name)),
            )
            for customer_id, wc_id, name in rows
        ]

    def _written(self, customer_id: int, name: str, session: Session) -> None:
        _written_state(session, customer_id).written_tier = name
