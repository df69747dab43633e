"""The sandbox store's state: an in-memory WooCommerce + WordPress with WooCommerce's write semantics.

For the sandbox server (which serves these objects over wc/v3 and wp/v2), the generator and tests
(which act as shoppers and admins through the control actions). Objects are kept as JSON dicts
exactly as served, without `_links`. Every public method takes `self.lock`; readers get deep
copies, so nothing outside can change the state except through these methods.

`SandboxStore` assembles the per-resource mixins of `sandbox.resources` over
`sandbox.state.StoreBase`, with a table per resource of `sandbox.routes`, and adds persistence.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from sandbox.bulk import collector_paused
from sandbox.errors import SandboxError
from sandbox.indexes import Table
from sandbox.resources.comments import CommentsMixin
from sandbox.resources.customers import CustomersMixin
from sandbox.resources.orders import ORDER_STATUSES, OrdersMixin
from sandbox.resources.reviews import ReviewsMixin
from sandbox.routes import RESOURCES, TABLES
from sandbox.state import locked

__all__ = ["INVALID_ID", "ORDER_STATUSES", "STATE_FORMAT", "SandboxError", "SandboxStore"]

STATE_FORMAT = "woo-loyalty-sandbox-store/1"
INVALID_ID = TABLES  # each resource's (code, message) for an id the store does not hold


class SandboxStore(CustomersMixin, OrdersMixin, ReviewsMixin, CommentsMixin):
    """In-memory WooCommerce + WordPress state.

    Objects are kept as JSON dicts exactly as served, without `_links` (the server adds `_links`
    from its base URL). Thread-safe: every public method takes `self.lock` (an RLock).
    """

    def __init__(self, *, clock: Callable[[], datetime] | None = None) -> None:
        super().__init__(tables=TABLES, clock=clock)

    @locked
    def build_indexes(self) -> None:
        """Build the sorted index of every listing now, so no request pays for it (the server
        does this when it starts; they are kept up to date from then on)."""
        for resource in RESOURCES:
            for collection in resource.listings:
                self.sorted_index(collection.resource, collection.index_spec)

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
            **{name: list(table.values()) for name, table in self._data.items()},
            "refund_parents": [[rid, oid] for rid, oid in self._refund_parent.items()],
            "hidden_meta": [[ref, rows] for ref, rows in self._hidden_meta.items()],
            "coupon_use_counted": sorted(self._coupon_counted),
        }
        return json.dumps(state, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str, *, clock: Callable[[], datetime] | None = None) -> SandboxStore:
        """Rebuild a store saved by to_json()."""
        try:
            with collector_paused():
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
        for name in store._data:
            store._data[name] = Table((o["id"], o) for o in state.get(name, []))
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
