"""`sync.source.rules_text`: the rules a recalculation resumes under, as text that is the same in
every process (sets sorted) and changes with any rule."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from rules.review import ReviewRules
from rules.types import ItemOverride, PurchaseRuleBook, PurchaseRules
from sync.source import rules_text

BOOK = PurchaseRuleBook(
    versions=(
        PurchaseRules(
            version="v2",
            earn_statuses=frozenset({"completed", "processing", "on-hold"}),
            points_per_unit=Decimal("1.5"),
            product_overrides={7: ItemOverride(multiplier=Decimal(2))},
        ),
    )
)


@pytest.mark.slow
def test_the_same_rules_give_the_same_text_in_every_process() -> None:
    code = (
        "from tests.sync.test_recalc_rules_text import BOOK; from sync.source import rules_text;"
        " print(rules_text(BOOK, 20))"
    )
    texts = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed},
            cwd=Path(__file__).resolve().parents[2],
        ).stdout.strip()
        for seed in ("1", "2", "3")
    }
    assert texts == {rules_text(BOOK, 20)}


def test_any_rule_change_changes_the_text() -> None:
    rules = BOOK.versions[0]
    changed = [
        PurchaseRuleBook(versions=(replace(rules, points_per_unit=Decimal(2)),)),
        PurchaseRuleBook(versions=(replace(rules, earn_statuses=frozenset({"completed"})),)),
        PurchaseRuleBook(versions=(replace(rules, product_overrides={7: ItemOverride()}),)),
    ]
    texts = {rules_text(book, 20) for book in changed} | {
        rules_text(BOOK, 30),
        rules_text(BOOK, 20),
    }
    assert len(texts) == 5
    assert rules_text(ReviewRules(points=10)) != rules_text(ReviewRules(points=15))
