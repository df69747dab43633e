"""The sandbox store's foundations: its tables, clock, ids, lookups and shared write helpers.

For the per-resource mixins (`store_customers`, `store_catalog`, `store_orders`,
`store_order_status`, `store_feedback`) that `sandbox.store.SandboxStore` assembles: `StoreBase`
holds the state they all work on; `locked` makes a public method take the store's lock, and
`clone` is how every reader gets a copy instead of the stored dict.
"""

from __future__ import annotations

import functools
import marshal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ParamSpec, TypeVar

from sandbox import resources as r
from sandbox.resources import Json
from sandbox.store_errors import SandboxError, body_field, check_email, not_of_type

RESOURCES = ("customers", "products", "orders", "refunds", "reviews", "comments", "coupons")
DEFAULT_SITE_URL = "https://sandbox.test"
DEFAULT_TAX_RATE = Decimal("0.10")

# WooCommerce's codes for a missing object, per resource: (code, message); GETs answer 404.
INVALID_ID = {
    "orders": ("woocommerce_rest_shop_order_invalid_id", "Invalid ID."),
    "refunds": ("woocommerce_rest_shop_order_refund_invalid_id", "Invalid ID."),
    "coupons": ("woocommerce_rest_shop_coupon_invalid_id", "Invalid ID."),
    "products": ("woocommerce_rest_product_invalid_id", "Invalid ID."),
    "customers": ("wc_user_invalid_id", "Invalid user ID."),
    "reviews": ("woocommerce_rest_review_invalid_id", "Invalid review ID."),
    "comments": ("rest_comment_invalid_id", "Invalid comment ID."),
}

P = ParamSpec("P")
T = TypeVar("T")


def clone(value: T) -> T:
    """A deep copy of JSON data (marshal v2 keeps no shared references and is ~3x deepcopy's speed)."""
    # Only bytes marshalled right here are unmarshalled: never foreign input.
    copied: T = marshal.loads(marshal.dumps(value, 2))  # type: ignore[arg-type]  # noqa: S302
    return copied


