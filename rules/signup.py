"""Points for registering an account: a pure decision over one account's registration time.

An account earns `points` once, when it registered at or after the moment its store's signups
started to earn (`earns_from`: when the sync first ran with signup points on, or earlier where an
owner ran `loyalty resync --signups --since DATE`). Accounts registered before earn nothing, and so
does an account that received an earlier account's signup points (deleted in the store, its points
went back to its email, and came to the account registered again with it). The decision is a
target like every other: deciding again on the same account gives the same answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rules import notes
from rules.types import Award

SIGNUP_REASON = "signup"
SIGNUP_RULE_VERSION = "signup-1"


@dataclass(frozen=True)
class SignupRules:
    """`[rules.signup]`: points per new account; 0 turns signups off."""

    points: int = 0


def signup_points(
    rules: SignupRules,
    registered_at: datetime,
    *,
    earns_from: datetime,
    owner_ref: str,
    earned_before: str | None = None,
) -> Award:
    """What the signup of the account `owner_ref` ("customer:17") should carry.

    Both times are aware UTC; an account registered in the very second signups started earns.
    `earned_before`: the email of an earlier account whose points, signup points among them, came
    to this one (deleted, then registered again): a signup earns once, not once per account.
    """
    key = f"{SIGNUP_REASON}:{owner_ref}"
    registered = registered_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    if rules.points <= 0:
        return _award(0, key, notes.SIGNUPS_OFF())
    if earned_before is not None:
        return _award(
            0, key, notes.SIGNUP_EARNED_BEFORE(registered=registered, email=earned_before)
        )
    if registered_at < earns_from:
        started = earns_from.strftime("%Y-%m-%dT%H:%M:%SZ")
        return _award(0, key, notes.REGISTERED_BEFORE(registered=registered, started=started))
    return _award(rules.points, key, notes.REGISTERED(registered=registered))


def _award(points: int, key: str, explanation: str) -> Award:
    return Award(
        points=points,
        reason=SIGNUP_REASON,
        key=key,
        rule_version=SIGNUP_RULE_VERSION,
        explanation=explanation,
    )
