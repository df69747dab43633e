"""Inactivity expiry: a recalculated difference is an adjustment, no activity, even while it waits
out the order's pending window (a review, 4 Dec)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm import Session

from ledger.kinds import SourceKind
from ledger.models import Customer, Store
from sync.expiry import run_expiry
from tests.ledger.test_expiry_run import INACTIVE, NOW, put

P, A, W = SourceKind.PURCHASE, SourceKind.ADJUSTMENT, SourceKind.PENDING


@pytest.mark.parametrize("pending", [False, True])
def test_a_recalculated_difference_is_no_activity_whether_or_not_it_waits_out_a_window(
    pending: bool, session: Session, store: Store, alice: Customer
) -> None:
    """Inactivity, 30 days. Alice's last purchase: 1 Jan (100 points, earned before pending
    points were on). On 5 Jan `loyalty resync --recalculate` gives her order 50 more points
    (`recalc:order:1`, dated when the recalculation ran). README: "a revoke, an adjustment or
    an expiry is no activity" — the difference is an adjustment; spendable at once (pending
    off), it does not restart the clock: the 150 expire on 31 Jan. Inside the order's window
    the same difference waits on `pending:recalc:order:1` (kind pending, +50) and becomes the
    adjustment when the window ends; `_movements_of` now reads every positive pending entry
    as a purchase's earning, so the recalculation restarts her clock on 5 Jan and nothing has
    expired on 1 Feb."""
    put(session, store, alice, (100, P, "order:1", "order:1#1", "2025-01-01T10:00"))
    if pending:
        put(
            session,
            store,
            alice,
            (50, W, "pending:recalc:order:1", "pending:recalc:order:1#1", "2025-01-05T10:00"),
            (-50, W, "pending:recalc:order:1", "pending:recalc:order:1#2", "2025-01-15T10:00"),
            (50, A, "recalc:order:1", "recalc:order:1#1", "2025-01-15T10:00"),
        )
    else:
        put(
            session, store, alice, (50, A, "recalc:order:1", "recalc:order:1#1", "2025-01-05T10:00")
        )

    run = run_expiry(session, store.id, INACTIVE, as_of=date(2025, 2, 1), now=NOW, dry_run=True)

    assert run.expired_points == 150
