"""Coupons in the store, as redemptions need them: new codes, lookup by code, creation.

For `sync.redemptions`. A coupon belongs to a redemption when its meta `loyalty_redemption_id`
names it; that is how a retry (after a crash, a lost answer, or WooCommerce's
`woocommerce_rest_coupon_code_already_exists`) recognises the coupon it created before.
Codes come from `secrets` in `rules.redemption`'s alphabet, at least 64 bits.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from rules.redemption import CODE_ALPHABET, CODE_LENGTH, format_code
from sync.client import StoreClient
from sync.errors import InvalidSourceData, StoreAnswerUnusable, StoreRejected
from sync.fields import gmt_at, is_id

REDEMPTION_META_KEY = "loyalty_redemption_id"
CODE_EXISTS = "woocommerce_rest_coupon_code_already_exists"
#: A coupon in one of these statuses can be used at checkout; in any other (the trash, a draft)
#: it cannot.
LIVE_STATUSES = frozenset({"publish", "private"})


def new_coupon_code(prefix: str) -> str:
    """A fresh code: `prefix` and CODE_LENGTH symbols drawn with `secrets` (>= 64 bits)."""
    return format_code(prefix, "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH)))


@dataclass(frozen=True)
class CouponSpec:
    """What a redemption's coupon carries."""

    redemption_id: int
    code: str
    amount: Decimal
    email: str
    expires_at: datetime  # aware UTC
    individual_use: bool
    description: str
    #: Fields that replace the points coupon's (discount_type, product limits, description...).
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StoreCoupon:
    """A coupon as found in the store: its id, and the redemption its meta names (if any)."""

    id: int
    code: str
    redemption_id: str | None
    usage_count: int
    status: str
    #: Whether the answer said when the coupon expires (`date_expires_gmt`), and when: None for
    #: never (the shop manager took the expiry off).
    names_expiry: bool = False
    expires_at: datetime | None = None
    #: The coupon as the store answered it (for `differences`).
    fields: Mapping[str, Any] = field(default_factory=dict, repr=False)


def coupon_body(spec: CouponSpec) -> dict[str, Any]:
    """The POST body: a one-use fixed cart coupon for one email, expiring, naming the redemption
    (unless `spec.fields` says otherwise: a stamp card's free item is a percent coupon)."""
    body = {
        "code": spec.code,
        "discount_type": "fixed_cart",
        "amount": f"{spec.amount:.2f}",
        "email_restrictions": [spec.email],
        "usage_limit": 1,
        "usage_limit_per_user": 1,
        "individual_use": spec.individual_use,
        "date_expires_gmt": spec.expires_at.strftime("%Y-%m-%dT%H:%M:%S"),
        "description": spec.description,
        "meta_data": [{"key": REDEMPTION_META_KEY, "value": str(spec.redemption_id)}],
    }
    return {**body, **spec.fields}


def fetch_coupon_by_code(client: StoreClient, code: str) -> StoreCoupon | None:
    """The live coupon with this code (`GET coupons?code=`), or None when the store lists none.

    An answer that is not a list, or that lists this code as something that is not a coupon
    (an id of the wrong type...), is `StoreAnswerUnusable` naming the field: taken for "no such
    coupon", it led to creating a second one, or to giving points back for a live one."""
    items = client.get("coupons", {"code": code}).items
    if not isinstance(items, list):
        raise StoreAnswerUnusable(f"GET coupons?code={code}: the answer is not a list of coupons")
    for item in items:
        listed = item.get("code") if isinstance(item, dict) else None
        if isinstance(listed, str) and listed.lower() == code.lower():
            coupon = _answered(item, f"GET coupons?code={code}")
            if coupon.status in LIVE_STATUSES:  # one in the trash holds the code no more
                return coupon
    return None


def fetch_coupon(client: StoreClient, coupon_id: int) -> StoreCoupon | None:
    """One coupon by id, whatever its status (the trash too: it may have been used first);
    None when the store no longer has it at all (404)."""
    try:
        item = client.get(f"coupons/{coupon_id}").items
    except StoreRejected as rejected:
        if rejected.status == 404:
            return None
        raise
    return _answered(item, f"GET coupons/{coupon_id}")


