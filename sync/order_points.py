"""Deciding and recording the points of a page of orders, in the caller's unit of work.

For each order: parse it strictly (a broken one goes to quarantine, the rest go on), find who holds
its points, read its refunds' details (cached in the ledger; unknown ones fetched a hundred at a
time), decide what it should carry under the rule set in force when it was created, and append the
difference from what the ledger holds for `order:{id}` as one entry. Its `followers` (stamp cards)
are then told of the decided orders, and of deleted ones, in the same unit of work.

With pending points (`[points] pending_days`), what the order carries is split by
`rules.pending.split_purchase` into available points (`order:{id}`, kind `purchase`) and pending
ones (`pending:order:{id}`, kind `pending`), each reconciled on its own, on the store's time: a
refund inside the window lowers the pending points only, and the first decision after the window
moves them to the available points, dated when the window ended.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ledger.bulk import upsert_rows
from ledger.entries import (
    POINTS_LIMIT,
    NewEntry,
    RefHolding,
    append_entries,
    holds_refs,
    latest_rule_versions,
    lock_balances,
    ref_holdings,
    remember_products,
)
from ledger.kinds import SourceKind
from ledger.models import RefundDetail, TrackedOrder
from ledger.pending import RECALC_PREFIX, first_earned, holds_pending, pending_ref, recalc_ref
from ledger.reconcile import Target, reconcile
from ledger.tiers import earnings as ledger_earnings
from rules import notes
from rules.pending import PendingRules, PurchaseSplit, split_purchase
from rules.purchase import guest_barred, purchase_points
from rules.tiers import Earning, Tier, TierRules, tier_at
from rules.types import Award, Order, PurchaseRuleBook, PurchaseRules, Refund
from sync.errors import InvalidSourceData
from sync.order_data import parse_order, parse_refund
from sync.owners import OwnerDirectory, bonus_entries
from sync.quarantine import Quarantine, Rejected, parse_page, reject, valid_id
from sync.refunds import refund_order_id

#: Parsed refunds this run listed, kept until an order uses them so that its decision reads and
#: parses no payload from the ledger's cache (which stays the truth across runs): at most this
#: many (about half a kilobyte each); beyond, refunds are read from the cache as before. The
#: refunds are all listed before any order and used in the orders' order, so what is kept stays
#: live through most of the listing: 10,000 held about 4 MB at 100,000 orders, for no CPU
#: measurably saved against 2,000.
RUN_REFUNDS = 2_000
#: An order dated more than this after the store's clock (its `Date` header as the run started) is
#: quarantined: WooCommerce dates it by that clock, so the date was made up on the way (a plugin,
#: a broken row); taken as it is it would date its entries there, and a listing's walk by it.
MAX_AHEAD = timedelta(days=1)

RefundFetcher = Callable[[dict[int, set[int]]], list[dict[str, Any]]]
CategoryLookup = Callable[[set[int]], Mapping[int, frozenset[int]]]


@dataclass
class Outcome:
    """What one step did; summed into the sync's summary."""

    orders_seen: int = 0
    entries: list[NewEntry] = field(default_factory=list)
    quarantined: int = 0
    deleted: int = 0
    refunds_fetched: int = 0
    #: Orders whose state (status, modified date, refunds, points) the ledger had not seen yet.
    changed: int = 0

    def add(self, other: Outcome) -> None:
        self.orders_seen += other.orders_seen
        self.changed += other.changed
        self.entries.extend(other.entries)
        self.quarantined += other.quarantined
        self.deleted += other.deleted
        self.refunds_fetched += other.refunds_fetched


@dataclass(frozen=True)
class Recalculated:
    """An order decided again under another rule set: `points` then, `decided` under its own
    rule set, both from the order as read now (what `order:{id}` holds once synced)."""

    order_id: int
    owner: int  # the ledger customer holding its points
    created_at: datetime
    points: int
    decided: int


@dataclass(frozen=True)
class _Tracked:
    """What the ledger's `tracked_orders` row of an order says (read and written in bulk)."""

    customer_id: int | None
    wc_customer_id: int | None
    status: str
    points: int
    rule_version: str | None
    fingerprint: str
    deleted: bool
    tier: str | None  # the tier it earned at ("" none); None: not decided under tiers


_TRACKED_FIELDS = tuple(f.name for f in fields(_Tracked))


@dataclass(frozen=True)
class _Decision:
    order: Order
    owner: int
    award: Award
    refund_ids: tuple[int, ...]
    refunds: tuple[Refund, ...]
    tier: str | None = None  # the tier it earned at ("" none); None: tiers are off
    guest_barred: bool = False  # a guest order its rules do not award (`rules.purchase`)


@dataclass(frozen=True)
class DecidedOrder:
    """An order as the sync decided it: its holder in the ledger, its refunds' details, and
    whether it is a guest order the rule set it was decided under does not award (no points,
    so no stamps: `rules.purchase.guest_barred`)."""

    order: Order
    customer_id: int
    refunds: tuple[Refund, ...]
    guest_barred: bool = False


