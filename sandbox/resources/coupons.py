"""Coupons, as WooCommerce keeps, serves and applies them.

For the store, the server and the generator:
- shape: `coupon` builds a coupon exactly as real-coupon.json has it, `coupon_info` the
  `coupon_info` meta an order's coupon line carries (WooCommerce 8.7+);
- state: `CouponsMixin` (part of `SandboxStore`) with WooCommerce's write semantics: codes
  lowercased and unique among published coupons, schema-checked fields, trash or force delete,
  expiry checked at checkout; `line_discounts` is how a coupon discounts an order's lines;
- routes: `/wc/v3/coupons[/{id}]` (list, get, create, update, delete, batch).
Listing: published and private coupons (WP_Query's default statuses); `code` finds a published one.
"""

from __future__ import annotations

import fnmatch
import json
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from typing import Any

from sandbox.arguments import Param
from sandbox.batch import BatchOps, batch
from sandbox.errors import (
    SandboxError,
    body_field,
    invalid_param,
    missing_params,
    money_field,
    not_of_type,
    not_one_of,
)
from sandbox.formats import SITE_TZ, ZERO, Json, money, parse_gmt, wc_dates
from sandbox.listing import CRUD, Collection, Predicate, crud_orderby, crud_sorts
from sandbox.messages import Response
from sandbox.resource import Resource
from sandbox.rest import Call, RestApi, Served, collection_routes, wc_links
from sandbox.state import StoreBase, clone, hidden_post_meta, locked

INVALID_ID = ("woocommerce_rest_shop_coupon_invalid_id", "Invalid ID.")
COUPON_STATUSES = ("publish", "draft", "pending", "private", "future")
DISCOUNT_TYPES = ("percent", "fixed_cart", "fixed_product")


