"""`[rewards]`: stamp cards, validated at load with key names."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from loyalty.config import RewardsConfig
from rules.stamps import RewardKind, StampCard
from tests.config.test_config import REPO, config_error, load_text

COFFEE = '[[rewards.stamp_cards]]\nname = "coffee"\nproduct_ids = [12]\n'


def test_no_cards_by_default(tmp_path: Path) -> None:
    assert load_text(tmp_path, "").rewards == RewardsConfig()
    assert RewardsConfig().stamps_meta_key == "loyalty_stamps"


def test_a_card_with_only_a_name_and_products_takes_the_documented_defaults(
    tmp_path: Path,
) -> None:
    [card] = load_text(tmp_path, COFFEE).rewards.stamp_cards
    assert card == StampCard(name="coffee", product_ids=frozenset({12}))
    assert (card.stamps_for_reward, card.reward, card.reward_amount) == (
        10,
        RewardKind.FREE_ITEM,
        None,
    )
    assert (card.statuses, card.coupon_days) == (frozenset({"completed"}), 90)


def test_every_key_is_read(tmp_path: Path) -> None:
    text = """
[rewards]
stamps_meta_key = "shop_stamps"

[[rewards.stamp_cards]]
name = "coffee"
product_ids = [12, 13]
category_ids = [4]
stamps_for_reward = 8
reward = "amount"
reward_amount = "5.00"
statuses = ["processing", "completed"]
coupon_days = 30

[[rewards.stamp_cards]]
name = "tea"
category_ids = [7]
"""
    rewards = load_text(tmp_path, text).rewards
    assert rewards == RewardsConfig(
        stamp_cards=(
            StampCard(
                name="coffee",
                product_ids=frozenset({12, 13}),
                category_ids=frozenset({4}),
                stamps_for_reward=8,
                reward=RewardKind.AMOUNT,
                reward_amount=Decimal("5.00"),
                statuses=frozenset({"processing", "completed"}),
                coupon_days=30,
            ),
            StampCard(name="tea", category_ids=frozenset({7})),
        ),
        stamps_meta_key="shop_stamps",
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[[rewards.stamp_cards]]\nname = "coffee"\n',
            "rewards.stamp_cards[0]: a stamp card needs product_ids or category_ids (or both)",
        ),
        (
            "[[rewards.stamp_cards]]\nproduct_ids = [1]\n",
            "rewards.stamp_cards[0].name: required",
        ),
        (
            '[[rewards.stamp_cards]]\nname = "Free Coffee!"\nproduct_ids = [1]\n',
            "rewards.stamp_cards[0].name: expected lowercase letters, digits, _ and -",
        ),
        (
            COFFEE + COFFEE,
            "rewards.stamp_cards[1].name: expected a name no other stamp card uses",
        ),
        (
            '[[rewards.stamp_cards]]\nname = "c"\nproduct_ids = [0]\n',
            "rewards.stamp_cards[0].product_ids[0]: expected an id (a whole number >= 1), got 0",
        ),
        (
            '[[rewards.stamp_cards]]\nname = "c"\ncategory_ids = "4"\n',
            "rewards.stamp_cards[0].category_ids: expected an array of ids",
        ),
        (COFFEE + "stamps_for_reward = 0\n", "stamps_for_reward: expected an integer from 1"),
        (COFFEE + 'reward = "free"\n', 'reward: expected one of "free_item" | "amount"'),
        (COFFEE + 'reward = "amount"\n', "reward_amount: required"),
        (COFFEE + 'reward = "amount"\nreward_amount = "5.001"\n', "at most 2 decimals"),
        (COFFEE + 'reward = "amount"\nreward_amount = "0"\n', "expected a number > 0"),
        (COFFEE + 'reward_amount = "5.00"\n', 'only with reward = "amount"'),
        (COFFEE + 'statuses = ["done"]\n', "statuses[0]: expected one of pending"),
        (COFFEE + "coupon_days = 0\n", "coupon_days: expected an integer from 1 to 3650"),
        (COFFEE + "stamps = 3\n", "rewards.stamp_cards[0].stamps: unknown key"),
        (
            '[rewards]\nstamps_meta_key = "loyalty_points"\n',
            "rewards.stamps_meta_key: expected a key different from the points' meta keys",
        ),
        ('[rewards]\nstamps_meta_key = "wp_stamps"\n', "is refused"),
    ],
)
def test_a_bad_card_is_refused_naming_the_key(tmp_path: Path, text: str, message: str) -> None:
    assert message in config_error(tmp_path, text)


def test_the_example_file_documents_stamp_cards() -> None:
    text = (REPO / "config.example.toml").read_text()
    for key in ("[[rewards.stamp_cards]]", "stamps_for_reward", "reward_amount", "category_ids"):
        assert key in text