def push_coupon(client: StoreClient, spec: CouponSpec) -> StoreCoupon:
    """Create the coupon. Raises the client's errors (a refusal carries WooCommerce's code), and
    `StoreAnswerUnusable` naming the field when the answer is no coupon."""
    return _answered(client.post("coupons", coupon_body(spec)).items, "POST coupons")


#: Fields of the body asked for that a coupon is not compared on: the store rewrites them.
_NOT_COMPARED = frozenset({"description", "meta_data", "date_expires_gmt"})


def differences(coupon: StoreCoupon, asked: Mapping[str, Any]) -> list[str]:
    """How the store's coupon differs from the body that asked for it (`coupon_body`): every
    field asked for but the description, the meta and the expiry (code and email case aside,
    amounts as numbers, lists as sets), each as `field store's value (asked: value)`. A coupon
    made without its usage limit or its email restriction is not the one the points bought."""
    found: list[str] = []
    for name, wanted in asked.items():
        if name in _NOT_COMPARED:
            continue
        got = coupon.fields.get(name, _ABSENT)
        if _comparable(name, got) != _comparable(name, wanted):
            found.append(f"{name} {_shown(got)} (asked: {_shown(wanted)})")
    return found


def _shown(value: Any) -> str:
    if value is _ABSENT:
        return "none"
    return value if isinstance(value, str) else json.dumps(value, default=str)


_ABSENT = object()


def _comparable(name: str, value: Any) -> Any:
    if value is _ABSENT:
        return _ABSENT
    if name == "amount":
        return _decimal(value)
    if isinstance(value, str):
        return value.lower() if name == "code" else value
    if isinstance(value, list):
        return sorted(str(v).lower() for v in value)
    return value


def read_coupon(item: Any) -> StoreCoupon:
    """A coupon object's fields that matter here; `InvalidSourceData` naming the first field
    that is missing or of the wrong type (a `usage_count` of "1" read as 0, or a missing
    `status` read as deleted, gave points back for a coupon that was used or still live)."""
    if not isinstance(item, dict):
        raise InvalidSourceData("a coupon is a JSON object", field="coupon")
    coupon_id, code = item.get("id"), item.get("code")
    if not isinstance(coupon_id, int) or not is_id(coupon_id):
        raise InvalidSourceData(f"coupon id {coupon_id!r} is not an id", field="id")
    if not isinstance(code, str) or not code:
        raise InvalidSourceData(f"coupon {coupon_id}: code {code!r} is not text", field="code")
    usage = item.get("usage_count")
    if not isinstance(usage, int) or isinstance(usage, bool) or usage < 0:
        raise InvalidSourceData(
            f"coupon {coupon_id}: usage_count {usage!r} is not a count", field="usage_count"
        )
    status = item.get("status")
    if not isinstance(status, str) or not status:
        raise InvalidSourceData(
            f"coupon {coupon_id}: status {status!r} is not text", field="status"
        )
    names_expiry = "date_expires_gmt" in item
    expires = item.get("date_expires_gmt")
    return StoreCoupon(
        id=coupon_id,
        code=code.lower(),
        redemption_id=_meta_value(item.get("meta_data"), REDEMPTION_META_KEY),
        usage_count=usage,
        status=status,
        names_expiry=names_expiry,
        fields=item,
        expires_at=None if expires is None else gmt_at(item, "date_expires_gmt", "coupon"),
    )


def _answered(item: Any, request: str) -> StoreCoupon:
    try:
        return read_coupon(item)
    except InvalidSourceData as error:
        raise StoreAnswerUnusable(
            f"{request}: the answer is not a usable coupon: {error}"
        ) from None


def _decimal(value: Any) -> Decimal | None:
    """An amount as a number to compare; None for what is none: not a number, or not a finite
    one (comparing `"sNaN"` raised InvalidOperation out of `loyalty redeem` and every sync after,
    a review found)."""
    try:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            return None
        number = Decimal(str(value))
    except ArithmeticError:
        return None
    return number if number.is_finite() else None


def _meta_value(meta: Any, key: str) -> str | None:
    if not isinstance(meta, list):
        return None
    for row in meta:
        if isinstance(row, dict) and row.get("key") == key:
            value = row.get("value")
            return str(value) if isinstance(value, str | int) else None
    return None
