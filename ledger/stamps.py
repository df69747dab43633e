"""Stamps in the ledger: per order and card what each order carries, per customer and card the sum.

For `sync.stamps`. Stamps are not points: they live in their own tables. `stamp_orders` holds, for
each (card, order), the stamps that order carries now and on whose card; `set_stamps` brings each
to its target (target minus held, like points), moving the per-customer sum in `stamp_cards` by
exactly the difference, in the caller's transaction. A replay, or a re-decision on the same
state, changes nothing. Stamps are held by whoever holds the order, as its points are (a guest, an
account deleted in the store, too), and move with it: `move_stamps`, when the holder's points move
to another customer. `stamp_cards.written` is the JSON last written to the customer's meta for
that card, so only customers whose cards changed are written.

The rewards a card earned are its redemptions (channel `stamps`, `tier` = the card's name, keyed
`stamps:{card}:{customer}:{n}`), counted, never stored twice.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, select, tuple_
from sqlalchemy.orm import Session

from ledger.models import Customer, Redemption, StampCard, StampOrder

CHANNEL = "stamps"
CHUNK = 500


@dataclass(frozen=True)
class StampTarget:
    """What one order should carry on one card, and on whose card (None: nobody's, e.g. a guest)."""

    card: str
    order_id: int
    customer_id: int | None
    stamps: int


@dataclass(frozen=True)
class CardRow:
    """A customer's card as the ledger has it, with the rewards issued for it so far."""

    customer_id: int
    wc_id: int
    email: str | None
    card: str
    stamps: int
    rewards: int
    written: str | None


def request_key(card: str, wc_id: int, n: int) -> str:
    """The redemption key of the `n`-th reward of a customer's card: issued once, ever."""
    return f"{CHANNEL}:{card}:{wc_id}:{n}"


def set_stamps(
    session: Session, store_id: int, targets: Iterable[StampTarget], *, now: datetime
) -> int:
    """Bring each (card, order) to its target; returns how many changed."""
    wanted = {(t.card, t.order_id): t for t in targets}
    if not wanted:
        return 0
    held = _held(session, store_id, list(wanted))
    moves: dict[tuple[int, str], int] = {}
    changed = 0
    for key, target in wanted.items():
        row = held.get(key)
        owner = target.customer_id if target.stamps else None
        if row is not None and row.customer_id == owner and row.stamps == target.stamps:
            continue
        changed += 1
        if row is not None and row.customer_id is not None:
            _move(moves, row.customer_id, target.card, -row.stamps)
        if owner is not None:
            _move(moves, owner, target.card, target.stamps)
        if row is None:
            if owner is None:
                changed -= 1  # nothing held, nothing to hold
                continue
            session.add(
                StampOrder(
                    store_id=store_id,
                    card=target.card,
                    order_id=target.order_id,
                    customer_id=owner,
                    stamps=target.stamps,
                    updated_at=now,
                )
            )
        elif owner is None:
            session.delete(row)
        else:
            row.customer_id, row.stamps, row.updated_at = owner, target.stamps, now
    _apply_moves(session, store_id, moves, now)
    return changed


def forget_orders(
    session: Session,
    store_id: int,
    order_ids: Collection[int],
    cards: Sequence[str],
    *,
    now: datetime,
) -> int:
    """Orders deleted from the store carry no stamps any more."""
    targets = [StampTarget(card, oid, None, 0) for card in cards for oid in order_ids]
    return set_stamps(session, store_id, targets, now=now)


def move_stamps(
    session: Session, store_id: int, source_id: int, target_id: int, *, now: datetime
) -> int:
    """Every order's stamps `source_id` holds are `target_id`'s now, each card's sum moved with
    them (through `set_stamps`, so in key order after the caller's balance rows): for
    `sync.owners.move_holdings`, which moves the orders themselves, with the points, in the same
    transaction. Moved again, or an order decided again for `target_id`, nothing changes; the
    rewards already issued move with the redemptions, so they stay spent. Returns how many
    (card, order) moved."""
    held = session.execute(
        select(StampOrder.card, StampOrder.order_id, StampOrder.stamps)
        .where(StampOrder.store_id == store_id, StampOrder.customer_id == source_id)
        .order_by(StampOrder.card, StampOrder.order_id)
    ).all()
    targets = [StampTarget(card, order_id, target_id, stamps) for card, order_id, stamps in held]
    return set_stamps(session, store_id, targets, now=now)


def customer_cards(session: Session, store_id: int) -> list[CardRow]:
    """Every live account's cards with stamps ever held, with the rewards issued for each (a
    guest's, or a deleted account's, are held for whoever its stamps move to, never shown)."""
    rewards = (
        select(func.count(Redemption.id))
        .where(
            Redemption.customer_id == StampCard.customer_id,
            Redemption.channel == CHANNEL,
            Redemption.tier == StampCard.card,
        )
        .scalar_subquery()
    )
    rows = session.execute(
        select(
            StampCard.customer_id,
            Customer.wc_id,
            Customer.email,
            StampCard.card,
            StampCard.stamps,
            rewards,
            StampCard.written,
        )
        .join(Customer, Customer.id == StampCard.customer_id)
        .where(
            StampCard.store_id == store_id,
            Customer.wc_id.is_not(None),
            Customer.deleted_at.is_(None),
        )
        .order_by(Customer.wc_id, StampCard.card)
    )
    return [
        CardRow(int(cid), int(wc), email, str(card), int(stamps), int(n), written)
        for cid, wc, email, card, stamps, n, written in rows
    ]


def mark_written(
    session: Session, customer_id: int, fragments: dict[str, str], *, now: datetime
) -> None:
    """Record the JSON written to the customer's meta for each card."""
    rows = session.execute(
        select(StampCard).where(
            StampCard.customer_id == customer_id, StampCard.card.in_(sorted(fragments))
        )
    ).scalars()
    for row in rows:
        row.written, row.updated_at = fragments[row.card], now


def _held(
    session: Session, store_id: int, keys: list[tuple[str, int]]
) -> dict[tuple[str, int], StampOrder]:
    found: dict[tuple[str, int], StampOrder] = {}
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start : start + CHUNK]
        rows = session.execute(
            select(StampOrder).where(
                StampOrder.store_id == store_id,
                tuple_(StampOrder.card, StampOrder.order_id).in_(chunk),
            )
        ).scalars()
        found.update({(row.card, row.order_id): row for row in rows})
    return found


