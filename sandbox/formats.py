"""How WooCommerce writes money, dates and avatars in its JSON: the formatting every builder shares.

For the resource builders (`sandbox.resources.*`) and the store: money is a string with 2 decimals
rounded half up, dates come as (site-local, UTC) pairs without a zone suffix in whole seconds.
Nothing here holds state or reads a clock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

Json = dict[str, Any]

CENT = Decimal("0.01")
ZERO = Decimal(0)
SITE_TZ = timezone(timedelta(hours=-3))  # like the docs' samples: UTC-03:00, no DST


def money(value: Decimal | int | str) -> Decimal:
    """Round to cents, half up, as WooCommerce's wc_format_decimal does for display."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


_MONEY_TEXT: dict[str, str] = {}  # one shared str per amount: 100,000 orders repeat few amounts


def fmt(value: Decimal) -> str:
    """Money as WooCommerce serialises it: a string with exactly 2 decimals."""
    text = str(money(value))
    return _MONEY_TEXT.setdefault(text, text)


def neg(value: Decimal) -> str:
    """A refunded amount as refund lines carry it: negative, 2 decimals ("0.00" stays unsigned)."""
    amount = money(value)
    return fmt(-amount) if amount else "0.00"


def unit_price(total: Decimal, quantity: int) -> int | float:
    """`price` of a line: total / quantity as a JSON number (an int when whole, as PHP emits it).

    On a refund line both are negative, so the price is positive, as in WooCommerce.
    """
    if not quantity:
        return 0
    value = total / quantity
    return int(value) if value == value.to_integral_value() else float(value)


def wc_dates(moment: datetime | None) -> tuple[str | None, str | None]:
    """The (local, gmt) pair for an aware UTC moment; (None, None) for an unset date."""
    if moment is None:
        return None, None
    local = moment.astimezone(SITE_TZ).replace(tzinfo=None).isoformat(timespec="seconds")
    gmt = moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")
    return local, gmt


def parse_gmt(text: str) -> datetime:
    """Read back a `*_gmt` field as an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def gravatar(email: str, size: int = 96) -> str:
    """The avatar URL WordPress derives from an email address."""
    digest = hashlib.md5(email.strip().lower().encode(), usedforsecurity=False).hexdigest()
    return f"https://secure.gravatar.com/avatar/{digest}?s={size}&d=mm&r=g"


def avatar_urls(email: str) -> Json:
    return {str(size): gravatar(email, size) for size in (24, 48, 96)}


def wpautop(text: str) -> str:
    """Rendered comment/review content, as WordPress's wpautop leaves a single paragraph."""
    return f"<p>{text}</p>\n"


def sum_money(values: Iterable[str]) -> Decimal:
    return sum((Decimal(v) for v in values), ZERO)
