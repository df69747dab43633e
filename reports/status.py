"""Points Status: how many points exist and what they cost, over a range, and that it balances.

    opening + earned - revoked - redeemed - expired + adjusted + transferred
            + debt + written_off = closing

`opening` is the spendable total before the range, `closing` the total at its end, both summed
from the daily rollup (never the entries). Pending points are shown beside the equation: they are
not spendable yet. Kinds that nothing appends yet count as 0 and start counting when they land.

Points debt (`[points] debt`): `debt` is what was set aside as owed (+) or paid back (-) under
net_against_future, `written_off` what was forgiven under clamp_zero_and_record;
`debt_outstanding` is the recorded debt at the end of the range, and `below_zero` the points by
which balances are below zero now (allow_negative), read from the cached balances.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.kinds import Bucket, SourceKind
from ledger.models import Balance, PointRollup
from reports.period import Period

BUCKETS: tuple[Bucket, ...] = tuple(Bucket)


class Granularity(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"

    def period_start(self, day: date) -> date:
        if self is Granularity.WEEK:
            return day - timedelta(days=day.weekday())
        if self is Granularity.MONTH:
            return day.replace(day=1)
        return day


#: The status equation's buckets, each with the sign it enters with:
#: closing = opening + earned - revoked - redeemed - expired + adjusted + transferred + debt
#: + written off.
EQUATION = (
    ("earned", 1),
    ("revoked", -1),
    ("redeemed", -1),
    ("expired", -1),
    ("adjusted", 1),
    ("transferred", 1),
    ("debt", 1),
    ("written_off", 1),
)


@dataclass(frozen=True)
class Movements:
    """Points per status bucket; each is a positive amount in the equation's direction."""

    earned: int = 0
    revoked: int = 0
    redeemed: int = 0
    expired: int = 0
    adjusted: int = 0
    transferred: int = 0
    debt: int = 0
    written_off: int = 0
    pending: int = 0

    @property
    def net(self) -> int:
        """What the spendable total moved by (pending left out)."""
        return sum(sign * getattr(self, key) for key, sign in EQUATION)

    def terms(self) -> list[tuple[bool, str, int]]:
        """The equation after the opening, as it reads: (adds, bucket, magnitude) per bucket. A
        bucket that moved the other way than its sign says (more redemptions returned than made)
        reads `+ 10`, not `- -10`."""
        return [
            (sign * value > 0 or (value == 0 and sign > 0), key, abs(value))
            for key, sign in EQUATION
            for value in (getattr(self, key),)
        ]


@dataclass(frozen=True)
class PeriodRow:
    """One day, week or month of the range: its movements and the spendable total at its end."""

    start: date
    movements: Movements
    closing: int


@dataclass(frozen=True)
class StatusReport:
    period: Period
    opening: int
    movements: Movements
    closing: int  # summed directly from the rollup, not from the equation
    pending_outstanding: int  # pending points at the end of the range
    point_value: Decimal
    granularity: Granularity
    periods: list[PeriodRow] = field(default_factory=list)
    debt_outstanding: int = 0  # points recorded as owed (net_against_future) at the end
    below_zero: int = 0  # points by which customers' balances are below zero now

    @property
    def balanced(self) -> bool:
        """The equation holds: opening + net movements = closing."""
        return self.opening + self.movements.net == self.closing

    @property
    def liability(self) -> Decimal:
        """The outstanding points at the end, in store currency."""
        return self.closing * self.point_value


def points_status(
    session: Session,
    store_id: int,
    period: Period,
    *,
    point_value: Decimal,
    granularity: Granularity = Granularity.MONTH,
) -> StatusReport:
    """Points Status of one store over `period`, by `granularity`, from the daily rollup."""
    opening, _, _ = _totals_before(session, store_id, period.start)
    by_day = _movements_by_day(session, store_id, period)
    periods: list[PeriodRow] = []
    grouped: dict[date, dict[Bucket, int]] = defaultdict(lambda: dict.fromkeys(BUCKETS, 0))
    for day, buckets in sorted(by_day.items()):
        target = grouped[granularity.period_start(day)]
        for bucket, points in buckets.items():
            target[bucket] += points
    running = opening
    total: dict[Bucket, int] = dict.fromkeys(BUCKETS, 0)
    for start in sorted(grouped):
        movements = _movements(grouped[start])
        running += movements.net
        periods.append(PeriodRow(start, movements, running))
        for bucket, points in grouped[start].items():
            total[bucket] += points
    closing, pending_at_end, debt_at_end = _totals_before(
        session, store_id, period.end + timedelta(days=1) if period.end else None, open_end=True
    )
    return StatusReport(
        period=period,
        opening=opening,
        movements=_movements(total),
        closing=closing,
        pending_outstanding=pending_at_end,
        point_value=point_value,
        granularity=granularity,
        periods=periods,
        debt_outstanding=debt_at_end,
        below_zero=_below_zero(session, store_id),
    )


def _movements(buckets: dict[Bucket, int]) -> Movements:
    return Movements(**{bucket.value: points for bucket, points in buckets.items()})


def bucket_points(kind: SourceKind, credit: int, debit: int) -> dict[Bucket, int]:
    """Rollup sums of one kind as bucket amounts, each positive in the equation's direction."""
    if kind.bucket(1) is Bucket.EARNED:  # an earning kind: credits earn, debits revoke
        return {Bucket.EARNED: credit, Bucket.REVOKED: -debit}
    bucket = kind.bucket(1)
    net = credit + debit
    if bucket in (Bucket.REDEEMED, Bucket.EXPIRED):
        return {bucket: -net}
    return {bucket: net}


def _movements_by_day(
    session: Session, store_id: int, period: Period
) -> dict[date, dict[Bucket, int]]:
    rows = session.execute(
        select(
            PointRollup.day,
            PointRollup.kind,
            func.sum(PointRollup.credit),
            func.sum(PointRollup.debit),
        )
        .where(PointRollup.store_id == store_id, *period.days(PointRollup.day))
        .group_by(PointRollup.day, PointRollup.kind)
    )
    by_day: dict[date, dict[Bucket, int]] = defaultdict(lambda: dict.fromkeys(BUCKETS, 0))
    for day, kind, credit, debit in rows:
        for bucket, points in bucket_points(SourceKind(kind), int(credit), int(debit)).items():
            by_day[day][bucket] += points
    return by_day


def _totals_before(
    session: Session, store_id: int, day: date | None, *, open_end: bool = False
) -> tuple[int, int, int]:
    """(spendable, pending, recorded debt) totals of every rollup day before `day`; None: nothing
    before (or, with `open_end`, everything)."""
    if day is None and not open_end:
        return 0, 0, 0
    query = select(PointRollup.kind, func.sum(PointRollup.credit + PointRollup.debit)).where(
        PointRollup.store_id == store_id
    )
    if day is not None:
        query = query.where(PointRollup.day < day)
    spendable = pending = debt = 0
    for kind, points in session.execute(query.group_by(PointRollup.kind)):
        if SourceKind(kind).counts_toward_balance:
            spendable += int(points)
        else:
            pending += int(points)
        if kind == SourceKind.DEBT:
            debt += int(points)
    return spendable, pending, debt


def _below_zero(session: Session, store_id: int) -> int:
    """How many points the balances below zero add up to, now (their index answers it)."""
    total = session.execute(
        select(func.sum(Balance.balance)).where(Balance.store_id == store_id, Balance.balance < 0)
    ).scalar_one()
    return -int(total or 0)
