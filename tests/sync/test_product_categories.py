"""Products' categories for the rules, and the categories' names for the reports."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import pytest

from sync.client import StoreClient
from sync.errors import StoreAnswerUnusable
from sync.paging import unreadable_item
from sync.products import ProductCategories


class _Store:
    def __init__(self, products: list[dict[str, Any]]) -> None:
        self.products = products
        self.asked: list[list[int]] = []

    def get_by_ids(
        self, resource: str, ids: list[int], params: dict[str, Any]
    ) -> Iterator[dict[str, Any]]:
        assert (resource, params) == ("products", {"_fields": "id,categories"})
        self.asked.append(ids)
        return iter(p for p in self.products if p["id"] in ids)


def test_categories_and_their_names_are_read_once_per_product() -> None:
    store = _Store([
        {"id": 10, "categories": [{"id": 3, "name": " Hair care ", "slug": "hair"}]},
        {"id": 20, "categories": [{"id": 3, "name": "Hair care"}, {"id": 4, "name": ""}]},
        {"id": 30, "categories": [{"id": 5, "name": "x" * 300}]},
    ])  # fmt: skip
    categories = ProductCategories(cast(StoreClient, store))

    known = categories({10, 20, 30, 40})
    categories({10, 20})

    assert dict(known) == {
        10: frozenset({3}), 20: frozenset({3, 4}), 30: frozenset({5}), 40: frozenset()
    }  # fmt: skip
    assert categories.names == {3: "Hair care", 5: "x" * 255}  # blank names left out
    assert [ids for ids in store.asked if ids] == [[10, 20, 30, 40]]  # known ones: not again


def test_a_product_the_store_cannot_deliver_readably_stops_the_run_rather_than_guess() -> None:
    """Its categories decide its orders' points: read as having none, its orders would earn at
    the base rate, silently. The run stops, naming the product."""

    class _Unreadable(_Store):
        def path_of(self, endpoint: str) -> str:
            return f"/wp-json/wc/v3/{endpoint}"

    store = _Unreadable(
        [unreadable_item(10, "the answer nests arrays or objects more than 100 deep")]
    )

    with pytest.raises(
        StoreAnswerUnusable, match=r"products: product 10 cannot be read \(the answer nests"
    ):
        ProductCategories(cast(StoreClient, store))({10})
