"""Strict readers of store JSON: a field, an object, an integer, a string, a UTC time.

For the parsers of every source (`sync.order_data` for orders, refunds and customers,
`sync.activity_data` for reviews and comments): each reads one value or raises `InvalidSourceData`
naming the JSON path (`line_items[1].total`), what was expected and what came, so the sync can
quarantine that one item and carry on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ledger.types import MAX_BIGINT as MAX_INT
from ledger.types import storable_text
from sync.errors import InvalidSourceData

_GMT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})?")


def join(parent: str, key: str) -> str:
    return f"{parent}.{key}" if parent else key


_MISSING: Any = object()


def member(obj: Mapping[str, Any], key: str, parent: str) -> Any:
    value = obj.get(key, _MISSING)
    if value is _MISSING:
        path = join(parent, key)
        raise InvalidSourceData(f"{path}: required field is missing", field=path)
    return value


def obj_at(value: Any, path: str) -> Mapping[str, Any]:
    if type(value) is dict:  # what JSON decodes to: no ABC check
        return value
    if not isinstance(value, Mapping):
        raise invalid(path or "(root)", "an object", value)
    return value


def is_id(value: Any) -> bool:
    """Whether `value` is an id the ledger can hold: an integer from 1 to the BIGINT maximum (as
    JSON decodes it: `type`, so that `true` is not one)."""
    return type(value) is int and 1 <= value <= MAX_INT


def stood_for(value: Any) -> int | None:
    """The id an item's `id` value stands for: an id, or the decimal text of one (a plugin's
    `"17"`: the item is unusable, but it is item 17, not one missing); else None."""
    if is_id(value):
        return int(value)
    if isinstance(value, str) and value.isascii() and value.isdigit():
        number = int(value)
        return number if is_id(number) else None
    return None


# The readers of one field of an object: `integer(member(obj, key, parent), join(parent, key))`
# and so on, with the field's path built only for an error (the hot path builds no string).


def integer_at(
    obj: Mapping[str, Any],
    key: str,
    parent: str,
    *,
    minimum: int | None = None,
    maximum: int = MAX_INT,
) -> int:
    value = obj.get(key, _MISSING)
    if type(value) is int and (minimum is None or value >= minimum) and value <= maximum:
        return value
    return integer(member(obj, key, parent), join(parent, key), minimum=minimum, maximum=maximum)


def text_at(obj: Mapping[str, Any], key: str, parent: str, *, allow_empty: bool = True) -> str:
    value = obj.get(key, _MISSING)
    if type(value) is str and (allow_empty or value.strip()):
        return value
    return text(member(obj, key, parent), join(parent, key), allow_empty=allow_empty)


def gmt_at(obj: Mapping[str, Any], key: str, parent: str) -> datetime:
    value = obj.get(key, _MISSING)
    if type(value) is str and _GMT.fullmatch(value):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:  # not a calendar date: `gmt` says so
            pass
        else:
            if parsed.tzinfo is not None:
                return parsed.astimezone(UTC)
            # `parsed.replace(tzinfo=UTC)`, built directly: `replace` parses its keywords twice
            # (about 0.6 µs against 0.2; two calls an order).
            return datetime(
                parsed.year,
                parsed.month,
                parsed.day,
                parsed.hour,
                parsed.minute,
                parsed.second,
                parsed.microsecond,
                UTC,
            )
    return gmt(member(obj, key, parent), join(parent, key))


def integer(value: Any, path: str, *, minimum: int | None = None, maximum: int = MAX_INT) -> int:
    if type(value) is int and (minimum is None or value >= minimum) and value <= maximum:
        return value  # the common case, before any message is built
    expected = "an integer"
    expected += f" >= {minimum}" if minimum is not None else ""
    too_big = isinstance(value, int) and value > maximum
    expected += f" <= {maximum}" if maximum != MAX_INT or too_big else ""
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or (minimum is not None and value < minimum)
        or too_big
    ):
        raise invalid(path, expected, value)
    return value


def text(value: Any, path: str, *, allow_empty: bool = True) -> str:
    if not isinstance(value, str) or (not allow_empty and not value.strip()):
        raise invalid(path, "a string" if allow_empty else "a non-empty string", value)
    return value


#: The longest email the ledger keeps (`customers.email`).
MAX_EMAIL = 320


def holdable_email(address: str, path: str) -> str:
    """`address` as read, when the ledger can hold it: at most `MAX_EMAIL` characters and no
    control character (a NUL: PostgreSQL refuses the row). Written as it came, such an email
    stopped every run with an internal error; it is the item's fault, so InvalidSourceData."""
    if len(address) > MAX_EMAIL or not storable_text(address):
        expected = f"an email of at most {MAX_EMAIL} characters, without control characters"
        raise invalid(path, expected, address)
    return address


def gmt(value: Any, path: str) -> datetime:
    """A `*_gmt` time: naive ISO 8601 in UTC (`2024-03-01T10:20:30`), returned aware."""
    if not isinstance(value, str) or not _GMT.fullmatch(value):
        raise invalid(path, 'a UTC date-time like "2024-03-01T10:20:30"', value)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise invalid(path, "a valid calendar date-time", value) from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def invalid(path: str, expected: str, got: Any) -> InvalidSourceData:
    return InvalidSourceData(f"{path}: expected {expected}, got {describe(got)}", field=path)


def describe(value: Any) -> str:
    """A short, JSON-flavoured rendering of what came: `"abc"`, `12.5 (a number)`, `null`."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | float):
        return f"{value!r} (a number)"
    if isinstance(value, str):
        return json.dumps(value[:60], ensure_ascii=False)
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    return type(value).__name__
