"""What a ledger entry is for: the closed list of entry kinds, which of them count toward lifetime,
and the reports' vocabulary: each kind's source and, by the sign of its points, its status bucket.

Read by the ledger (lifetime maintenance, the daily rollup, verification), by the sync (which kind to
append for which source object) and by reports (Points Status and Points Sources).

The vocabulary covers kinds that nothing appends yet (pending points): the
reports show them as 0 and count them as soon as entries of those kinds land, with no change to the
reports. A new kind is added here, with its source and bucket, and nowhere else.
"""

from __future__ import annotations

from enum import StrEnum


class SourceKind(StrEnum):
    """The kind of a point entry, stored as its string value in `point_entries.kind`."""

    PURCHASE = "purchase"
    FIRST_ORDER = "first_order"
    REVIEW = "review"
    COMMENT = "comment"
    SIGNUP = "signup"
    BONUS = "bonus"
    ADJUSTMENT = "adjustment"
    REDEMPTION = "redemption"
    EXPIRY = "expiry"
    TRANSFER = "transfer"
    #: Purchase points waiting out a return window (+ when recorded, - when they mature or are
    #: cancelled; maturing appends the available points as `purchase`). Outside the spendable
    #: balance: cached balances, verification and the status equation leave pending entries out.
    PENDING = "pending"
    #: Points debt (`[points] debt = "net_against_future"`): + brings a balance that went below
    #: zero (points revoked after they were spent) back to 0 and records what is owed; - pays
    #: the debt from points that arrived later. The sum of a customer's debt entries is owed.
    DEBT = "debt"
    #: A negative balance forgiven (`[points] debt = "clamp_zero_and_record"`): +, with a reason.
    WRITE_OFF = "write_off"

    @property
    def counts_toward_lifetime(self) -> bool:
        """True for the earning kinds and transfers: lifetime is the sum of these entries.

        Their negative entries (a refund revoking purchase points) lower lifetime too; spending,
        expiring and manual corrections do not.
        """
        return self in LIFETIME_KINDS

    @property
    def counts_toward_balance(self) -> bool:
        """False only for pending points, which are not spendable yet."""
        return self not in OUTSIDE_BALANCE_KINDS

    @property
    def source(self) -> Source:
        """Where the points of this kind come from (Points Sources groups by it)."""
        return SOURCE_OF_KIND[self]

    def bucket(self, points: int) -> Bucket:
        """The Points Status bucket of an entry of this kind with these (signed) points."""
        if self in EARNING_KINDS:
            return Bucket.EARNED if points > 0 else Bucket.REVOKED
        return FIXED_BUCKET[self]


class Source(StrEnum):
    """Where points come from, as shop owners compare them (`point_rollups.source`)."""

    PURCHASE = "purchase"
    REVIEW = "review"
    COMMENT = "comment"
    SIGNUP = "signup"
    BONUS = "bonus"
    ADJUSTMENT = "adjustment"
    TRANSFER = "transfer"
    REDEMPTION = "redemption"
    EXPIRY = "expiry"
    DEBT = "debt"


#: The sources the Points Sources report lists, in this order (redemption and expiry are uses).
EARNING_SOURCES: tuple[Source, ...] = (
    Source.PURCHASE,
    Source.REVIEW,
    Source.COMMENT,
    Source.SIGNUP,
    Source.BONUS,
    Source.ADJUSTMENT,
    Source.TRANSFER,
)


class Bucket(StrEnum):
    """A line of the Points Status equation:
    opening + earned - revoked - redeemed - expired + adjusted + transferred + debt
    + written_off = closing. `debt` is points owed set aside (+) or paid back (-) under
    net_against_future; `written_off` is negative balances forgiven under clamp_zero_and_record.
    Pending points are shown beside it, outside the spendable balance."""

    EARNED = "earned"
    REVOKED = "revoked"
    REDEEMED = "redeemed"
    EXPIRED = "expired"
    ADJUSTED = "adjusted"
    TRANSFERRED = "transferred"
    DEBT = "debt"
    WRITTEN_OFF = "written_off"
    PENDING = "pending"


LIFETIME_KINDS: frozenset[SourceKind] = frozenset(
    {
        SourceKind.PURCHASE,
        SourceKind.FIRST_ORDER,
        SourceKind.REVIEW,
        SourceKind.COMMENT,
        SourceKind.SIGNUP,
        SourceKind.BONUS,
        SourceKind.TRANSFER,
    }
)

#: Kinds whose positive entries are earned points and whose negative entries are revocations.
EARNING_KINDS: frozenset[SourceKind] = frozenset(
    {
        SourceKind.PURCHASE,
        SourceKind.FIRST_ORDER,
        SourceKind.REVIEW,
        SourceKind.COMMENT,
        SourceKind.SIGNUP,
        SourceKind.BONUS,
    }
)

#: Kinds whose entries land in one bucket whatever their sign. A redemption reversed (the store
#: refused the coupon, or it expired unused) is a positive redemption entry: it lowers `redeemed`.
FIXED_BUCKET: dict[SourceKind, Bucket] = {
    SourceKind.ADJUSTMENT: Bucket.ADJUSTED,
    SourceKind.TRANSFER: Bucket.TRANSFERRED,
    SourceKind.REDEMPTION: Bucket.REDEEMED,
    SourceKind.EXPIRY: Bucket.EXPIRED,
    SourceKind.PENDING: Bucket.PENDING,
    SourceKind.DEBT: Bucket.DEBT,
    SourceKind.WRITE_OFF: Bucket.WRITTEN_OFF,
}

SOURCE_OF_KIND: dict[SourceKind, Source] = {
    SourceKind.PURCHASE: Source.PURCHASE,
    SourceKind.FIRST_ORDER: Source.BONUS,
    SourceKind.REVIEW: Source.REVIEW,
    SourceKind.COMMENT: Source.COMMENT,
    SourceKind.SIGNUP: Source.SIGNUP,
    SourceKind.BONUS: Source.BONUS,
    SourceKind.ADJUSTMENT: Source.ADJUSTMENT,
    SourceKind.TRANSFER: Source.TRANSFER,
    SourceKind.REDEMPTION: Source.REDEMPTION,
    SourceKind.EXPIRY: Source.EXPIRY,
    SourceKind.PENDING: Source.PURCHASE,
    SourceKind.DEBT: Source.DEBT,
    SourceKind.WRITE_OFF: Source.DEBT,
}

OUTSIDE_BALANCE_KINDS: frozenset[SourceKind] = frozenset({SourceKind.PENDING})
