"""Products, as the purchase rule needs them: which categories each product is in.

Order lines carry no categories, so category overrides need the products. They are fetched only
when a rule set has category overrides, a hundred ids a request, and remembered for the run.
"""

from __future__ import annotations

from collections.abc import Mapping

from sync.client import StoreClient


class ProductCategories:
    """Category ids per product id, fetched on first need."""

    def __init__(self, client: StoreClient) -> None:
        self.client = client
        self.known: dict[int, frozenset[int]] = {}

    def __call__(self, product_ids: set[int]) -> Mapping[int, frozenset[int]]:
        unknown = sorted(pid for pid in product_ids if pid and pid not in self.known)
        for product in self.client.get_by_ids("products", unknown):
            categories = product.get("categories") or []
            self.known[int(product["id"])] = frozenset(int(c["id"]) for c in categories)
        for pid in unknown:
            self.known.setdefault(pid, frozenset())  # deleted products: no categories
        return self.known
