"""Pending purchase points (`[points] pending_days`): a return window before points can be spent.

Pure: what an order should carry in total (its award), what it already holds as available points,
when it first earned and the store's `now` in; how much of it should be available and how much
pending out.

- Off (`days` = 0): everything is available at once.
- Inside the window (`now` < first earned + `days`): the points wait as pending. A refund or a
  cancellation lowers the pending points only; available points (an order that earned before
  pending points were switched on) are kept unless the award falls below them.
- From the end of the window on: everything the order still carries is available. The move is an
  entry of its own: pending goes to 0 and the available points rise by as much.
- A negative award (a recalculation's difference under rules that give less, `recalc:order:{id}`)
  is split the same way, mirrored: inside the window it lowers the pending points, not the
  spendable balance, unless it was available already, and only as far as there are pending
  points to lower (`pending_room`: its order's own); the rest is taken from the balance at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class PendingRules:
    """`[points] pending_days`: days purchase points wait before they can be spent (0 = off)."""

    days: int = 0

    @property
    def enabled(self) -> bool:
        return self.days > 0


@dataclass(frozen=True)
class PurchaseSplit:
    """An order's award split into available and pending points (targets, not deltas)."""

    available: int
    pending: int
    #: When the pending points become available; None when nothing is pending.
    matures_at: datetime | None = None
    #: When the window ended, once it has (entries that make points available are dated then).
    matured_at: datetime | None = None


def split_purchase(
    award: int,
    *,
    held_available: int,
    first_earned: datetime | None,
    now: datetime,
    rules: PendingRules,
    pending_room: int | None = None,
) -> PurchaseSplit:
    """Split `award` (the points the order should carry now) for an order that holds
    `held_available` available points and first earned at `first_earned` (None: it earns now).
    What is available already stays so, as far as the award (of the same sign) reaches. A
    negative award lowers pending points by `pending_room` at most (None: no bound)."""
    if not rules.enabled or award == 0:
        return PurchaseSplit(available=award, pending=0)
    matures_at = (first_earned or now) + timedelta(days=rules.days)
    if now >= matures_at:
        return PurchaseSplit(available=award, pending=0, matured_at=matures_at)
    # what is held available, clamped between 0 and the award (either sign)
    available = sorted((0, held_available, award))[1]
    pending = award - available
    if pending < 0 and pending_room is not None:  # no pending points to lower: from the balance
        pending = max(pending, -max(pending_room, 0))
        available = award - pending
    return PurchaseSplit(available, pending, matures_at if pending else None)