def locked(method: Callable[P, T]) -> Callable[P, T]:
    """Run a store method holding the store's lock (its first argument's `lock`)."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        with args[0].lock:  # type: ignore[attr-defined]
            return method(*args, **kwargs)

    return wrapper


def _real_now() -> datetime:
    return datetime.now(UTC)


def hidden_post_meta(key: str) -> bool:
    """Order and coupon meta WooCommerce never returns: keys starting with wp_."""
    return key.lower().startswith(r.TABLE_PREFIX)


META_HIDDEN: dict[str, Callable[[str], bool]] = {
    "customers": r.is_hidden_customer_meta,
    "orders": hidden_post_meta,
    "coupons": hidden_post_meta,
}


class StoreBase:
    """The state every part of the sandbox store shares, with the clock, ids and lookups.

    Not used on its own: the resource mixins build on it and `SandboxStore` assembles them. Holds
    the objects as JSON dicts exactly as served, without `_links`, plus WordPress-like tables.
    """

    def __init__(self, *, clock: Callable[[], datetime] | None = None) -> None:
        self.lock = threading.RLock()
        self._clock = clock or _real_now
        self._frozen: datetime | None = None
        self.site_url = DEFAULT_SITE_URL
        self.tax_rate = DEFAULT_TAX_RATE
        self._data: dict[str, dict[int, Json]] = {name: {} for name in RESOURCES}
        # WordPress tables: posts (products, coupons, orders, refunds, blog posts share ids), users
        # (1 is the shop admin), comments (reviews too), order items and their meta, terms.
        self._seq = {
            "post": 100,
            "user": 1,
            "comment": 0,
            "order_item": 0,
            "item_meta": 0,
            "meta": 0,
            "term": 14,
        }
        self._categories: dict[int, Json] = {}
        self._posts: dict[int, Json] = {}
        self._hidden_meta: dict[str, list[Json]] = {}  # "customers:12" -> rows never served
        self._refund_parent: dict[int, int] = {}
        self._coupon_counted: set[int] = set()  # orders whose coupon use is in usage_count
        self._reviews_of_product: dict[int, list[int]] = {}
        self._email_index: dict[str, int] = {}
        self._usernames: set[str] = set()

    # ---- time and ids -------------------------------------------------------------------------

    def now(self) -> datetime:
        """The store's current time: aware UTC, whole seconds (as WooCommerce stores dates)."""
        moment = self._frozen or self._clock()
        if moment.tzinfo is None:
            raise ValueError("the sandbox clock must return an aware datetime (UTC)")
        return moment.astimezone(UTC).replace(microsecond=0)

    @contextmanager
    def clock_at(self, moment: datetime) -> Iterator[None]:
        """Act as if it were `moment` (aware): for the generator and tests replaying history."""
        if moment.tzinfo is None:
            raise ValueError("clock_at needs an aware datetime")
        with self.lock:
            previous, self._frozen = self._frozen, moment
            try:
                yield
            finally:
                self._frozen = previous

    def _next(self, sequence: str) -> int:
        self._seq[sequence] += 1
        return self._seq[sequence]

    def _meta_id(self) -> int:
        return self._next("meta")

    def _stamp(self, obj: Json, *fields: str) -> None:
        """Set date fields (local + _gmt pair) to now; `date_modified` is the usual one."""
        local, gmt = r.wc_dates(self.now())
        for name in fields or ("date_modified",):
            obj[name], obj[f"{name}_gmt"] = local, gmt

    # ---- lookups ------------------------------------------------------------------------------

    def _collection(self, resource: str) -> dict[int, Json]:
        if resource not in self._data:
            raise ValueError(
                f"unknown sandbox resource {resource!r}; one of {', '.join(RESOURCES)}"
            )
        return self._data[resource]

    def _find(self, resource: str, id: int, status: int = 404) -> Json:
        obj = self._collection(resource).get(id)
        if obj is None:
            code, message = INVALID_ID[resource]
            raise SandboxError(code, message, status)
        return obj

    # ---- shared write helpers ---------------------------------------------------------------

    def _meta_updates(self, body: Json) -> list[Json] | None:
        """The body's `meta_data`, checked entry by entry (each needs a string `key`)."""
        entries = body_field(body, "meta_data", list, "array")
        for n, entry in enumerate(entries or []):
            if not isinstance(entry, dict):
                raise not_of_type(f"meta_data[{n}]", "object")
            if not isinstance(entry.get("key"), str):
                raise not_of_type(f"meta_data[{n}][key]", "string")
            meta_id = entry.get("id")
            if meta_id not in (None, "") and (
                not isinstance(meta_id, int) or isinstance(meta_id, bool)
            ):
                raise not_of_type(f"meta_data[{n}][id]", "integer")
        return entries

    def _write_meta(
        self, obj: Json, ref: str, entries: list[Json], hidden: Callable[[str], bool]
    ) -> None:
        """Apply meta updates to obj["meta_data"]; rows WooCommerce never returns are kept aside."""
        rows = self._hidden_meta.setdefault(ref, [])
        obj["meta_data"] = r.apply_meta_updates(
            obj["meta_data"], rows, entries, self._meta_id, hidden
        )
        if not rows:
            del self._hidden_meta[ref]

    @locked
    def add_meta(self, resource: str, id: int, key: str, value: Any) -> Json:
        """A plugin adds a meta row directly (add_metadata, not unique): duplicates are possible.

        For customers, orders and coupons. WordPress does not touch date_modified for this.
        """
        if resource not in META_HIDDEN:
            raise ValueError(f"add_meta: resource must be one of {', '.join(META_HIDDEN)}")
        obj = self._find(resource, id)
        row = {"id": self._meta_id(), "key": key, "value": value}
        if META_HIDDEN[resource](key):
            self._hidden_meta.setdefault(f"{resource}:{id}", []).append(row)
        else:
            obj["meta_data"].append(row)
        return dict(row)

    @locked
    def hidden_meta(self, resource: str, id: int) -> list[Json]:
        """Meta rows stored for an object but never served (e.g. `wp_` keys); for tests."""
        return clone(self._hidden_meta.get(f"{resource}:{id}", []))

    @staticmethod
    def _address(current: Json, body: Json, key: str, email_error: tuple[str, str]) -> Json:
        """A copy of `current` with the body's known address fields applied (unknown ones ignored)."""
        changes = body_field(body, key, dict, "object")
        merged = dict(current)
        for name, value in (changes or {}).items():
            if name not in merged:
                continue
            if not isinstance(value, str):
                raise not_of_type(f"{key}[{name}]", "string")
            merged[name] = value.strip()
        if "email" in merged:
            check_email(merged["email"], *email_error)
        return merged
