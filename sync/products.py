"""Products, as the purchase rule needs them: which categories each product is in.

Order lines carry no categories, so category overrides need the products. They are fetched only
when a rule set has category overrides, a hundred ids a request, and remembered for the run. The
products also name their categories (`{"id", "name", "slug"}`): `names` keeps them, for the
reports (`ledger.entries.remember_categories`).
"""

from __future__ import annotations

from collections.abc import Mapping

from sync.client import StoreClient
from sync.errors import StoreAnswerUnusable
from sync.paging import UNREADABLE, is_unreadable

NAME_LIMIT = 255  # the ledger's column
#: All the purchase rule and the reports read of a product (a description can be megabytes).
FIELDS = "id,categories"


class ProductCategories:
    """Category ids per product id, fetched on first need."""

    def __init__(self, client: StoreClient) -> None:
        self.client = client
        self.known: dict[int, frozenset[int]] = {}
        #: Category names as the products showed them (the reports' labels); blank ones left out.
        self.names: dict[int, str] = {}

    def __call__(self, product_ids: set[int]) -> Mapping[int, frozenset[int]]:
        unknown = sorted(pid for pid in product_ids if pid and pid not in self.known)
        for product in self.client.get_by_ids("products", unknown, {"_fields": FIELDS}):
            if is_unreadable(product):  # its categories decide points: no guess, the run stops
                raise StoreAnswerUnusable(
                    f"GET {self.client.path_of('products')}: product {product['id']} cannot be"
                    f" read ({product[UNREADABLE]}), and its categories decide its orders' points"
                )
            categories = product.get("categories") or []
            self.known[int(product["id"])] = frozenset(int(c["id"]) for c in categories)
            for category in categories:
                name = category.get("name")
                if isinstance(name, str) and name.strip():
                    self.names[int(category["id"])] = name.strip()[:NAME_LIMIT]
        for pid in unknown:
            self.known.setdefault(pid, frozenset())  # deleted products: no categories
        return self.known
