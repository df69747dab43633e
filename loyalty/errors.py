"""The error hierarchy, one branch per boundary. Messages never carry secrets."""


class LoyaltyError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(LoyaltyError):
    """The configuration file or environment is wrong; the message names file, key path and expectation."""


class StoreError(LoyaltyError):
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


class InvalidSourceData(LoyaltyError):
    """One source item (order, refund, review) does not have the shape we need: it is quarantined."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class SchemaBehind(LoyaltyError):
    """The database schema is older than this code: run `loyalty db upgrade`."""


class SyncFailed(LoyaltyError):
    """A worker's sync task failed; the message names the error, with every secret redacted, as
    it is stored in the task's result."""