def _int_item(param: str, n: int, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise not_of_type(f"{param}[{n}]", "integer")
    return value


def _str_item(param: str, n: int, value: Any) -> str:
    if not isinstance(value, str):
        raise not_of_type(f"{param}[{n}]", "string")
    return value


def _expiry(body: Json) -> Json:
    """date_expires (site time) or date_expires_gmt (UTC) from a coupon body, as a date pair."""
    for key, zone in (("date_expires_gmt", UTC), ("date_expires", SITE_TZ)):
        if key not in body:
            continue
        value = body_field(body, key, str, "string")
        if value is None:
            return {"date_expires": None, "date_expires_gmt": None}
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise invalid_param(key, "Invalid date.", "rest_invalid_date") from None
        local, gmt = wc_dates(moment if moment.tzinfo else moment.replace(tzinfo=zone))
        return {"date_expires": local, "date_expires_gmt": gmt}
    return {}


COUPON_DEFAULTS: Json = {
    "amount": "0.00",
    "status": "publish",
    "discount_type": "fixed_cart",
    "description": "",
    "date_expires": None,
    "date_expires_gmt": None,
    "usage_count": 0,
    "individual_use": False,
    "product_ids": [],
    "excluded_product_ids": [],
    "usage_limit": None,
    "usage_limit_per_user": None,
    "limit_usage_to_x_items": None,
    "free_shipping": False,
    "product_categories": [],
    "excluded_product_categories": [],
    "exclude_sale_items": False,
    "minimum_amount": "0.00",
    "maximum_amount": "0.00",
    "email_restrictions": [],
    "used_by": [],
    "meta_data": [],
}
COUPON_KEY_ORDER = (
    "id",
    "code",
    "amount",
    "status",
    "date_created",
    "date_created_gmt",
    "date_modified",
    "date_modified_gmt",
    "discount_type",
    "description",
    "date_expires",
    "date_expires_gmt",
    "usage_count",
    "individual_use",
    "product_ids",
    "excluded_product_ids",
    "usage_limit",
    "usage_limit_per_user",
    "limit_usage_to_x_items",
    "free_shipping",
    "product_categories",
    "excluded_product_categories",
    "exclude_sale_items",
    "minimum_amount",
    "maximum_amount",
    "email_restrictions",
    "used_by",
    "meta_data",
)


def coupon(*, id: int, code: str, created: datetime, fields: Json) -> Json:
    """A coupon like real-coupon.json; `fields` are already validated and formatted."""
    local, gmt = wc_dates(created)
    data = {**COUPON_DEFAULTS, **fields, "id": id, "code": code}
    data.update(
        date_created=local, date_created_gmt=gmt, date_modified=local, date_modified_gmt=gmt
    )
    for key in (
        "product_ids",
        "excluded_product_ids",
        "product_categories",
        "excluded_product_categories",
        "email_restrictions",
        "used_by",
        "meta_data",
    ):
        data[key] = list(data[key])  # never share the defaults' lists between coupons
    return {key: data[key] for key in COUPON_KEY_ORDER}


def line_coupon_id(line: Json) -> int | None:
    """The id of the coupon an order's coupon line applied, from its `coupon_info` meta (or the
    `coupon_data` of stores saved before WooCommerce 9 shapes)."""
    for meta in line["meta_data"]:
        if meta["key"] == "coupon_info":
            coupon_id: int = json.loads(meta["value"])[0]
            return coupon_id
        if meta["key"] == "coupon_data":
            legacy: int = meta["value"]["id"]
            return legacy
    return None


def coupon_info(coupon_obj: Json) -> str:
    """The `coupon_info` meta WooCommerce (8.7 and later) stores on each order's coupon line.

    WC_Coupon::get_short_info(): a JSON array [id, code, type (null for fixed_cart), nominal
    amount, true when the coupon grants free shipping (left out otherwise)], JSON-encoded as
    wp_json_encode does (ASCII, escaped slashes).
    """
    kind = coupon_obj["discount_type"]
    info: list[Any] = [
        coupon_obj["id"],
        coupon_obj["code"],
        None if kind == "fixed_cart" else kind,
        float(Decimal(coupon_obj["amount"])),
    ]
    if coupon_obj["free_shipping"]:
        info.append(True)
    return json.dumps(info, separators=(",", ":")).replace("/", "\\/")


def coupon_applies(coupon: Json, product: Json) -> bool:
    """Whether a coupon's product and category limits let it discount this product."""
    pid, cats = product["id"], {c["id"] for c in product["categories"]}
    if coupon["product_ids"] and pid not in coupon["product_ids"]:
        return False
    if pid in coupon["excluded_product_ids"]:
        return False
    if coupon["product_categories"] and not cats & set(coupon["product_categories"]):
        return False
    return not cats & set(coupon["excluded_product_categories"])


def line_discounts(
    coupon: Json | None, products: list[Json], qtys: list[int], subtotals: list[Decimal]
) -> list[Decimal]:
    """Each line's discount: percent of the line, fixed per item, or a fixed cart amount spread
    over the eligible lines in proportion to their subtotals (the last one takes the rounding)."""
    if coupon is None:
        return [ZERO] * len(products)
    ok = [coupon_applies(coupon, p) for p in products]
    amount = Decimal(coupon["amount"])
    if coupon["discount_type"] == "percent":
        return [money(s * amount / 100) if e else ZERO for s, e in zip(subtotals, ok, strict=True)]
    if coupon["discount_type"] == "fixed_product":
        return [
            min(s, money(amount * q)) if e else ZERO
            for s, q, e in zip(subtotals, qtys, ok, strict=True)
        ]
    base = sum((s for s, e in zip(subtotals, ok, strict=True) if e), ZERO)
    eligible = [i for i, e in enumerate(ok) if e]
    if not base:
        return [ZERO] * len(products)
    left = min(amount, base)
    out = [ZERO] * len(products)
    for i in eligible:
        share = left if i == eligible[-1] else money(min(amount, base) * subtotals[i] / base)
        out[i], left = share, left - share
    return out


class CouponsMixin(StoreBase):
    """Coupons: the API's create/update/delete, lookup by code and use at checkout."""

    @locked
    def coupon_id_by_code(self, code: str) -> int | None:
        """The newest published coupon with this code (wc_get_coupon_id_by_code), or None."""
        wanted = code.strip().lower()
        ids = [
            c["id"]
            for c in self._data["coupons"].values()
            if c["code"] == wanted and c["status"] == "publish"
        ]
        return max(ids) if ids else None

    def _coupon_code(self, raw: str, exclude: int) -> str:
        code = raw.strip().lower()  # wc_format_coupon_code + wc_strtolower
        if not code:
            raise SandboxError(
                "woocommerce_rest_empty_coupon_code", "The coupon code cannot be empty.", 400
            )
        for c in self._data["coupons"].values():
            if c["code"] == code and c["status"] == "publish" and c["id"] != exclude:
                raise SandboxError(
                    "woocommerce_rest_coupon_code_already_exists",
                    "The coupon code already exists",
                    400,
                )
        return code

    def _coupon_fields(self, body: Json) -> Json:
        """The writable coupon fields of a body, validated against WooCommerce's schema types."""
        out: Json = {}
        for key in ("amount", "minimum_amount", "maximum_amount"):
            if (value := money_field(body, key)) is not None:
                out[key] = value
        for key in ("individual_use", "free_shipping", "exclude_sale_items"):
            if (flag := body_field(body, key, bool, "boolean")) is not None:
                out[key] = flag
        for key in (
            "product_ids",
            "excluded_product_ids",
            "product_categories",
            "excluded_product_categories",
        ):
            if (ids := body_field(body, key, list, "array")) is not None:
                out[key] = [_int_item(key, n, v) for n, v in enumerate(ids)]
        for key in ("usage_limit", "usage_limit_per_user", "limit_usage_to_x_items"):
            if key in body:
                out[key] = body_field(body, key, int, "integer") or None
        if (description := body_field(body, "description", str, "string")) is not None:
            out["description"] = description
        if (kind := body_field(body, "discount_type", str, "string")) is not None:
            if kind not in DISCOUNT_TYPES:
                raise not_one_of("discount_type", DISCOUNT_TYPES)
            out["discount_type"] = kind
        if (status := body_field(body, "status", str, "string")) is not None:
            if status not in COUPON_STATUSES:
                raise not_one_of("status", COUPON_STATUSES)
            out["status"] = status
        if (emails := body_field(body, "email_restrictions", list, "array")) is not None:
            out["email_restrictions"] = [
                _str_item("email_restrictions", n, e).strip().lower() for n, e in enumerate(emails)
            ]
        out.update(_expiry(body))
        amount = Decimal(out.get("amount", "0"))
        if amount < 0 or (out.get("discount_type") == "percent" and amount > 100):
            raise SandboxError("coupon_invalid_amount", "Invalid discount amount", 400)
        return out

    @locked
    def create_coupon(self, body: Json) -> Json:
        """POST /coupons: the code is lowercased and must be unique among published coupons."""
        raw = body_field(body, "code", str, "string")
        if raw is None:
            raise missing_params("code")
        code = self._coupon_code(raw, exclude=0)
        fields = self._coupon_fields(body)
        entries = self._meta_updates(body)
        cid = self._next("post")
        obj = coupon(id=cid, code=code, created=self.now(), fields=fields)
        if entries:
            self._write_meta(obj, f"coupons:{cid}", entries, hidden_post_meta)
        self._data["coupons"][cid] = obj
        return self._out(obj)

    @locked
    def update_coupon(self, id: int, body: Json) -> Json:
        """PUT /coupons/{id}; a bad id is 400 as WooCommerce answers updates."""
        coupon = self._find("coupons", id, status=400)
        raw = body_field(body, "code", str, "string")
        code = self._coupon_code(raw, exclude=id) if raw is not None else coupon["code"]
        fields = self._coupon_fields(body)
        entries = self._meta_updates(body)
        coupon.update(fields, code=code)
        if entries:
            self._write_meta(coupon, f"coupons:{id}", entries, hidden_post_meta)
        self._stamp(coupon)
        return self._out(coupon)

    @locked
    def delete_coupon(self, id: int, *, force: bool) -> Json:
        """DELETE /coupons/{id}: trash (status "trash") or, with force, gone. Answers the coupon as
        it was before, since WooCommerce prepares the response before deleting."""
        coupon = self._find("coupons", id)
        snapshot = clone(coupon)
        if force:
            del self._data["coupons"][id]
            self._hidden_meta.pop(f"coupons:{id}", None)
        elif coupon["status"] == "trash":
            raise SandboxError(
                "woocommerce_rest_already_trashed", "The shop_coupon has already been deleted.", 410
            )
        else:
            coupon["status"] = "trash"
            self._stamp(coupon)
        return snapshot

    def _usable_coupon(self, code: str, *, user: str = "", emails: tuple[str, ...] = ()) -> Json:
        """The coupon a shopper applies at checkout, checked as WC_Discounts does: it exists, has
        not expired, its usage limits are not reached (overall, and for `user`: the customer id
        as a string, or a guest's billing email) and one of `emails` matches its restrictions."""
        cid = self.coupon_id_by_code(code)
        if cid is None:
            raise SandboxError(
                "woocommerce_rest_invalid_coupon", f'Coupon "{code}" does not exist!', 400
            )
        coupon = self._data["coupons"][cid]
        expires = coupon["date_expires_gmt"]
        if expires is not None and parse_gmt(expires) < self.now():
            raise SandboxError("woocommerce_rest_invalid_coupon", "This coupon has expired.", 400)
        limit, per_user = coupon["usage_limit"], coupon["usage_limit_per_user"]
        if (limit and coupon["usage_count"] >= limit) or (
            per_user and user and coupon["used_by"].count(user) >= per_user
        ):
            raise SandboxError(
                "woocommerce_rest_invalid_coupon", "Coupon usage limit has been reached.", 400
            )
        allowed = coupon["email_restrictions"]
        if allowed and not any(_email_allowed(e, allowed) for e in emails if e):
            raise SandboxError(
                "woocommerce_rest_invalid_coupon",
                f'Sorry, it seems the coupon "{coupon["code"]}" is not yours.',
                400,
            )
        return coupon


def _email_allowed(email: str, allowed: list[str]) -> bool:
    """WC_Discounts::is_coupon_emails_allowed: exact (case-insensitive) or with * wildcards."""
    address = email.strip().lower()
    return any(fnmatch.fnmatchcase(address, pattern.strip().lower()) for pattern in allowed)


# ---- listing and routes ----


def _coupon_filters(args: dict[str, Any]) -> list[Predicate]:
    # WP_Query's default post statuses for a REST listing: published (and private) posts.
    found: list[Predicate] = [lambda c: c["status"] in ("publish", "private")]
    if args["code"]:
        code = args["code"].strip().lower()
        found.append(lambda c: c["code"] == code and c["status"] == "publish")
    return found


COLLECTION = Collection(
    "coupons",
    {**CRUD, "orderby": crud_orderby(), "code": Param("string")},
    crud_sorts("date_created_gmt", "date_modified_gmt", "code"),
    _coupon_filters,
    search_fields=("code", "description"),
)


COUPON = Served("coupons", wc_links("coupons"), COLLECTION)


def _store(api: RestApi) -> CouponsMixin:
    return api.store_as(CouponsMixin)


def _batch(api: RestApi, call: Call) -> Response:
    store = _store(api)
    ops = BatchOps(
        create=store.create_coupon,
        update=store.update_coupon,
        delete=partial(store.delete_coupon, force=True),
    )
    return batch(api, call, COUPON, ops)


def _delete(api: RestApi, call: Call) -> Response:
    def delete(obj_id: int, args: dict[str, Any]) -> Json:
        return _store(api).delete_coupon(obj_id, force=args["force"])

    return api.delete(call, COUPON, delete)


RESOURCE = Resource(
    "coupons",
    INVALID_ID,
    listings=(COLLECTION,),
    rest=collection_routes(
        "/wc/v3/coupons",
        COUPON,
        create=lambda api: _store(api).create_coupon,
        update=lambda api: _store(api).update_coupon,
        batch=_batch,
        delete=_delete,
    ),
)
