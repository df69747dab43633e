"""The store's clock, as its answers tell it: the `Date` header of the first response.

WooCommerce stamps `date_modified_gmt` with the shop server's clock, not the clock of the machine
running the sync, and shared hosts drift by minutes. So a sync window ends at the store's time: the
`Date` header of the first response the client receives, advanced by the local monotonic clock
(which never jumps) for the rest of the run. A `Date` that is missing, unparseable or more than a
day away from the local clock is not usable; the sync then falls back to the local clock (and says
why, with `problem`).

For: `sync.client` (which feeds it every response's `Date`) and `sync.context` (the window's end).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

#: A Date further than this from the local clock is taken for a broken header, not a clock.
MAX_PLAUSIBLE_SKEW = timedelta(days=1)
HALF_SECOND = timedelta(milliseconds=500)


class StoreClock:
    """What time it is at the store. Thread-safe; only the first `observe` counts."""

    def __init__(
        self,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._monotonic = monotonic
        self._wall_clock = wall_clock
        self._lock = threading.Lock()
        self._observed = False
        self._answered = threading.Event()
        self._anchor: tuple[datetime, float] | None = None
        self._skew: timedelta | None = None
        self._problem: str | None = None

    def observe(self, date_header: str | None) -> None:
        """The `Date` header of a response; the first call fixes the store's clock for good."""
        with self._lock:
            if self._observed:
                return
            self._observed = True
            self._answered.set()
            local = self._wall_clock()
            when, self._problem = _parse(date_header)
            if when is None:
                return
            # A Date is truncated to its second: the store's time was half a second later on average.
            skew = when + HALF_SECOND - local
            if abs(skew) > MAX_PLAUSIBLE_SKEW:
                self._problem = f"its Date header ({date_header!r}) is more than a day away"
                return
            self._anchor = (when, self._monotonic())
            self._skew = skew

    def wait_answered(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the store's first answer; whether it has come."""
        return self._answered.wait(timeout)

    def now(self) -> datetime | None:
        """The store's current time in whole seconds, or None while no usable Date was seen."""
        with self._lock:
            anchor = self._anchor
        if anchor is None:
            return None
        when, then = anchor
        elapsed = timedelta(seconds=max(0.0, self._monotonic() - then))
        return (when + elapsed).replace(microsecond=0)

    @property
    def skew(self) -> timedelta | None:
        """Store time minus local time when the Date was seen (positive: the store is ahead)."""
        with self._lock:
            return self._skew

    @property
    def problem(self) -> str | None:
        """Why no usable Date was found (None if one was, or no response came yet)."""
        with self._lock:
            if not self._observed:
                return "no answer from the store carried one yet"
            return self._problem


def _parse(value: str | None) -> tuple[datetime | None, str | None]:
    if value is None or not value.strip():
        return None, "it sent no Date header"
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None, f"its Date header ({value.strip()[:60]!r}) is not an HTTP date"
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC), None
