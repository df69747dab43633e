"""Signup points: one table per option of [rules.signup], decided over one account's registration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rules.signup import SIGNUP_RULE_VERSION, SignupRules, signup_points

STARTED = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)  # when signups started to earn
SECOND = timedelta(seconds=1)


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        (SignupRules(), 0),  # points = 0 by default: signups are off
        (SignupRules(points=50), 50),
        (SignupRules(points=1), 1),
        (SignupRules(points=-5), 0),  # the config refuses it; the rule never takes points away
    ],
)
def test_points(rules: SignupRules, expected: int) -> None:
    award = signup_points(rules, STARTED + SECOND, earns_from=STARTED, owner_ref="customer:3")
    assert award.points == expected


@pytest.mark.parametrize(
    ("registered_at", "expected"),
    [
        (STARTED - timedelta(days=400), 0),  # an account that existed long before
        (STARTED - SECOND, 0),  # the second before signups started
        (STARTED, 50),  # the very second they started
        (STARTED + SECOND, 50),
        (STARTED + timedelta(days=30), 50),
    ],
)
def test_only_accounts_registered_since_signups_started_earn(
    registered_at: datetime, expected: int
) -> None:
    award = signup_points(
        SignupRules(points=50), registered_at, earns_from=STARTED, owner_ref="customer:3"
    )
    assert award.points == expected


def test_the_award_is_keyed_to_the_account_with_its_reason_and_version() -> None:
    award = signup_points(
        SignupRules(points=50), STARTED, earns_from=STARTED, owner_ref="customer:3"
    )

    assert (award.key, award.reason, award.rule_version) == (
        "signup:customer:3",
        "signup",
        SIGNUP_RULE_VERSION,
    )
    assert award.explanation == "registered 2026-03-01T09:00:00Z"


def test_an_account_registered_before_says_when_signups_started() -> None:
    award = signup_points(
        SignupRules(points=50), STARTED - SECOND, earns_from=STARTED, owner_ref="customer:3"
    )

    assert award.explanation == (
        "registered 2026-03-01T08:59:59Z, before signups earned (2026-03-01T09:00:00Z)"
    )


def test_deciding_again_gives_the_same_award() -> None:
    def decide() -> object:
        return signup_points(
            SignupRules(points=50), STARTED, earns_from=STARTED, owner_ref="customer:3"
        )

    assert decide() == decide()


def test_an_account_holding_an_earlier_accounts_signup_earns_none_of_its_own() -> None:
    award = signup_points(
        SignupRules(points=50),
        STARTED + SECOND,
        earns_from=STARTED,
        owner_ref="customer:9",
        earned_before="cycle@example.org",
    )

    assert (award.points, award.key) == (0, "signup:customer:9")
    assert award.explanation == (
        "registered 2026-03-01T09:00:01Z; cycle@example.org earned its signup points with an"
        " earlier account"
    )
