"""`loyalty resync --recalculate`: orders decided again under the rule set in force now.

Orders keep the rule set that was in force when they were created (`effective_from`); a shop owner
who changes the rules and wants them applied to what already happened runs this. For each order
the ledger knows (of one customer with `--customer`, created on or after `--since`), read again
from the store by id (a hundred a request), the purchase points under the current rule set, at
the tier the order earned at, are compared with what it carries under its own rule set; the
difference is held by its own reference, `recalc:order:{id}`, as `adjustment` entries marked with
the current rule set's version (`rule_version`). The order's own points are untouched, so later
syncs keep deciding it under its own rule set and the recalculated difference stays beside it.

Exact and safe to repeat: what `recalc:order:{id}` should hold is reconciled like any source
(keys `recalc:order:{id}#n`), so a second run, or a dry run after a real one, finds nothing to
change. A dry run decides and counts in one transaction it rolls back. A real run commits each
hundred orders with a cursor (`recalculate`: the run's parameters, the last order done, when it
started); killed and run again with the same parameters, it goes on after the last order done and
reports what the killed run and itself appended together (the entries of its version recorded
since the killed run started), so the totals are those of one whole run.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from ledger.batches import chunks
from ledger.entries import NewEntry, append_entries
from ledger.kinds import SourceKind
from ledger.models import Customer, PointEntry, TrackedOrder
from ledger.reconcile import Target, reconcile
from ledger.session import (
    check_database_exists,
    check_schema_current,
    create_engine_for,
    database_errors,
)
from ledger.sync_lock import hold_sync_lock
from rules.types import PurchaseRules
from sync.client import StoreClient
from sync.context import SyncContext, Transactions
from sync.order_points import OrderPoints, Recalculated
from sync.orders import fetch_known_orders
from sync.products import ProductCategories
from sync.progress import Progress
from sync.refunds import fetch_refunds_by_ids
from sync.settings import SyncSettings

PREFIX = "recalc:"
CURSOR = "recalculate"
BATCH = 100


@dataclass(frozen=True)
class CustomerChange:
    customer_id: int | None  # WooCommerce id; None for a guest
    email: str | None
    points: int


@dataclass
class Recalculation:
    """What a run changed (or, dry, would change): points per ledger customer and in total."""

    version: str
    dry_run: bool
    since: date | None
    customer: int | None
    point_value: Decimal
    orders: int = 0  # orders decided again (this run)
    resumed: bool = False
    points: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    customers: list[CustomerChange] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.points.values())

    def liability(self, points: int) -> Decimal:
        return points * self.point_value

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
                "orders": self.orders,
                "customers": len(self.customers),
                "points": self.total,
                "liability": str(self.liability(self.total)),
            },
        }


def run_recalculation(
    settings: SyncSettings,
    *,
    point_value: Decimal,
    since: date | None = None,
    customer: int | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    engine: Engine | None = None,
    client: StoreClient | None = None,
) -> Recalculation:
    """Recalculate under the current rule set, holding the store's sync lock (a sync and a
    recalculation never interleave). Raises as `run_sync` does."""
    engine = engine or create_engine_for(settings.database_url)
    with database_errors(engine.url):
        check_database_exists(engine)
        check_schema_current(engine)
        with (
            hold_sync_lock(engine, settings.store_key),
            Transactions(engine, dry_run=dry_run) as tx,
        ):
            ctx = SyncContext.start(
                settings,
                tx,
                client or StoreClient(settings.client),
                progress or Progress(),
                full=False,
                dry_run=dry_run,
            )
            run = Recalculation(
                version=current_rules(settings, ctx.now).version,
                dry_run=dry_run,
                since=since,
                customer=customer,
                point_value=point_value,
            )
            _recalculate(ctx, run)
            return run


def current_rules(settings: SyncSettings, now: datetime) -> PurchaseRules:
    """The rule set in force now: the latest whose `effective_from` has come."""
    return settings.purchase.for_order_created(now)


def _recalculate(ctx: SyncContext, run: Recalculation) -> None:
    params = {
        "version": run.version,
        "since": run.since.isoformat() if run.since else None,
        "customer": run.customer,
    }
    state = ctx.cursor_state(CURSOR)
    run.resumed = not run.dry_run and state.get("params") == params and not state.get("complete")
    after = int(state.get("after", 0)) if run.resumed else 0
    started = datetime.fromisoformat(state["started_at"]) if run.resumed else ctx.now
    known = _known_orders(ctx, run.customer, after)
    points = _order_points(ctx)
    under = current_rules(ctx.settings, ctx.now)
    ctx.progress.start("recalculate", len(known))
    ids = sorted(known)
    for start in range(0, len(ids), BATCH):
        batch = {oid: known[oid] for oid in ids[start : start + BATCH]}
        with ctx.tx.unit() as session:
            for found, _gone in fetch_known_orders(ctx.client, batch):
                decided = points.recalculate(session, found, under, now=ctx.now)
                chosen = [
                    r for r in decided if run.since is None or r.created_at.date() >= run.since
                ]
                entries = reconcile(session, ctx.store_id, _targets(chosen, run.version, ctx.now))
                append_entries(session, ctx.store_id, entries, now=ctx.now)
                _count(run, entries)
                run.orders += len(chosen)
            if not run.dry_run:
                ctx.save_cursor(
                    session,
                    CURSOR,
                    None,
                    {**_state(params, started), "after": max(batch), "complete": False},
                )
        ctx.progress.advance(len(batch))
    with ctx.tx.unit() as session:
        if run.resumed:  # this run and the killed one(s) it finishes, as one run
            run.points.clear()
            run.points.update(_appended_since(session, ctx, run.version, started))
        if not run.dry_run:
            ctx.save_cursor(session, CURSOR, None, {**_state(params, started), "complete": True})
        run.customers = _described(session, run.points)
    ctx.progress.finish()


def _state(params: dict[str, Any], started: datetime) -> dict[str, Any]:
    return {"params": params, "started_at": started.isoformat()}


def _known_orders(ctx: SyncContext, customer: int | None, after: int) -> dict[int, str]:
    """The orders to decide again (id -> status last seen), after order `after`."""
    query = select(TrackedOrder.order_id, TrackedOrder.status).where(
        TrackedOrder.store_id == ctx.store_id,
        TrackedOrder.deleted.is_(False),
        TrackedOrder.customer_id.is_not(None),
        TrackedOrder.order_id > after,
    )
    if customer is not None:
        query = query.join(Customer, Customer.id == TrackedOrder.customer_id).where(
            Customer.wc_id == customer
        )
    with ctx.tx.unit() as session:
        return {int(oid): str(status) for oid, status in session.execute(query)}


def _order_points(ctx: SyncContext) -> OrderPoints:
    settings = ctx.settings
    needs_categories = any(v.category_overrides for v in settings.purchase.versions)
    return OrderPoints(
        ctx.store_id,
        settings.purchase,
        first_order_bonus=settings.first_order_points,
        owners=ctx.owners,
        fetch_refunds=lambda wanted: fetch_refunds_by_ids(ctx.client, wanted),
        categories=ProductCategories(ctx.client) if needs_categories else None,
        quarantine=ctx.quarantine,
        pending=settings.pending,
        store_now=ctx.window_end,
        tiers=settings.tiers,
    )


def _targets(found: Sequence[Recalculated], version: str, now: datetime) -> list[Target]:
    return [
        Target(
            owner=r.owner,
            source_ref=f"{PREFIX}order:{r.order_id}",
            kind=SourceKind.ADJUSTMENT,
            points=r.points - r.decided,
            occurred_at=now,
            note=(
                f"recalculated under rule set {version}: {r.points} points instead of {r.decided}"
            ),
            rule_version=version,
        )
        for r in found
    ]


def _count(run: Recalculation, entries: Sequence[NewEntry]) -> None:
    for entry in entries:
        run.points[entry.customer_id] += entry.points


def _appended_since(
    session: Session, ctx: SyncContext, version: str, started: datetime
) -> dict[int, int]:
    """What the recalculation started at `started` appended, over its runs (killed ones too)."""
    rows = session.execute(
        select(PointEntry.customer_id, func.sum(PointEntry.points))
        .where(
            PointEntry.store_id == ctx.store_id,
            PointEntry.source_ref >= PREFIX,
            PointEntry.source_ref < PREFIX[:-1] + ";",
            PointEntry.rule_version == version,
            PointEntry.recorded_at >= started,
        )
        .group_by(PointEntry.customer_id)
    )
    return {int(customer): int(points) for customer, points in rows}


def _described(session: Session, points: dict[int, int]) -> list[CustomerChange]:
    changed = sorted(c for c, p in points.items() if p)
    found: dict[int, tuple[int | None, str | None]] = {}
    for chunk in chunks(changed):
        for cid, wc_id, email in session.execute(
            select(Customer.id, Customer.wc_id, Customer.email).where(Customer.id.in_(chunk))
        ):
            found[int(cid)] = (wc_id, email)
    return [CustomerChange(*found.get(c, (None, None)), points[c]) for c in changed]
