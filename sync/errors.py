"""The sync's own errors: talking to the store, and items the store sent that cannot be used.

The CLI and the worker turn each into one clear line. Messages never carry secrets.
"""

from __future__ import annotations


class SyncError(Exception):
    """Base of every error the sync raises on purpose; the message is meant for a shop admin."""


class StoreError(SyncError):
    """Talking to the WooCommerce store failed."""


class StoreUnavailable(StoreError):
    """Retryable: 429, 5xx, timeouts, dropped connections. Raised after retries ran out."""


class StoreRejected(StoreError):
    """Not retryable: the store answered 4xx (auth, bad request, missing route)."""

    def __init__(self, message: str, *, status: int, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class StoreAnswerUnusable(StoreError):
    """Not retryable: the store's answer cannot be used as it is: larger than the cap, nested too
    deep, the wrong JSON type, or a redirect away from the store's own origin."""


class StoreAnswerTooComplex(StoreAnswerUnusable):
    """An answer larger than the cap, or too deep or too big to decode: fewer items a request may
    make it readable (`sync.paging.Listing.by_ids` halves its batches for callers who ask)."""


class SourceUnavailable(SyncError):
    """A run asked for a source that is not enabled (or cannot do what was asked)."""


class InvalidSourceData(SyncError):
    """One source item (order, refund, review) does not have the shape we need: it is quarantined."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
