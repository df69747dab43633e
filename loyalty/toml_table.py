"""Reading one TOML table strictly: typed getters whose errors name the file, key path and expectation.

For `loyalty.config`, which builds each section from a `Table`: unknown keys are errors (with a
"did you mean" suggestion), wrong types are errors, and a secret's value is never echoed.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any, NoReturn

from loyalty.errors import ConfigError

REQUIRED: Any = object()  # the default of a key that must be given
MAX_DECIMAL_PLACES = 12  # beyond this a rate or amount is a typo, and exact maths gets slow


def describe(value: object, show: bool = True) -> str:
    """How an error message shows a bad value: TOML spelling, or only its type for secrets."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value if len(value) <= 60 else value[:57] + "...") if show else "a string"
    if isinstance(value, int | float):
        return repr(value) if show else "a number"
    if isinstance(value, datetime | date | time):
        return f"{value.isoformat()} (a {type(value).__name__})"
    return "a table" if isinstance(value, dict) else "an array"


class Table:
    """One TOML table being read. It knows its file and key path, so every error names both."""

    def __init__(self, data: Mapping[str, Any], path: str, file: str, keys: Iterable[str]) -> None:
        self.data, self.path, self.file = data, path, file
        allowed = list(keys)
        for key in data:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = (
                    f'did you mean "{close[0]}"?'
                    if close
                    else "expected one of: " + ", ".join(allowed)
                )
                raise ConfigError(f"{file}: {self.where(key)}: unknown key; {hint}")

    def where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path and key else self.path or key

    def complain(self, key: str, text: str) -> NoReturn:
        raise ConfigError(f"{self.file}: {self.where(key)}: {text}")

    def fail(self, key: str, expected: str, value: object, *, show: bool = True) -> NoReturn:
        self.complain(key, f"expected {expected}, got {describe(value, show)}")

    def raw(self, key: str, default: Any, expected: str) -> Any:
        if key in self.data:
            return self.data[key]
        if default is REQUIRED:
            self.complain(key, f"required: expected {expected}")
        return default

    def table(self, key: str, keys: Iterable[str]) -> Table:
        value = self.raw(key, {}, "a table")
        if not isinstance(value, dict):
            self.fail(key, f"a table [{self.where(key)}]", value)
        return Table(value, self.where(key), self.file, keys)

    def tables(self, key: str, keys: Iterable[str]) -> list[Table]:
        value = self.raw(key, [], "an array of tables")
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.fail(key, f"an array of tables [[{self.where(key)}]]", value)
        return [Table(v, f"{self.where(key)}[{i}]", self.file, keys) for i, v in enumerate(value)]

    def boolean(self, key: str, default: bool) -> bool:
        value = self.raw(key, default, "true or false")
        if not isinstance(value, bool):
            self.fail(key, "true or false", value)
        return value

    def string(self, key: str, default: str, *, nonempty: bool = False, show: bool = True) -> str:
        expected = "a non-empty string" if nonempty else "a string"
        value = self.raw(key, default, expected)
        if not isinstance(value, str) or (nonempty and not value.strip()):
            self.fail(key, expected, value, show=show)
        return value

    def choice(self, key: str, default: str, choices: Iterable[str]) -> str:
        options = " | ".join(f'"{c}"' for c in choices)
        value = self.raw(key, default, f"one of {options}")
        if value not in choices or not isinstance(value, str):
            self.fail(key, f"one of {options}", value)
        return value

    def integer(
        self, key: str, default: int, *, lo: int, hi: int | None = None, limit: int | None = None
    ) -> int:
        """An integer from `lo` (to `hi`); `limit` is a sanity ceiling named only when exceeded."""
        expected = f"an integer from {lo} to {hi}" if hi is not None else f"an integer >= {lo}"
        value = self.raw(key, default, expected)
        ok = isinstance(value, int) and not isinstance(value, bool)
        if not ok or value < lo or (hi is not None and value > hi):
            self.fail(key, expected, value)
        if limit is not None and value > limit:
            self.fail(key, f"an integer from {lo} to {limit:,}", value)
        return int(value)

    def number(
        self,
        key: str,
        default: float,
        *,
        positive: bool = True,
        least: float | None = None,
        limit: float | None = None,
    ) -> float:
        """A finite number > 0 (>= 0 unless `positive`). `least` and `limit` are sanity bounds,
        named in the message only when the value passes the sign check but falls outside them."""
        expected = "a number > 0" if positive else "a number >= 0"
        value = self.raw(key, default, expected)
        if not isinstance(value, int | float) or isinstance(value, bool) or not _finite(value):
            self.fail(key, expected, value)
        if value < 0 or (positive and value == 0):
            self.fail(key, expected, value)
        _check_range(self, key, value, least, limit)
        return float(value)

    def decimal(
        self,
        key: str,
        default: Decimal,
        *,
        positive: bool = False,
        least: Decimal | None = None,
        limit: Decimal | None = None,
    ) -> Decimal:
        """A Decimal from a TOML string or number; floats go through str(), never float maths.

        At most `MAX_DECIMAL_PLACES` decimal places; `least` and `limit` as for `number`."""
        expected = "a number > 0" if positive else "a number >= 0"
        value = self.raw(key, default, expected)
        if isinstance(value, Decimal):
            return value
        try:
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise InvalidOperation
            result = Decimal(value.strip() if isinstance(value, str) else str(value))
        except InvalidOperation:
            self.fail(key, expected, value)
        if not result.is_finite() or result < 0 or (positive and result == 0):
            self.fail(key, expected, value)
        _check_range(self, key, result, least, limit, shown=value)
        if result != 0 and result.as_tuple().exponent < -MAX_DECIMAL_PLACES:  # type: ignore[operator]
            self.fail(key, f"a number with at most {MAX_DECIMAL_PLACES} decimal places", value)
        return result

    def day(self, key: str, default: date) -> date:
        expected = "a TOML date such as 2024-01-31 (unquoted)"
        value = self.raw(key, default, expected)
        if not isinstance(value, date) or isinstance(value, datetime):
            self.fail(key, expected, value)
        return value

    def strings(self, key: str, default: Iterable[str], choices: Iterable[str]) -> frozenset[str]:
        allowed = tuple(choices)
        expected = "a non-empty array of " + ", ".join(allowed)
        value = self.raw(key, list(default), expected)
        if not isinstance(value, list) or not value:
            self.fail(key, expected, value)
        for i, item in enumerate(value):
            if item not in allowed or not isinstance(item, str):
                self.fail(f"{key}[{i}]", "one of " + ", ".join(allowed), item)
        return frozenset(value)


def _check_range(
    t: Table, key: str, value: float | Decimal, least: Any, limit: Any, shown: object = None
) -> None:
    """The sanity bounds of a number that already passed its sign check."""
    if (least is not None and value < least) or (limit is not None and value > limit):
        low = _number(least) if least is not None else "0"
        expected = f"a number from {low} to {_number(limit)}" if limit is not None else low
        t.fail(key, expected, value if shown is None else shown)


def _number(bound: float | Decimal) -> str:
    return f"{bound:,}" if isinstance(bound, int) else f"{bound:,g}"


def _finite(value: float) -> bool:
    """A number a float holds (an integer of 400 digits overflowed `math.isfinite`)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False
