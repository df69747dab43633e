"""The sandbox store's catalogue: product categories, products, blog posts, and coupons.

For `SandboxStore` (as `CatalogMixin`): control actions for the generator and tests (categories,
products, posts) and coupons with WooCommerce's write semantics (codes unique among published
coupons, schema-checked fields, trash or force delete, expiry at checkout).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sandbox import resources as r
from sandbox.resources import Json
from sandbox.store_base import StoreBase, clone, hidden_post_meta, locked
from sandbox.store_errors import (
    SandboxError,
    body_field,
    invalid_param,
    missing_params,
    money_field,
    not_of_type,
    not_one_of,
)

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
    for key, zone in (("date_expires_gmt", UTC), ("date_expires", r.SITE_TZ)):
        if key not in body:
            continue
        value = body_field(body, key, str, "string")
        if value is None:
            return {"date_expires": None, "date_expires_gmt": None}
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise invalid_param(key, "Invalid date.", "rest_invalid_date") from None
        local, gmt = r.wc_dates(moment if moment.tzinfo else moment.replace(tzinfo=zone))
        return {"date_expires": local, "date_expires_gmt": gmt}
    return {}


class CatalogMixin(StoreBase):
    """Categories, products, posts and coupons (their CRUD, lookup by code and use at checkout)."""

    @locked
    def add_category(self, name: str) -> Json:
        """A product category term: {id, name, slug} as products embed it."""
        category: Json = {
            "id": self._next("term"),
            "name": name,
            "slug": re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-"),
        }
        self._categories[category["id"]] = category
        return dict(category)

    @locked
    def add_product(
        self,
        *,
        name: str,
        price: Decimal,
        category_ids: list[int],
        sku: str = "",
        virtual: bool = False,
        taxable: bool = True,
    ) -> Json:
        """A published simple product in the given categories."""
        missing = [c for c in category_ids if c not in self._categories]
        if missing:
            raise invalid_param("category_ids", f"category_ids has unknown category {missing[0]}.")
        pid = self._next("post")
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        obj = r.product(
            id=pid,
            name=name,
            slug=slug,
            sku=sku,
            price=price,
            created=self.now(),
            categories=[dict(self._categories[c]) for c in category_ids],
            site_url=self.site_url,
            virtual=virtual,
            taxable=taxable,
        )
        self._data["products"][pid] = obj
        return clone(obj)

    @locked
    def add_post(self, title: str) -> int:
        """A published blog post that comments can be left on; returns its id."""
        pid = self._next("post")
        self._posts[pid] = {"id": pid, "title": title, "date_gmt": r.wc_dates(self.now())[1]}
        return pid

    @locked
    def post_ids(self) -> list[int]:
        return list(self._posts)

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
        coupon = r.coupon(id=cid, code=code, created=self.now(), fields=fields)
        if entries:
            self._write_meta(coupon, f"coupons:{cid}", entries, hidden_post_meta)
        self._data["coupons"][cid] = coupon
        return clone(coupon)

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
        return clone(coupon)

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

    def _usable_coupon(self, code: str) -> Json:
        cid = self.coupon_id_by_code(code)
        if cid is None:
            raise SandboxError(
                "woocommerce_rest_invalid_coupon", f'Coupon "{code}" does not exist!', 400
            )
        coupon = self._data["coupons"][cid]
        expires = coupon["date_expires_gmt"]
        if expires is not None and r.parse_gmt(expires) < self.now():
            raise SandboxError("woocommerce_rest_invalid_coupon", "This coupon has expired.", 400)
        return coupon
