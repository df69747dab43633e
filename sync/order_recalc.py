"""The orders source's part of `loyalty resync --recalculate` (`sync.source.Recalculates`).

Orders keep the rule set in force when they were created (`effective_from`): what `order:{id}`
holds stays decided under it. Recalculating, each order the ledger tracks (not deleted, with a
holder; of one customer, created on or after `--since`) is decided under the rule set in force
now, at the tier it earned at (the tier's multiplier as `[[tiers]]` says now), and the difference
from what it carries is held beside it by `recalc:order:{id}` (kind `adjustment`; while the
order's points wait out their pending window, on `pending:recalc:order:{id}` too). What it carries
is what `order:{id}` holds once a sync has seen the order as it is now: the last decision while
the order is unchanged, else its decision under its own rule set (cancelled since, it carries
nothing: the sync will take its points back, so the difference must not). Later syncs
go on deciding the order under its own rule set, and its difference with it
(`OrderPoints._recalculated`: under the rule set it was recalculated to, less its own). The ledger keeps no
order amounts, so the orders are read again from the store by id, a hundred a request: the only
requests a recalculation makes (their refunds come from the ledger's cache; products only when a
rule set has category overrides). The first-order bonus of their holders is decided again too,
from the ledger (`tracked_orders`), on its own reference, as the sync decides it.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.kinds import SourceKind
from ledger.models import TrackedOrder
from ledger.pending import RECALC_PREFIX
from ledger.reconcile import Target
from rules import notes
from sync.context import SyncContext
from sync.order_points import OrderPoints
from sync.orders import fetch_known_orders
from sync.owners import bonus_targets
from sync.source import RecalcBatch, RecalcScope

PREFIX = RECALC_PREFIX


def known_order_ids(ctx: SyncContext, scope: RecalcScope, after: int) -> list[int]:
    """The tracked orders to decide again, ascending, above order `after`."""
    query = select(TrackedOrder.order_id).where(
        TrackedOrder.store_id == ctx.store_id,
        TrackedOrder.deleted.is_(False),
        TrackedOrder.customer_id.is_not(None),
        TrackedOrder.order_id > after,
    )
    if scope.owner is not None:
        query = query.where(TrackedOrder.customer_id == scope.owner)
    with ctx.tx.unit() as session:
        return sorted(int(oid) for oid in session.execute(query).scalars())


def recalculate_orders(
    ctx: SyncContext, session: Session, points: OrderPoints, scope: RecalcScope, ids: list[int]
) -> RecalcBatch:
    """A batch of orders (at most a hundred: one request, two when some moved to the trash)
    decided under the rule set in force now; their holders' first-order bonuses with them."""
    under = ctx.settings.purchase.in_force(ctx.now)
    rows = session.execute(
        select(TrackedOrder.order_id, TrackedOrder.status).where(
            TrackedOrder.store_id == ctx.store_id, TrackedOrder.order_id.in_(ids)
        )
    )
    statuses = {int(order_id): str(status) for order_id, status in rows}
    batch = RecalcBatch()
    holders: set[int] = set()
    differences = []
    for found, _gone in fetch_known_orders(ctx.client, statuses):
        for order in points.recalculate(session, found, under, now=ctx.now):
            if not scope.covers(order.created_at):
                continue
            batch.decided += 1
            holders.add(order.owner)
            differences.append(
                Target(
                    owner=order.owner,
                    source_ref=f"{PREFIX}{order.order_id}",
                    kind=SourceKind.ADJUSTMENT,
                    points=order.points - order.decided,
                    occurred_at=ctx.now,
                    note=notes.RECALCULATED_POINTS(points=order.points, decided=order.decided),
                )
            )
    # inside an order's pending window its difference waits with it (`[points] pending_days`)
    batch.targets += points.split_recalculated(session, differences, ctx.now)
    bonus = ctx.settings.first_order_points
    batch.targets += bonus_targets(session, ctx.store_id, holders, bonus, now=ctx.now)
    return batch
