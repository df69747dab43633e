"""The error hierarchy, one branch per boundary. Messages never carry secrets.

The CLI's own errors live here; the sync's (`sync.errors`) and the ledger's (`ledger.errors`) live
with them, since neither imports anything from `loyalty/`, and are re-exported for the CLI's users.
"""

from ledger.errors import InvalidAdjustment, LedgerError, SchemaBehind
from sync.errors import (
    InvalidSourceData,
    StoreAnswerUnusable,
    StoreError,
    StoreRejected,
    StoreUnavailable,
    SyncError,
)

__all__ = [
    "ConfigError",
    "InvalidAdjustment",
    "InvalidSourceData",
    "LedgerError",
    "LoyaltyError",
    "SchemaBehind",
    "StoreAnswerUnusable",
    "StoreError",
    "StoreRejected",
    "StoreUnavailable",
    "SyncError",
    "SyncFailed",
    "UnknownAccount",
]


class LoyaltyError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(LoyaltyError):
    """The configuration file or environment is wrong; the message names file, key path and expectation."""


class SyncFailed(LoyaltyError):
    """A worker's sync task failed; the message names the error, with every secret redacted, as
    it is stored in the task's result."""


class UnknownAccount(LoyaltyError):
    """Points were to go to an account that neither the ledger nor the store has (a mistyped id),
    or that the ledger does not know and the store could not be asked about; nothing was written."""
