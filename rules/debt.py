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

from rules import notes


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
    if balance < 0:
        if policy is DebtPolicy.NET_AGAINST_FUTURE:
            return DebtSettlement(
                DebtAction.RECORD,
                -balance,
                notes.OWED_AFTER(points=-balance, cause=cause)
                if cause
                else notes.OWED(points=-balance),
            )
        if policy is DebtPolicy.CLAMP_ZERO_AND_RECORD:
            return DebtSettlement(
                DebtAction.WRITE_OFF,
                -balance,
                notes.WRITTEN_OFF_AFTER(points=-balance, cause=cause)
                if cause
                else notes.WRITTEN_OFF(points=-balance),
            )
        return None
    if balance > 0 and recorded > 0:  # whatever the policy now: recorded debt is paid first
        paid = min(balance, recorded)
        left = recorded - paid
        return DebtSettlement(DebtAction.REPAY, -paid, notes.DEBT_PAID(paid=paid, left=left))
    return None


def owed(balance: int, recorded: int) -> int:
    """The points a customer owes: recorded debt plus whatever the balance is below zero."""
    return recorded + max(0, -balance)