def _move(moves: dict[tuple[int, str], int], customer_id: int, card: str, stamps: int) -> None:
    moves[(customer_id, card)] = moves.get((customer_id, card), 0) + stamps


def _apply_moves(
    session: Session, store_id: int, moves: dict[tuple[int, str], int], now: datetime
) -> None:
    """Move the per-customer sums (in key order: concurrent writers lock rows alike)."""
    moving = sorted(key for key, delta in moves.items() if delta)
    if not moving:
        return
    rows = {
        (row.customer_id, row.card): row
        for row in session.execute(
            select(StampCard).where(tuple_(StampCard.customer_id, StampCard.card).in_(moving))
        ).scalars()
    }
    for key in moving:
        row = rows.get(key)
        if row is None:
            row = StampCard(
                store_id=store_id, customer_id=key[0], card=key[1], stamps=0, updated_at=now
            )
            session.add(row)
        row.stamps += moves[key]
        row.updated_at = now
    session.flush()


def verify_stamps(session: Session, store_id: int | None = None) -> list[str]:
    """Cards whose sum differs from their orders' stamps, of one store or all (empty: consistent).

    Every order's stamps belong to a card row (one is created with the first stamp), so comparing
    each card with its orders covers both."""
    sums = select(
        StampOrder.customer_id, StampOrder.card, func.sum(StampOrder.stamps).label("total")
    ).group_by(StampOrder.customer_id, StampOrder.card)
    cards = select(StampCard.customer_id, StampCard.card, StampCard.stamps)
    if store_id is not None:
        sums = sums.where(StampOrder.store_id == store_id)
        cards = cards.where(StampCard.store_id == store_id)
    totals = sums.subquery()
    listed = cards.subquery()
    rows = session.execute(
        select(listed.c.customer_id, listed.c.card, listed.c.stamps, totals.c.total).outerjoin(
            totals,
            and_(totals.c.customer_id == listed.c.customer_id, totals.c.card == listed.c.card),
        )
    )
    return [
        f"customer {cid} card {card}: {stamps} stamps cached, {int(total or 0)} in its orders"
        for cid, card, stamps, total in rows
        if stamps != int(total or 0)
    ]
