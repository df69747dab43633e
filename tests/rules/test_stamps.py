"""The stamp-card rule, as tables: each row is an order (and its refunds) and the stamps it carries."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from rules.purchase import guest_barred
from rules.stamps import CardState, RewardKind, StampCard, cards_stamps, order_stamps
from rules.types import PurchaseRules, Refund, RefundLine
from tests.rules.test_purchase import line, order

COFFEE, MUFFIN, TEA_CATEGORY = 100, 200, 9
CARD = StampCard(name="coffee", product_ids=frozenset({COFFEE}))


def card(**changes: object) -> StampCard:
    return replace(CARD, **changes)  # type: ignore[arg-type]


def refund(*units: tuple[int, int], amount: str = "3.00") -> Refund:
    """A refund of (order line id, quantity) pairs; none: an amount only."""
    lines = tuple(RefundLine(lid, qty, Decimal(0), Decimal(0)) for lid, qty in units)
    return Refund(refund_id=1, amount=Decimal(amount), lines=lines)


COFFEES = line(1, "9.00", quantity=3, product_id=COFFEE)
MUFFINS = line(2, "4.00", quantity=2, product_id=MUFFIN)


@pytest.mark.parametrize(
    ("what", "the_order", "the_card", "refunds", "stamps"),
    [
        ("each unit of a card product is a stamp", order(COFFEES), CARD, [], 3),
        ("other products earn none", order(COFFEES, MUFFINS), CARD, [], 3),
        ("an order without the product earns none", order(MUFFINS), CARD, [], 0),
        (
            "several products of one card add up",
            order(COFFEES, MUFFINS),
            card(product_ids=frozenset({COFFEE, MUFFIN})),
            [],
            5,
        ),
        (
            "a variation id matches",
            order(line(1, quantity=2, product_id=1, variation_id=COFFEE)),
            CARD,
            [],
            2,
        ),
        (
            "a category matches",
            order(line(1, quantity=4, product_id=5, categories=frozenset({TEA_CATEGORY, 3}))),
            card(product_ids=frozenset(), category_ids=frozenset({TEA_CATEGORY})),
            [],
            4,
        ),
        (
            "a product or a category: each unit counts once",
            order(line(1, quantity=2, product_id=COFFEE, categories=frozenset({TEA_CATEGORY}))),
            card(category_ids=frozenset({TEA_CATEGORY})),
            [],
            2,
        ),
        ("processing is not completed", order(COFFEES, status="processing"), CARD, [], 0),
        (
            "statuses: processing counts when listed",
            order(COFFEES, status="processing"),
            card(statuses=frozenset({"processing", "completed"})),
            [],
            3,
        ),
        (
            "a cancelled order gives its stamps back",
            order(COFFEES, status="cancelled"),
            CARD,
            [],
            0,
        ),
        ("a refunded order gives its stamps back", order(COFFEES, status="refunded"), CARD, [], 0),
        ("a trashed order gives its stamps back", order(COFFEES, status="trash"), CARD, [], 0),
        ("a refunded unit takes its stamp back", order(COFFEES), CARD, [refund((1, 1))], 2),
        (
            "refunds add up, never below zero",
            order(COFFEES),
            CARD,
            [refund((1, 2)), refund((1, 2))],
            0,
        ),
        (
            "a refund of another line changes nothing",
            order(COFFEES, MUFFINS),
            CARD,
            [refund((2, 1))],
            3,
        ),
        ("a refund of an amount only changes nothing", order(COFFEES), CARD, [refund()], 3),
    ],
)
def test_order_stamps(
    what: str, the_order: object, the_card: StampCard, refunds: list[Refund], stamps: int
) -> None:
    assert order_stamps(the_order, the_card, refunds) == stamps, what  # type: ignore[arg-type]


def test_refunds_default_to_the_orders_own() -> None:
    assert order_stamps(order(COFFEES, refunds=(refund((1, 1)),)), CARD) == 2


def test_every_card_is_decided_by_name() -> None:
    muffins = card(name="muffin", product_ids=frozenset({MUFFIN}), stamps_for_reward=5)
    assert cards_stamps(order(COFFEES, MUFFINS), [CARD, muffins]) == {"coffee": 3, "muffin": 2}


@pytest.mark.parametrize(
    ("customer_id", "award_guests", "placed_by", "stamps"),
    [
        (7, False, 0, 3),  # an account's order: the setting is about guests
        (0, True, 0, 3),
        (0, False, 0, 0),  # a guest order that earns no points carries no stamp either
        (0, False, 7, 3),  # placed by an account since deleted: an account's order still
        (0, True, 7, 3),
    ],
)
def test_a_guest_order_carries_stamps_exactly_when_it_earns_points(
    customer_id: int, award_guests: bool, placed_by: int, stamps: int
) -> None:
    an_order = order(COFFEES, customer_id=customer_id, billing_email="guest@example.com")
    rules = PurchaseRules(award_guests=award_guests)
    barred = guest_barred(an_order, rules, placed_by=placed_by)

    assert cards_stamps(an_order, [CARD], guest_barred=barred) == {"coffee": stamps}


@pytest.mark.parametrize(
    ("stamps", "issued", "due", "on_card", "owed"),
    [
        (0, 0, 0, 0, 0),
        (9, 0, 0, 9, 0),
        (10, 0, 1, 0, 0),
        (13, 0, 1, 3, 0),
        (13, 1, 0, 3, 0),
        (25, 1, 1, 5, 0),
        (20, 1, 1, 0, 0),
        # a refund after the reward: the reward stays, the stamps are owed, nothing is due
        (9, 1, 0, 0, 1),
        (0, 1, 0, 0, 10),
        (19, 2, 0, 0, 1),
    ],
)
def test_card_state(stamps: int, issued: int, due: int, on_card: int, owed: int) -> None:
    state = CardState(stamps=stamps, for_reward=10, rewards_issued=issued)
    assert (state.rewards_due, state.on_card, state.owed) == (due, on_card, owed)
    assert state.as_meta() == {
        "stamps": on_card,
        "for_reward": 10,
        "rewards_issued": issued,
        "owed": owed,
    }


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"product_ids": frozenset()}, "names no product and no category"),
        ({"stamps_for_reward": 0}, "stamps_for_reward must be >= 1"),
        ({"reward": RewardKind.AMOUNT}, "reward_amount goes with reward = amount"),
        ({"reward_amount": Decimal("5.00")}, "reward_amount goes with reward = amount"),
    ],
)
def test_a_card_that_cannot_work_is_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        card(**changes)


def test_an_amount_card() -> None:
    amount = card(reward=RewardKind.AMOUNT, reward_amount=Decimal("5.00"))
    assert amount.reward_amount == Decimal("5.00")
