"""Points debt: what happens when points are revoked after they were spent (`[points] debt`).

Pure: a customer's spendable balance and the debt already recorded for them in, the entry that
settles it out. The sync asks after every change to the ledger; asking again changes nothing.

- `allow_negative`: nothing is settled. The balance goes below zero and is shown as owed.
- `net_against_future` (default): a negative balance is brought to 0 by a `debt` entry that
  records what is owed; while debt is recorded, points that arrive (earnings, a coupon's points
  coming back, an adjustment) pay it first, by a negative `debt` entry.
- `clamp_zero_and_record`: a negative balance is brought to 0 by a `write_off` entry, with the
  reason; nothing is owed afterwards.

Either way a customer who owes points (`owed`) cannot redeem.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class DebtPolicy(StrEnum):
    ALLOW_NEGATIVE = "allow_negative"
    NET_AGAINST_FUTURE = "net_against_future"
    CLAMP_ZERO_AND_RECORD = "clamp_zero_and_record"


class DebtAction(StrEnum):
    RECORD = "record"  # a negative balance becomes recorded debt (+ points)
    REPAY = "repay"  # points that arrived pay recorded debt (- points)
    WRITE_OFF = "write_off"  # a negative balance is forgiven (+ points)


@dataclass(frozen=True)
class DebtSettlement:
    """One entry to append: `points` (signed, never 0) move the balance; `note` says why."""

    action: DebtAction
    points: int
    note: str


def settle_debt(
    policy: DebtPolicy, balance: int, recorded: int, *, cause: str | None = None
) -> DebtSettlement | None:
    """What to append for a customer whose spendable balance is `balance` and whose recorded
    (net_against_future) debt is `recorded` (>= 0); None when nothing is due.

    `cause` names what made the balance negative (the last revoking entry's source), for the note.
    """
    because = f" (after {cause})" if cause else ""
    if balance < 0:
        if policy is DebtPolicy.NET_AGAINST_FUTURE:
            return DebtSettlement(
                DebtAction.RECORD,
                -balance,
                f"{-balance} points owed: revoked after they were spent{because};"
                " taken from future points first",
            )
        if policy is DebtPolicy.CLAMP_ZERO_AND_RECORD:
            return DebtSettlement(
                DebtAction.WRITE_OFF,
                -balance,
                f"{-balance} points written off: revoked after they were spent{because}",
            )
        return None
    if balance > 0 and recorded > 0:  # whatever the policy now: recorded debt is paid first
        paid = min(balance, recorded)
        left = recorded - paid
        return DebtSettlement(
            DebtAction.REPAY, -paid, f"{paid} points paid toward the debt, {left} still owed"
        )
    return None


def owed(balance: int, recorded: int) -> int:
    """The points a customer owes: recorded debt plus whatever the balance is below zero."""
    return recorded + max(0, -balance)