class OrderFollower(Protocol):
    """Something else orders carry (stamp cards), kept in step with them: told of every order
    decided and every order deleted, in the same transaction, from the same pages (no request)."""

    def decided(self, session: Session, orders: Sequence[DecidedOrder], *, now: datetime) -> int:
        """Record what these orders carry now; returns how many changed."""
        ...

    def deleted(self, session: Session, order_ids: Sequence[int], *, now: datetime) -> int:
        """These orders left the store: they carry nothing any more."""
        ...


class OrderPoints:
    """Reconciles orders with the ledger. One instance per sync run."""

    def __init__(
        self,
        store_id: int,
        rules: PurchaseRuleBook,
        *,
        first_order_bonus: int,
        owners: OwnerDirectory,
        fetch_refunds: RefundFetcher,
        categories: CategoryLookup | None,
        quarantine: Quarantine | None = None,
        followers: Sequence[OrderFollower] = (),
        pending: PendingRules | None = None,
        store_now: Callable[[], datetime] | None = None,
        tiers: TierRules | None = None,
        store_clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store_id = store_id
        self.followers = tuple(followers)
        self.quarantine = quarantine or Quarantine(store_id)
        #: WooCommerce ids of accounts whose orders came back as guest orders: maybe deleted.
        self.suspects: set[int] = set()
        self.rules = rules
        self.first_order_bonus = first_order_bonus
        self.owners = owners
        self.fetch_refunds = fetch_refunds
        self.categories = categories
        self.product_names: dict[int, str] = {}
        self.pending = pending or PendingRules()
        self.tiers = tiers or TierRules()
        #: The store's time, which pending windows are decided on (default: the recorded `now`).
        self.store_now = store_now
        #: The store's time as it runs on, which no order's date may pass by `MAX_AHEAD` (a run
        #: may last longer than that; default: `store_now`).
        self.store_clock = store_clock or store_now
        #: With pending points off: whether the ledger holds none at all (read once a run).
        self._no_pending_held: bool | None = None
        #: Whether no order was ever recalculated (`RECALC_PREFIX`; read once a run).
        self._no_recalc_held: bool | None = None
        #: Refund id -> the refund as this run listed it (`RUN_REFUNDS`), until an order uses it.
        self._run_refunds: dict[int, Refund] = {}

    # -- pages of orders ---------------------------------------------------------------------

    def process(
        self, session: Session, raw_orders: list[dict[str, Any]], *, now: datetime
    ) -> Outcome:
        """Decide and record a page (or several pages) of orders; broken ones go to quarantine,
        the rest go on.

        An order listed twice (a page shift, a split time slice) is decided once, on its latest
        copy, which is what deciding the copies one after another leaves in the ledger: the
        earlier copy's decision would only be corrected by the later one. When the copies disagree
        on who holds the order (its account or billing email changed in between), the later copy
        is decided after the earlier one instead, as a page of its own would be.
        """
        outcome = Outcome(orders_seen=len(raw_orders))
        batches = _owner_batches(raw_orders)
        if len(batches) > 1:  # one append a batch: every batch's customers' rows first, together
            self._lock_batches(session, batches, now)
        for batch in batches:
            self._process_batch(session, batch, outcome, now)
        return outcome

    def _lock_batches(
        self, session: Session, batches: list[list[dict[str, Any]]], now: datetime
    ) -> None:
        """`_lock_customers` for every batch's orders at once (those that will be decided: parsed,
        not ahead of the clock), before the first batch: a later batch's lower customer was
        locked after the earlier batch's rows. An order listed again in a later batch moves away
        from its earlier batch's owner, locked as that batch's."""
        pairs = [
            pair
            for batch in batches
            for pair in self._not_ahead(parse_page("orders", batch, parse_order)[0], [], now)
        ]
        orders = [order for order, _ in pairs]
        self.owners.prepare(session, orders)
        tracked = self._tracked(session, sorted({order.order_id for order in orders}))
        self._lock_customers(session, pairs, tracked, now)

    def decides_pages_together(self, session: Session) -> bool:
        """Whether several pages may be decided as one (their orders together): not when an
        order's decision reads what the ledger holds from the orders before it (tiers: the
        owner's earnings before the order; pending points: when its reference first earned), which
        deciding the pages one after another would have written already."""
        if self.tiers.enabled or self.pending.enabled:
            return False
        if self._no_pending_held is None:
            self._no_pending_held = not holds_pending(session, self.store_id)
        return self._no_pending_held

    def _process_batch(
        self, session: Session, raw_orders: list[dict[str, Any]], outcome: Outcome, now: datetime
    ) -> None:
        parsed, rejected = parse_page("orders", raw_orders, parse_order)
        parsed = self._not_ahead(parsed, rejected, now)
        parsed, usable = _latest_copies(raw_orders, parsed, rejected)
        decided_from = len(rejected)
        if parsed:
            orders = [order for order, _ in parsed]
            refunds = self._refund_details(session, orders, outcome, now)
            orders = self._with_categories(orders)
            tracked = self._tracked(session, [o.order_id for o in orders])
            self.owners.prepare(session, orders)
            pairs = [(order, raw) for order, (_, raw) in zip(orders, parsed, strict=True)]
            rounds = self._rounds(session, pairs, tracked)
            if len(rounds) > 1:  # one append a round: their customers' rows first, together
                self._lock_customers(session, pairs, tracked, now)
            for round_ in rounds:
                decisions = []
                for order, raw in round_:
                    decision = self._decide(session, order, raw, refunds, tracked, rejected)
                    if decision is not None:
                        decisions.append(decision)
                self._remember_products(session, [d.order for d in decisions])
                prints = [_fingerprint(d) for d in decisions]
                outcome.changed += sum(
                    _is_change(p, tracked.get(d.order.order_id))
                    for d, p in zip(decisions, prints, strict=True)
                )
                followed = self._recalculated(session, decisions, refunds, tracked, now)
                outcome.entries.extend(
                    self._record(session, decisions, tracked, now, followed, prints)
                )
                if self.followers:
                    decided = [
                        DecidedOrder(d.order, d.owner, d.refunds, d.guest_barred) for d in decisions
                    ]
                    for follower in self.followers:
                        follower.decided(session, decided, now=now)
        outcome.quarantined += self.quarantine.add(session, rejected, now=now)
        usable -= {r.ref for r in rejected[decided_from:]}
        self.quarantine.release(session, "orders", usable, now=now)

    def _rounds(
        self,
        session: Session,
        pairs: list[tuple[Order, Any]],
        tracked: Mapping[int, _Tracked],
    ) -> list[list[tuple[Order, Any]]]:
        """The batch's orders in rounds decided and recorded one after another: all at once,
        unless an order's decision reads what its owner's earlier orders wrote (tiers: the
        owner's earnings before the order). Then the orders touching a customer (as its owner
        now, or as the one it moves away from) go one a round, the first created first, as
        pages decided one after another would: together, a second order read its owner's
        earnings before the first one's entries (or the move of one away) were written, and
        earned at a tier she did not hold, for good (reviews, 4 Dec)."""
        if not self.tiers.enabled:
            return [pairs]
        next_round: dict[object, int] = {}
        rounds: list[list[tuple[Order, Any]]] = []
        for pair in sorted(pairs, key=lambda p: (p[0].created_at, p[0].order_id)):
            order = pair[0]
            owner = self.owners.owner_of(session, order)
            previous = tracked.get(order.order_id)
            touched = {("order", order.order_id) if owner is None else owner}
            if previous is not None and previous.customer_id is not None:
                touched.add(previous.customer_id)
            at = max(next_round.get(key, 0) for key in touched)
            next_round.update(dict.fromkeys(touched, at + 1))
            if at == len(rounds):
                rounds.append([])
            rounds[at].append(pair)
        if len(rounds) == 1:
            return [pairs]  # no customer twice: the orders as listed
        place = {id(pair): n for n, pair in enumerate(pairs)}
        return [sorted(round_, key=lambda p: place[id(p)]) for round_ in rounds]

    def _lock_customers(
        self,
        session: Session,
        pairs: list[tuple[Order, Any]],
        tracked: Mapping[int, _Tracked],
        now: datetime,
    ) -> None:
        """Lock the balance rows of every customer the orders touch (their owners now, and the
        ones they move away from), in ascending order, before rounds (or batches) record them one
        append after another: a later round's customer was locked after the first round's, and an
        expiry run locking every row in order held it while waiting for the first round's: a
        deadlock (a review of concurrent runs, 5 Dec)."""
        customers: set[int] = set()
        for order, _ in pairs:
            owner = self.owners.owner_of(session, order)
            previous = tracked.get(order.order_id)
            customers.update(
                c for c in (owner, previous.customer_id if previous else None) if c is not None
            )
        session.flush()  # a guest owner just created holds a balance row too
        lock_balances(session, self.store_id, sorted(customers), now)

    def _not_ahead(
        self, parsed: list[tuple[Order, Any]], rejected: list[Rejected], now: datetime
    ) -> list[tuple[Order, Any]]:
        """The orders dated at most `MAX_AHEAD` after the store's clock; the others rejected."""
        latest = (self.store_clock() if self.store_clock is not None else now) + MAX_AHEAD
        kept = []
        for order, raw in parsed:
            field, when = max(
                ("date_created_gmt", order.created_at),
                ("date_modified_gmt", order.modified_at),
                key=lambda named: named[1],
            )
            if when <= latest:
                kept.append((order, raw))
                continue
            error = InvalidSourceData(
                f"order {order.order_id}: {field} {when:%Y-%m-%d %H:%M:%S} is more than a day"
                f" after the store's clock ({latest - MAX_AHEAD:%Y-%m-%d %H:%M:%S} UTC)",
                field=field,
            )
            rejected.append(reject("orders", raw, error, after=None))
        return kept

    def recalculate(
        self,
        session: Session,
        raw_orders: list[dict[str, Any]],
        under: PurchaseRules,
        *,
        now: datetime,
    ) -> list[Recalculated]:
        """What each order would carry under the rule set `under` (at the tier it earned at),
        beside what it carries; records nothing but the refund details it had to fetch."""
        outcome = Outcome()
        parsed, rejected = parse_page("orders", raw_orders, parse_order)
        if not parsed:
            return []
        orders = [order for order, _ in parsed]
        refunds = self._refund_details(session, orders, outcome, now)
        orders = self._with_categories(orders)
        tracked = self._tracked(session, [o.order_id for o in orders])
        self.owners.prepare(session, orders)  # the page's owners in a few queries, not one each
        found = []
        for order, (_, raw) in zip(orders, parsed, strict=True):
            row = tracked.get(order.order_id)
            decision = self._decide(session, order, raw, refunds, tracked, rejected, under)
            own = self._decide(session, order, raw, refunds, tracked, rejected)
            if decision is None or own is None or row is None or row.customer_id is None:
                continue
            found.append(
                Recalculated(
                    order_id=order.order_id,
                    owner=row.customer_id,
                    created_at=order.created_at,
                    points=decision.award.points,
                    decided=_held_after_sync(own, row),
                )
            )
        return found

    def mark_deleted(self, session: Session, order_ids: Iterable[int], *, now: datetime) -> Outcome:
        """Orders that vanished from the store: they carry nothing any more."""
        ids = sorted(set(order_ids))
        tracked = self._tracked(session, ids)
        targets = [
            Target(
                owner=row.customer_id,
                source_ref=ref,
                kind=kind,
                points=0,
                occurred_at=now,
                note=notes.ORDER_DELETED(),
                # A recalculation's difference keeps naming its own rule set (`_recalculated`).
                rule_version=row.rule_version if own else None,
                lines={} if kind is SourceKind.PURCHASE else None,
            )
            for order_id, row in sorted(tracked.items())
            if row.customer_id is not None
            for ref, kind, own in (
                (f"order:{order_id}", SourceKind.PURCHASE, True),
                (pending_ref(f"order:{order_id}"), SourceKind.PENDING, True),
                (f"{RECALC_PREFIX}{order_id}", SourceKind.ADJUSTMENT, False),  # a recalculation's
                (pending_ref(f"{RECALC_PREFIX}{order_id}"), SourceKind.PENDING, False),
            )
        ]
        entries = reconcile(session, self.store_id, targets)
        if tracked:
            session.connection().execute(
                update(TrackedOrder)
                .where(
                    TrackedOrder.store_id == self.store_id,
                    TrackedOrder.order_id.in_(sorted(tracked)),
                )
                .values(deleted=True, points=0, status="deleted", last_seen_at=now)
            )
        owners = {row.customer_id for row in tracked.values() if row.customer_id is not None}
        entries += bonus_entries(session, self.store_id, owners, self.first_order_bonus, now=now)
        inserted = append_entries(session, self.store_id, entries, now=now)
        for follower in self.followers:
            follower.deleted(session, ids, now=now)
        return Outcome(entries=inserted, deleted=len(ids))

    # -- steps ---------------------------------------------------------------------------------

    def _decide(
        self,
        session: Session,
        order: Order,
        raw: Mapping[str, Any],
        refunds: Mapping[int, Refund],
        tracked: Mapping[int, _Tracked],
        rejected: list[Rejected],
        under: PurchaseRules | None = None,
    ) -> _Decision | None:
        """The order's decision under the rule set in force when it was created (or `under`)."""
        refund_ids = tuple(sorted(refund.refund_id for refund in order.refunds))
        missing = [rid for rid in refund_ids if rid not in refunds]
        if missing:
            error = InvalidSourceData(
                f"order {order.order_id}: refund(s) {missing} could not be read from the store",
                field="refunds",
            )
            rejected.append(reject("orders", raw, error, after=None))
            return None
        owner = self.owners.owner_of(session, order)
        previous = tracked.get(order.order_id)
        placed_by = 0  # the account the store named before it showed the order as a guest's
        if not order.customer_id and previous is not None and previous.wc_customer_id:
            # WordPress turns a deleted account's orders into guest orders, without a new date.
            self.suspects.add(previous.wc_customer_id)
            placed_by = previous.wc_customer_id
        if owner is None:
            if previous is None or previous.customer_id is None:
                return None  # a guest order without an email never held anything
            # An account's order without an email stays where the account's orders are: on the
            # account, then, once it is retired, with its email's holder (`retire_account`).
            owner = previous.customer_id
        rules = under or self.rules.for_order_created(order.created_at)
        tier = self._tier(session, order, owner, previous)
        if tier is not None and tier.multiplier != 1:  # the tier multiplies the rate
            rules = replace(rules, points_per_unit=rules.points_per_unit * tier.multiplier)
        applied = tuple(refunds[rid] for rid in refund_ids)
        award = purchase_points(order, rules, refunds=applied, placed_by=placed_by)
        if tier is not None:
            award = replace(
                award, explanation=notes.AT_TIER(note=award.explanation, tier=tier.name)
            )
        if abs(award.points) > POINTS_LIMIT:
            error = InvalidSourceData(
                f"order {order.order_id}: {award.points:,} points is beyond the bound of"
                f" ±{POINTS_LIMIT:,} points an order may carry",
                field="total",
            )
            rejected.append(reject("orders", raw, error, after=None))
            return None
        tier_name = None if not self.tiers.enabled else (tier.name if tier else "")
        barred = guest_barred(order, rules, placed_by=placed_by)
        return _Decision(order, owner, award, refund_ids, applied, tier_name, barred)

    def _tier(
        self, session: Session, order: Order, owner: int, previous: _Tracked | None
    ) -> Tier | None:
        """The tier the order earns at: the one its owner held when it was created, decided from
        the ledger the first time and kept on the tracked order (so replays agree)."""
        if not self.tiers.enabled:
            return None
        if previous is not None and previous.tier is not None:
            return self.tiers.by_name(previous.tier)
        earned = ledger_earnings(session, [owner], before=order.created_at)[owner]
        return tier_at([Earning(at, points) for at, points in earned], order.created_at, self.tiers)

    def _recalculated(
        self,
        session: Session,
        decisions: list[_Decision],
        refunds: Mapping[int, Refund],
        tracked: Mapping[int, _Tracked],
        now: datetime,
    ) -> list[Target]:
        """The difference a recalculation left beside each of these orders (`recalc:order:{id}`,
        `sync.order_recalc`), decided again with the order: what the order carries now under the
        rule set it was recalculated to (its entries' `rule_version`), less what it carries under
        its own. It followed nothing: an order cancelled after its recalculation kept the
        difference, points for an order that earns nothing. A rule set the config no longer
        holds leaves the difference as it is, unless the order now carries nothing at all."""
        if self._no_recalc_held is None:
            self._no_recalc_held = not any(
                holds_refs(session, self.store_id, prefix)
                for prefix in (RECALC_PREFIX, pending_ref(RECALC_PREFIX))
            )
        if self._no_recalc_held or not decisions:
            return []
        by_ref = {recalc_ref(d.award.key): d for d in decisions}
        groups = {read: ref for ref in by_ref for read in (ref, pending_ref(ref))}
        versions = latest_rule_versions(session, self.store_id, groups)
        gone = [ref for ref, v in versions.items() if self.rules.by_version(v) is None]
        # a rule set the config no longer holds: the difference stays what it is, all of it,
        # and waits out the window no longer once the order's points do not (found by a review)
        kept = (
            ref_holdings(session, self.store_id, [*gone, *map(pending_ref, gone)]) if gone else {}
        )
        targets = []
        for ref, version in sorted(versions.items()):
            d = by_ref[ref]
            under = self.rules.by_version(version)
            again = None
            if under is not None:
                again = self._decide(session, d.order, {}, refunds, tracked, [], under)
            if again is not None:
                points = again.award.points
            elif d.award.points != 0:  # no rule set to decide it under: as it is held
                points = d.award.points + sum(
                    _points(kept.get(held)) for held in (ref, pending_ref(ref))
                )
            else:
                points = 0
            row = tracked.get(d.order.order_id)
            note = notes.RECALCULATED_POINTS(points=points, decided=d.award.points)
            targets.append(
                Target(
                    owner=d.owner,
                    source_ref=ref,
                    kind=SourceKind.ADJUSTMENT,
                    points=points - d.award.points,
                    occurred_at=now,
                    note=notes.RECALCULATED(version=version, note=note),
                    rule_version=version,
                    previous_owner=row.customer_id if row is not None else None,
                )
            )
        return self.split_recalculated(session, targets, now)

    def split_recalculated(
        self, session: Session, targets: Sequence[Target], now: datetime
    ) -> list[Target]:
        """Recalculated differences (targets on `recalc:order:{id}`) split as their orders' points
        are (`rules.pending.split_purchase`, on the order's window): inside it the difference
        waits on `pending:recalc:order:{id}`, outside the spendable balance, and becomes
        available when the order's points do. Unchanged when pending points are off and none was
        ever held."""
        if not targets:
            return []
        if not self.pending.enabled:
            if self._no_pending_held is None:
                self._no_pending_held = not holds_pending(session, self.store_id)
            if self._no_pending_held:
                return list(targets)
        refs = [t.source_ref for t in targets]
        held = ref_holdings(session, self.store_id, refs)
        orders = {ref: "order:" + ref.removeprefix(RECALC_PREFIX) for ref in refs}
        earned = first_earned(session, self.store_id, orders.values())
        # a negative difference lowers no more pending points than its order holds
        own = ref_holdings(session, self.store_id, [pending_ref(o) for o in orders.values()])
        store_now = self.store_now() if self.store_now is not None else now
        split_targets: list[Target] = []
        for target in targets:
            split = split_purchase(
                target.points,
                held_available=_points(held.get(target.source_ref)),
                first_earned=earned.get(orders[target.source_ref]),
                now=store_now,
                rules=self.pending,
                pending_room=_points(own.get(pending_ref(orders[target.source_ref]))),
            )
            split_targets += _pending_pair(target, split)
        return split_targets

    def _record(
        self,
        session: Session,
        decisions: list[_Decision],
        tracked: dict[int, _Tracked],
        now: datetime,
        followed: Sequence[Target],
        prints: Sequence[str],
    ) -> list[NewEntry]:
        """Record the decisions (`prints`: their `_fingerprint`s, in order)."""
        targets = list(followed)
        owners: set[int] = set()
        splits = self._splits(session, decisions, now)
        rows: dict[int, dict[str, Any]] = {}
        for d, fingerprint in zip(decisions, prints, strict=True):
            row = tracked.get(d.order.order_id)
            split = splits.get(d.award.key)
            targets += [_target(d, row)] if split is None else _split_targets(d, row, split)
            owners.add(d.owner)
            if row is not None and row.customer_id is not None:
                owners.add(row.customer_id)
            rows[d.order.order_id] = self._track(d, row, tracked, now, fingerprint)
        entries = reconcile(session, self.store_id, targets)
        upsert_rows(session, TrackedOrder.__table__, list(rows.values()), ("store_id", "order_id"))
        entries += bonus_entries(session, self.store_id, owners, self.first_order_bonus, now=now)
        return append_entries(session, self.store_id, entries, now=now)

    def _splits(
        self, session: Session, decisions: list[_Decision], now: datetime
    ) -> dict[str, PurchaseSplit]:
        """Each order's available and pending points, when pending points are on or held; empty
        otherwise (the order carries its award, available)."""
        refs = [d.award.key for d in decisions]
        if not refs:
            return {}
        if not self.pending.enabled:
            if self._no_pending_held is None:  # pending points were never on: nothing to move
                self._no_pending_held = not holds_pending(session, self.store_id)
            if self._no_pending_held:
                return {}
        held_pending = ref_holdings(session, self.store_id, [pending_ref(r) for r in refs])
        if not self.pending.enabled and not held_pending:
            return {}
        held = ref_holdings(session, self.store_id, refs)
        earned = first_earned(session, self.store_id, refs)
        store_now = self.store_now() if self.store_now is not None else now
        return {
            d.award.key: split_purchase(
                d.award.points,
                held_available=_points(held.get(d.award.key)),
                first_earned=earned.get(d.award.key, d.order.modified_at),  # its entry's date
                now=store_now,
                rules=self.pending,
            )
            for d in decisions
        }

    def _track(
        self,
        d: _Decision,
        row: _Tracked | None,
        tracked: dict[int, _Tracked],
        now: datetime,
        fingerprint: str,
    ) -> dict[str, Any]:
        """The order's tracked row as it is now (a later decision in the page sees it too);
        `fingerprint` is the decision's (`_fingerprint`)."""
        new = _Tracked(
            customer_id=d.owner,
            # Kept when the order turns into a guest order, so a lost check is asked for again.
            wc_customer_id=d.order.customer_id or (row.wc_customer_id if row else None),
            status=d.order.status,
            points=d.award.points,
            rule_version=d.award.rule_version,
            fingerprint=fingerprint,
            deleted=False,
            tier=d.tier if d.tier is not None else (row.tier if row else None),
        )
        tracked[d.order.order_id] = new
        return {
            "customer_id": new.customer_id,
            "wc_customer_id": new.wc_customer_id,
            "status": new.status,
            "points": new.points,
            "rule_version": new.rule_version,
            "fingerprint": new.fingerprint,
            "deleted": False,
            "tier": new.tier,
            "store_id": self.store_id,
            "order_id": d.order.order_id,
            "modified_at": d.order.modified_at,
            "refund_ids": _json_ids(d.refund_ids),
            "last_seen_at": now,
        }

    def _remember_products(self, session: Session, orders: list[Order]) -> None:
        """Product names for the reports, written when first seen in a run or renamed."""
        names = {
            line.product_id: line.name
            for order in orders
            for line in order.lines
            if line.product_id
            and line.name
            and self.product_names.get(line.product_id) != line.name
        }
        remember_products(session, self.store_id, names)
        self.product_names.update(names)

    def _tracked(self, session: Session, order_ids: list[int]) -> dict[int, _Tracked]:
        if not order_ids:
            return {}
        columns = [getattr(TrackedOrder, name) for name in _TRACKED_FIELDS]
        rows = session.execute(
            select(TrackedOrder.order_id, *columns).where(
                TrackedOrder.store_id == self.store_id, TrackedOrder.order_id.in_(order_ids)
            )
        )
        return {row[0]: _Tracked(*row[1:]) for row in rows}

    def store_refunds(
        self, session: Session, raws: Iterable[Mapping[str, Any]], *, now: datetime
    ) -> int:
        """`store_refunds` (the ledger's cache), each refund also kept parsed for this run's
        orders (`RUN_REFUNDS`); returns how many are new to the cache."""
        raws = list(raws)
        new = store_refunds(session, self.store_id, raws, now=now)
        for raw in raws:
            try:
                refund_id = int(raw["id"])
            except (KeyError, TypeError, ValueError):
                continue
            try:
                refund = parse_refund(raw)
            except InvalidSourceData:
                refund = None  # the cache holds it as received: an order naming it quarantines
            if (
                refund is None
                or refund.refund_id != refund_id
                or refund_order_id(dict(raw)) is None
            ):
                self._run_refunds.pop(refund_id, None)
            elif refund_id in self._run_refunds or len(self._run_refunds) < RUN_REFUNDS:
                self._run_refunds[refund_id] = refund
        return new

    def _refund_details(
        self, session: Session, orders: list[Order], outcome: Outcome, now: datetime
    ) -> dict[int, Refund]:
        """Parsed refunds for every refund the orders name: as this run listed them, else from the
        cache, else from the store."""
        by_order = {o.order_id: {refund.refund_id for refund in o.refunds} for o in orders}
        wanted = {rid for ids in by_order.values() for rid in ids}
        if not wanted:
            return {}
        found = {rid: self._run_refunds.pop(rid) for rid in wanted if rid in self._run_refunds}
        if len(found) == len(wanted):
            return found
        cached = session.execute(
            select(RefundDetail.refund_id, RefundDetail.payload).where(
                RefundDetail.store_id == self.store_id,
                RefundDetail.refund_id.in_(sorted(wanted - found.keys())),
            )
        )
        payloads = {refund_id: json.loads(payload) for refund_id, payload in cached}
        known = payloads.keys() | found.keys()
        unknown = {oid: ids - known for oid, ids in by_order.items() if ids - known}
        unusable: list[Any] = []  # no id the ledger could hold: quarantined, naming `id`
        if unknown:
            fetched = self.fetch_refunds(unknown)
            outcome.refunds_fetched += len(fetched)
            store_refunds(session, self.store_id, fetched, now=now)
            for raw in fetched:
                refund_id = valid_id(raw)
                if refund_id is None:
                    unusable.append(raw)
                else:
                    payloads[refund_id] = raw
        good, rejected = parse_page("refunds", [*payloads.values(), *unusable], parse_refund)
        outcome.quarantined += self.quarantine.add(session, rejected, now=now)
        found.update((refund.refund_id, refund) for refund, _ in good)
        return found

    def _with_categories(self, orders: list[Order]) -> list[Order]:
        if self.categories is None:
            return orders
        product_ids = {line.product_id for o in orders for line in o.lines}
        product_ids |= {line.variation_id for o in orders for line in o.lines if line.variation_id}
        known = self.categories(product_ids)
        return [
            replace(
                o,
                lines=tuple(
                    replace(line, category_ids=known.get(line.product_id, frozenset()))
                    for line in o.lines
                ),
            )
            for o in orders
        ]


def store_refunds(
    session: Session, store_id: int, raws: Iterable[Mapping[str, Any]], *, now: datetime
) -> int:
    """Cache refunds as received (one query for what is known already); returns how many are new.

    A refund that names no usable id (1 to the BIGINT maximum) or no order is skipped: an order
    naming it quarantines instead.
    """
    usable: dict[int, tuple[int, str]] = {}
    for raw in raws:
        refund_id = valid_id(raw)
        order_id = None if refund_id is None else refund_order_id(dict(raw))
        if refund_id is not None and order_id is not None:
            usable[refund_id] = (order_id, json.dumps(raw, sort_keys=True))
    if not usable:
        return 0
    known = set(
        session.execute(
            select(RefundDetail.refund_id).where(
                RefundDetail.store_id == store_id, RefundDetail.refund_id.in_(sorted(usable))
            )
        ).scalars()
    )
    rows = [
        {
            "store_id": store_id,
            "refund_id": refund_id,
            "order_id": order_id,
            "payload": payload,
            "fetched_at": now,
        }
        for refund_id, (order_id, payload) in usable.items()
    ]
    upsert_rows(session, RefundDetail.__table__, rows, ("store_id", "refund_id"))
    return len(usable) - len(known)


def _owner_key(raw: Any) -> tuple[Any, Any]:
    """What names an order's holder in a raw order: its account and its billing email."""
    if not isinstance(raw, Mapping):
        return (None, None)
    billing = raw.get("billing")
    return (raw.get("customer_id"), billing.get("email") if isinstance(billing, Mapping) else None)


def _owner_batches(raw_orders: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The orders in consecutive batches in which no order is listed twice with different
    holders (nearly always one batch: the orders as they are)."""
    batches: list[list[dict[str, Any]]] = []
    start = 0
    keys: dict[int, tuple[Any, Any]] = {}
    for at, raw in enumerate(raw_orders):
        order_id = valid_id(raw)
        if order_id is None:
            continue
        key = _owner_key(raw)
        if keys.setdefault(order_id, key) != key:
            batches.append(raw_orders[start:at])
            start, keys = at, {order_id: key}
    batches.append(raw_orders[start:])
    return batches


def _latest_copies(
    raw_orders: list[dict[str, Any]],
    parsed: list[tuple[Order, Any]],
    rejected: list[Rejected],
) -> tuple[list[tuple[Order, Any]], set[str]]:
    """Each order once, its latest copy that parsed, at that copy's place; and the refs of the
    orders whose latest copy parsed (released from quarantine, as deciding the copies one after
    another would leave them)."""
    latest: dict[int, tuple[Order, Any]] = {}
    for order, raw in parsed:
        latest.pop(order.order_id, None)
        latest[order.order_id] = (order, raw)
    if not rejected and len(latest) == len(parsed):  # the usual page: each order once, all good
        return parsed, {str(order_id) for order_id in latest}
    place = {id(raw): at for at, raw in enumerate(raw_orders)}
    broken_at: dict[str, int] = {}
    for item in rejected:
        broken_at[item.ref] = max(broken_at.get(item.ref, -1), place.get(id(item.raw), -1))
    usable = {
        str(order_id)
        for order_id, (_, raw) in latest.items()
        if broken_at.get(str(order_id), -1) < place[id(raw)]
    }
    return list(latest.values()), usable


def _target(d: _Decision, row: _Tracked | None) -> Target:
    """What `order:{id}` should carry, on whom, split by product. If an admin moved the order to
    another customer, the previous holder (from the tracked row) gives back what they hold."""
    note = _note(d)
    return Target(
        owner=d.owner,
        source_ref=d.award.key,
        kind=SourceKind.PURCHASE,
        points=d.award.points,
        occurred_at=d.order.modified_at,
        note=note,
        rule_version=d.award.rule_version,
        lines={(p.product_id, p.category_id): p.points for p in d.award.products},
        previous_owner=row.customer_id if row is not None else None,
        moved_note=notes.ORDER_MOVED(note=note),
    )


def _split_targets(d: _Decision, row: _Tracked | None, split: PurchaseSplit) -> list[Target]:
    """The available part on `order:{id}` (split by product when it is the whole award) and the
    pending part on `pending:order:{id}`."""
    available = _target(d, row)
    lines = available.lines if split.available == d.award.points else None
    if split.available == 0:
        lines = {}
    return _pending_pair(replace(available, lines=lines), split)


def _pending_pair(target: Target, split: PurchaseSplit) -> list[Target]:
    """`target` split in two: its available part on its own reference (dated when the window
    ended, once it has) and its pending part on `pending:{ref}` (kind `pending`)."""
    available = target
    if split.matured_at is not None:  # points made available are dated when the window ended
        available = replace(available, occurred_at=max(available.occurred_at, split.matured_at))
    note = available.note or ""
    pending_note = (
        notes.PENDING_UNTIL(until=f"{split.matures_at:%Y-%m-%d %H:%M}", note=note)
        if split.matures_at is not None
        else notes.NO_LONGER_PENDING(note=note)
    )
    return [
        replace(available, points=split.available),
        replace(
            available,
            source_ref=pending_ref(target.source_ref),
            kind=SourceKind.PENDING,
            points=split.pending,
            lines=None,
            note=pending_note,
            moved_note=notes.ORDER_MOVED(note=pending_note),
        ),
    ]


def _points(holding: RefHolding | None) -> int:
    return holding.points if holding else 0


def _note(d: _Decision) -> str:
    refunds = ",".join(str(r) for r in d.refund_ids) or "none"
    modified = _second(d.order.modified_at, "-", ":", "Z")
    return notes.ORDER_STATE(
        note=d.award.explanation, status=d.order.status, modified=modified, refunds=refunds
    )


def _is_change(fingerprint: str, row: _Tracked | None) -> bool:
    """Whether the ledger sees this order in this state (its decision's `_fingerprint`) for the
    first time."""
    return row is None or row.deleted or row.fingerprint != fingerprint


def _held_after_sync(own: _Decision, row: _Tracked) -> int:
    """What `order:{id}` holds once the sync has seen the order as it is now: what the last sync
    decided, while the order is as that sync saw it (no sync lists it again); else its decision
    under its own rule set, which the next sync appends. A recalculation measured from the last
    decision of an order changed since (cancelled, completed) took that change twice: once in
    its difference, once when the sync caught up (found by a review, 4 Dec)."""
    as_seen = replace(own, award=replace(own.award, points=row.points))
    return row.points if _fingerprint(as_seen) == row.fingerprint else own.award.points


def _fingerprint(d: _Decision) -> str:
    modified = _second(d.order.modified_at, "", "", "")
    refunds = ",".join(str(r) for r in d.refund_ids)
    return f"{d.order.status}|{modified}|{refunds}|{d.award.points}"[:128]


# What `strftime` writes, formatted in Python: glibc's `strftime` took about 4 µs a call, three
# calls an order (about 3 % of a full sync's CPU). Years before 1000, which `%Y` does not pad,
# keep `strftime`.


def _second(moment: datetime, dash: str, colon: str, zone: str) -> str:
    """`moment.strftime(f"%Y{dash}%m{dash}%dT%H{colon}%M{colon}%S{zone}")`."""
    if moment.year < 1000:
        return moment.strftime(f"%Y{dash}%m{dash}%dT%H{colon}%M{colon}%S{zone}")
    return (
        f"{moment.year}{dash}{moment.month:02d}{dash}{moment.day:02d}"
        f"T{moment.hour:02d}{colon}{moment.minute:02d}{colon}{moment.second:02d}{zone}"
    )


def _json_ids(ids: tuple[int, ...]) -> str:
    """`json.dumps(list(ids))` of ints, without the encoder's machinery (a call an order)."""
    return f"[{', '.join(map(str, ids))}]"
