"""Stamp cards in the sync: the stamps of the orders it reads, the rewards of full cards, the meta.

For `sync.service`:
- `StampCounter.decided` decides (`rules.stamps`) the stamps each order of a page carries on each
  card, for the order's holder, and reconciles them (`ledger.stamps.set_stamps`) in the page's
  transaction: no request of its own, the pages and refund details are the orders' own. A guest's
  stamps are held like its points, never rewarded nor shown (a guest could never be told of a
  reward): they move with its points to the account it registers (`ledger.stamps.move_stamps`,
  from `sync.owners.move_holdings`), as a deleted account's move to its email's holder. A guest
  order that earns no points (`award_guests = false`) carries no stamps either, for anyone.
  `deleted` takes the stamps of orders deleted from the store back.
- `StampRewards.issue_due` issues one coupon per full card not yet rewarded, through the same
  `Redeemer` as points (the pending redemption commits before the POST, the code is looked up
  before any POST, a killed run is finished by the next), keyed `stamps:{card}:{customer}:{n}` so
  that the n-th card of a customer is rewarded once, ever. The coupon is added to the customer's
  `loyalty_coupons` list as storefront coupons are (`sync.coupon_lists`).
- `StampMeta` gives the write-back (`sync.customer_meta.push_balances`) the `loyalty_stamps` JSON of
  every customer whose cards changed since it was last written.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Any

from sqlalchemy.orm import Session

from ledger import stamps as ledger
from rules.stamps import FREE_ITEM_PERCENT, CardState, RewardKind, StampCard, cards_stamps
from sync.customer_meta import MetaUpdate
from sync.order_points import DecidedOrder
from sync.redemptions import Grant, Outcome, Redeemer

log = logging.getLogger("sync.stamps")

UnitOfWork = Callable[[], AbstractContextManager[Session]]
DEFAULT_META_KEY = "loyalty_stamps"


@dataclass(frozen=True)
class StampSettings:
    """What stamp cards need from the configuration (`[rewards]`)."""

    cards: tuple[StampCard, ...] = ()
    meta_key: str = DEFAULT_META_KEY

    def card(self, name: str) -> StampCard | None:
        return next((c for c in self.cards if c.name == name), None)


class StampCounter:
    """Reconciles the stamps of pages of orders with the ledger, in the caller's transaction: an
    `OrderFollower` of the orders source."""

    def __init__(self, store_id: int, cards: Sequence[StampCard]) -> None:
        self.store_id = store_id
        self.cards = tuple(cards)

    def decided(self, session: Session, orders: Sequence[DecidedOrder], *, now: datetime) -> int:
        """The stamps each order carries on each card, for its holder; returns how many changed."""
        decided = list(orders)
        if not self.cards or not decided:
            return 0
        targets = [
            ledger.StampTarget(card, o.order.order_id, o.customer_id, stamps)
            for o in decided
            for card, stamps in cards_stamps(
                o.order, self.cards, o.refunds, guest_barred=o.guest_barred
            ).items()
        ]
        return ledger.set_stamps(session, self.store_id, targets, now=now)

    def deleted(self, session: Session, order_ids: Sequence[int], *, now: datetime) -> int:
        """Orders deleted from the store: their stamps go back."""
        names = [card.name for card in self.cards]
        ids = sorted(set(order_ids))
        if not names or not ids:
            return 0
        return ledger.forget_orders(session, self.store_id, ids, names, now=now)


@dataclass
class RewardCounts:
    issued: int = 0
    pending: int = 0
    refused: int = 0
    #: (WooCommerce id, card, outcome) of every reward asked for this run.
    outcomes: list[tuple[int, StampCard, Outcome]] = field(default_factory=list)


class StampRewards:
    """Issues the coupons full cards earned."""

    def __init__(
        self,
        redeemer: Redeemer,
        unit_of_work: UnitOfWork,
        store_id: int,
        settings: StampSettings,
    ) -> None:
        self.redeemer = redeemer
        self.unit_of_work = unit_of_work
        self.store_id = store_id
        self.settings = settings

    def issue_due(self) -> RewardCounts:
        """One coupon per full card not rewarded yet; a coupon not created yet is finished by
        the next sync (pending redemptions first), never asked for twice."""
        counts = RewardCounts()
        with self.unit_of_work() as session:
            rows = ledger.customer_cards(session, self.store_id)
        for row in rows:
            card = self.settings.card(row.card)
            if card is None or not row.email:
                continue
            state = CardState(row.stamps, card.stamps_for_reward, row.rewards)
            for n in range(row.rewards + 1, row.rewards + state.rewards_due + 1):
                outcome = self.redeemer.grant(reward_grant(card, row, n))
                counts.outcomes.append((row.wc_id, card, outcome))
                counts.issued += outcome.status == "issued"
                counts.pending += outcome.status == "pending"
                counts.refused += outcome.status == "refused"
        return counts


def reward_grant(card: StampCard, row: ledger.CardRow, n: int) -> Grant:
    """The coupon of the `n`-th full `card` of a customer."""
    coupon: dict[str, Any]
    if card.reward is RewardKind.FREE_ITEM:
        amount = FREE_ITEM_PERCENT
        coupon = {"discount_type": "percent", "limit_usage_to_x_items": 1}
        if card.product_ids:
            coupon["product_ids"] = sorted(card.product_ids)
        if card.category_ids:
            coupon["product_categories"] = sorted(card.category_ids)
        what = f"one free item ({card.name} card {n})"
    else:
        amount = card.reward_amount or Decimal(0)
        coupon = {"discount_type": "fixed_cart"}
        what = f"{amount:.2f} off ({card.name} card {n})"
    return Grant(
        customer_id=row.customer_id,
        email=str(row.email),
        request_key=ledger.request_key(card.name, row.wc_id, n),
        request={"card": card.name, "n": n},
        channel=ledger.CHANNEL,
        label=card.name,
        amount=amount,
        coupon=coupon,
        coupon_days=card.coupon_days,
        description=f"Stamp card reward: {what}",
    )


class StampMeta:
    """The `loyalty_stamps` meta of customers whose cards changed, for the write-back."""

    def __init__(self, store_id: int, settings: StampSettings, *, now: Callable[[], datetime]):
        self.store_id = store_id
        self.settings = settings
        self.now = now

    def pending(self, session: Session) -> list[MetaUpdate]:
        """One update per account whose cards differ from what its meta was last given."""
        by_customer: dict[int, list[ledger.CardRow]] = {}
        for row in ledger.customer_cards(session, self.store_id):
            if self.settings.card(row.card) is not None:
                by_customer.setdefault(row.customer_id, []).append(row)
        updates = []
        for customer_id, rows in by_customer.items():
            fragments = {row.card: self._fragment(row) for row in rows}
            if all(fragments[row.card] == row.written for row in rows):
                continue
            value = {card: json.loads(text) for card, text in sorted(fragments.items())}
            updates.append(
                MetaUpdate(
                    customer_id=customer_id,
                    wc_id=rows[0].wc_id,
                    meta=({"key": self.settings.meta_key, "value": json.dumps(value)},),
                    on_written=partial(self._written, customer_id, fragments),
                )
            )
        return updates

    def _written(self, customer_id: int, fragments: dict[str, str], session: Session) -> None:
        ledger.mark_written(session, customer_id, fragments, now=self.now())

    def _fragment(self, row: ledger.CardRow) -> str:
        card = self.settings.card(row.card)
        assert card is not None
        state = CardState(row.stamps, card.stamps_for_reward, row.rewards)
        return json.dumps(state.as_meta(), sort_keys=True)
