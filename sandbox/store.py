"""The sandbox store's state: an in-memory WooCommerce + WordPress with WooCommerce's write semantics.

For the sandbox server (which serves these objects over wc/v3 and wp/v2), the generator and tests
(which act as shoppers and admins through the control actions). Objects are kept as JSON dicts
exactly as served, without `_links`. Every public method takes `self.lock`; readers get deep
copies, so nothing outside can change the state except through these methods.

`SandboxStore` assembles the per-resource mixins (`store_customers`, `store_catalog`,
`store_orders`, `store_order_status`, `store_feedback`) over `store_base.StoreBase` and adds the
generic reads and persistence. The names other modules import from here (`SandboxError`,
`ORDER_STATUSES`, `wp_list`, ...) are re-exported below.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from sandbox.resources import Json
from sandbox.store_base import (
    DEFAULT_SITE_URL,
    DEFAULT_TAX_RATE,
    INVALID_ID,
    META_HIDDEN,
    RESOURCES,
    clone,
    locked,
)
from sandbox.store_catalog import COUPON_STATUSES, DISCOUNT_TYPES, CatalogMixin
from sandbox.store_customers import EMAIL_EXISTS, USERNAME_EXISTS, CustomersMixin
from sandbox.store_errors import (
    EMAIL,
    SandboxError,
    invalid_param,
    missing_params,
    not_of_type,
    not_one_of,
    wp_list,
)
from sandbox.store_feedback import COMMENT_STATUSES, FeedbackMixin
from sandbox.store_order_status import (
    COUPON_USE_STATUSES,
    ORDER_STATUSES,
    PAID_STATUSES,
    OrderStatusMixin,
)
from sandbox.store_orders import (
    BILLING_EMAIL_ERROR,
    DEFAULT_SHIPPING,
    ORDER_TEXT_FIELDS,
    PAYMENT,
    OrdersMixin,
)

__all__ = [
    "BILLING_EMAIL_ERROR",
    "COMMENT_STATUSES",
    "COUPON_STATUSES",
    "COUPON_USE_STATUSES",
    "DEFAULT_SHIPPING",
    "DEFAULT_SITE_URL",
    "DEFAULT_TAX_RATE",
    "DISCOUNT_TYPES",
    "EMAIL",
    "EMAIL_EXISTS",
    "INVALID_ID",
    "META_HIDDEN",
    "ORDER_STATUSES",
    "ORDER_TEXT_FIELDS",
    "PAID_STATUSES",
    "PAYMENT",
    "RESOURCES",
    "STATE_FORMAT",
    "USERNAME_EXISTS",
    "SandboxError",
    "SandboxStore",
    "clone",
    "invalid_param",
    "missing_params",
    "not_of_type",
    "not_one_of",
    "wp_list",
]

STATE_FORMAT = "woo-loyalty-sandbox-store/1"


class SandboxStore(CustomersMixin, OrdersMixin, OrderStatusMixin, CatalogMixin, FeedbackMixin):
    """In-memory WooCommerce + WordPress state.

    Objects are kept as JSON dicts exactly as served, without `_links` (the server adds `_links`
    from its base URL). Thread-safe: every public method takes `self.lock` (an RLock).
    """

    # ---- reads --------------------------------------------------------------------------------

    @locked
    def all(self, resource: str) -> list[Json]:
        """Every object of a resource, deep copies sorted by id (ids ascend with creation)."""
        return [clone(obj) for obj in self._collection(resource).values()]

    @locked
    def get(self, resource: str, id: int) -> Json:
        """One object (deep copy); WooCommerce's invalid-id error (404) when there is none."""
        return clone(self._find(resource, id))

    @locked
    def query(
        self,
        resource: str,
        *,
        where: Callable[[Json], bool] | None = None,
        key: Callable[[Json], Any] | None = None,
        reverse: bool = False,
        offset: int = 0,
        limit: int | None = None,
    ) -> tuple[int, list[Json]]:
        """Filter, sort and slice without copying the whole collection: (matches, copies of the slice).

        `where` and `key` see the stored dicts and must not modify them. Only the returned slice is
        copied, so listing one page of 100,000 orders stays cheap.
        """
        rows = [o for o in self._collection(resource).values() if where is None or where(o)]
        if key is not None:
            rows.sort(key=key, reverse=reverse)
        elif reverse:
            rows.reverse()
        end = None if limit is None else offset + limit
        return len(rows), [clone(o) for o in rows[offset:end]]

    @locked
    def count(self, resource: str) -> int:
        return len(self._collection(resource))

    # ---- persistence ----------------------------------------------------------------------------

    @locked
    def to_json(self) -> str:
        """The whole state as JSON; byte-identical for identical stores (for `--state FILE`)."""
        state = {
            "format": STATE_FORMAT,
            "site_url": self.site_url,
            "tax_rate": str(self.tax_rate),
            "sequences": self._seq,
            "categories": list(self._categories.values()),
            "posts": list(self._posts.values()),
            **{name: list(self._data[name].values()) for name in RESOURCES},
            "refund_parents": [[rid, oid] for rid, oid in self._refund_parent.items()],
            "hidden_meta": [[ref, rows] for ref, rows in self._hidden_meta.items()],
            "coupon_use_counted": sorted(self._coupon_counted),
        }
        return json.dumps(state, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str, *, clock: Callable[[], datetime] | None = None) -> SandboxStore:
        """Rebuild a store saved by to_json()."""
        try:
            state = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"sandbox state is not JSON: {exc}") from None
        if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
            raise ValueError(f"sandbox state: expected format {STATE_FORMAT!r}")
        store = cls(clock=clock)
        store.site_url, store.tax_rate = state["site_url"], Decimal(state["tax_rate"])
        store._seq = dict(state["sequences"])
        store._categories = {c["id"]: c for c in state["categories"]}
        store._posts = {p["id"]: p for p in state["posts"]}
        for name in RESOURCES:
            store._data[name] = {o["id"]: o for o in state[name]}
        store._refund_parent = dict(state["refund_parents"])
        store._hidden_meta = dict(state["hidden_meta"])
        store._coupon_counted = set(state["coupon_use_counted"])
        store._reindex()
        return store

    def _reindex(self) -> None:
        self._email_index = {c["email"].lower(): cid for cid, c in self._data["customers"].items()}
        self._usernames = {c["username"] for c in self._data["customers"].values()}
        self._reviews_of_product = {}
        for rid, review in self._data["reviews"].items():
            self._reviews_of_product.setdefault(review["product_id"], []).append(rid)
