"""Coupons in the store, as redemptions need them: new codes, lookup by code, creation.

For `sync.redemptions`. A coupon belongs to a redemption when its meta `loyalty_redemption_id`
names it; that is how a retry (after a crash, a lost answer, or WooCommerce's
`woocommerce_rest_coupon_code_already_exists`) recognises the coupon it created before.
Codes come from `secrets` in `rules.redemption`'s alphabet, at least 64 bits.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from rules.redemption import CODE_ALPHABET, CODE_LENGTH, format_code
from sync.client import StoreClient

REDEMPTION_META_KEY = "loyalty_redemption_id"
CODE_EXISTS = "woocommerce_rest_coupon_code_already_exists"


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
    """The published coupon with this code (`GET coupons?code=`), or None."""
    page = client.get("coupons", {"code": code})
    items = page.items if isinstance(page.items, list) else []
    for item in items:
        coupon = parse_coupon(item)
        if coupon is not None and coupon.code == code.lower():
            return coupon
    return None


def fetch_coupon(client: StoreClient, coupon_id: int) -> StoreCoupon | None:
    """One coupon by id, or None when the answer is not a coupon."""
    return parse_coupon(client.get(f"coupons/{coupon_id}").items)


def push_coupon(client: StoreClient, spec: CouponSpec) -> StoreCoupon:
    """Create the coupon. Raises the client's errors (a refusal carries WooCommerce's code)."""
    created = parse_coupon(client.post("coupons", coupon_body(spec)).items)
    if created is None:
        raise ValueError("the store answered the coupon creation without a coupon id and code")
    return created


def parse_coupon(item: Any) -> StoreCoupon | None:
    """A coupon object's fields that matter here; None for anything that is not one."""
    if not isinstance(item, dict):
        return None
    coupon_id, code = item.get("id"), item.get("code")
    if not isinstance(coupon_id, int) or isinstance(coupon_id, bool) or not isinstance(code, str):
        return None
    usage = item.get("usage_count")
    return StoreCoupon(
        id=coupon_id,
        code=code.lower(),
        redemption_id=_meta_value(item.get("meta_data"), REDEMPTION_META_KEY),
        usage_count=usage if isinstance(usage, int) and not isinstance(usage, bool) else 0,
        status=str(item.get("status", "")),
    )


def _meta_value(meta: Any, key: str) -> str | None:
    if not isinstance(meta, list):
        return None
    for row in meta:
        if isinstance(row, dict) and row.get("key") == key:
            value = row.get("value")
            return str(value) if isinstance(value, str | int) else None
    return None
