"""What a ledger entry is for: the closed list of entry kinds, and which of them count toward lifetime.

Read by the ledger (lifetime maintenance and verification), by the sync (which kind to append for
which source object) and by reports (points by source).
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

    @property
    def counts_toward_lifetime(self) -> bool:
        """True for the earning kinds and transfers: lifetime is the sum of these entries.

        Their negative entries (a refund revoking purchase points) lower lifetime too; spending,
        expiring and manual corrections do not.
        """
        return self in LIFETIME_KINDS


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
