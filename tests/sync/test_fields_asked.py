"""The fields the sync asks for (`_fields`) are all it reads: every parser and every reader of raw
orders, refunds, customers, reviews and comments finds the same in a trimmed object as in the whole
one.

A field read but not named would come back missing from a store that honours `_fields` (any
WordPress since 4.9.8): the object would be quarantined, or worse read as zero. Each real or
documented sample, and every object of a generated shop as the sandbox serves it, is read whole
and trimmed (by the sandbox's copy of WordPress's filter) and must read the same.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from sandbox.fields import filtered, requested
from sandbox.generator import generate_store
from sandbox.server import SandboxServer
from sync.activity_data import REVIEW_FIELDS, parse_review
from sync.comments import COMMENT_FIELDS, parse_comment
from sync.errors import InvalidSourceData
from sync.order_data import (
    CUSTOMER_FIELDS,
    ORDER_FIELDS,
    REFUND_FIELDS,
    parse_customer,
    parse_order,
    parse_refund,
    parse_registration,
)
from sync.order_points import _owner_key
from sync.quarantine import valid_id
from sync.redemption_lifecycle import CouponUses
from sync.refunds import refund_order_id
from sync.window import keyset_key
from tests.samples import WOOCOMMERCE_SAMPLES

USER, PASSWORD = "sandbox-admin", "abcd EFGH ijkl MNOP qrst UVWX"
CK, CS = "ck_" + "5" * 40, "cs_" + "6" * 40


def _outcome(read: Callable[[Any], Any], item: Any) -> Any:
    """What reading `item` gives: its value, or the error (a trimmed object must fail alike)."""
    try:
        return read(item)
    except InvalidSourceData as error:
        return ("invalid", str(error))


def _coupon_uses(order: Any) -> Any:
    uses = CouponUses()
    uses.see([order])
    return uses.seen


ORDER_READERS: list[Callable[[Any], Any]] = [
    parse_order,
    _owner_key,
    valid_id,
    keyset_key,
    _coupon_uses,
]
REFUND_READERS: list[Callable[[Any], Any]] = [parse_refund, refund_order_id, valid_id]
CUSTOMER_READERS: list[Callable[[Any], Any]] = [parse_customer, parse_registration, valid_id]
READERS = {
    "orders": ORDER_READERS,
    "refunds": REFUND_READERS,
    "customers": CUSTOMER_READERS,
    "reviews": [parse_review, valid_id],
    "comments": [parse_comment, valid_id],
}
FIELDS = {
    "orders": ORDER_FIELDS,
    "refunds": REFUND_FIELDS,
    "customers": CUSTOMER_FIELDS,
    "reviews": REVIEW_FIELDS,
    "comments": COMMENT_FIELDS,
}


def _items(*names: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for name in names:
        value = json.loads((WOOCOMMERCE_SAMPLES / name).read_text(encoding="utf-8"))
        found += value if isinstance(value, list) else [value]
    return found


SAMPLES = {
    "orders": _items("order.json", "orders-list.json", "real-order.json", "order-create-response.json"),
    "refunds": _items("order-refund.json", "order-refunds-list.json", "real-order-refund.json"),
    "customers": _items("customer.json", "customers-list.json", "real-customer.json"),
    "reviews": _items("product-review.json", "product-reviews-list.json", "real-product-review.json"),
    "comments": _items("wp-comment.json", "wp-comments-list.json"),
}  # fmt: skip


def _reads_alike(kind: str, whole: dict[str, Any], trimmed: dict[str, Any]) -> None:
    for read in READERS[kind]:
        assert _outcome(read, trimmed) == _outcome(read, whole), (kind, read.__name__, whole["id"])


@pytest.mark.parametrize("kind", sorted(FIELDS))
def test_no_name_the_sync_needs_is_lost_by_an_older_wordpress_or_by_its_parent(kind: str) -> None:
    """Dotted names match nothing before WordPress 5.3 (the field is then not sent at all), and
    WordPress stops reading the list at a name whose parent it already keeps whole: only a
    fallback may be dotted, and every name must count."""
    names = FIELDS[kind].split(",")
    assert {name for name in names if "." in name} <= {"_links.up"}  # refund_order_id's fallback
    assert requested(FIELDS[kind]) == {
        name.split(".")[0]: True if "." not in name else {name.split(".")[1]: True}
        for name in names
    }


def test_a_refund_without_a_parent_or_a_usable_up_link_names_no_order() -> None:
    for links in ([], {"up": "x"}, {"up": [1, {"href": 5}]}, {"self": []}, None, "x"):
        assert refund_order_id({"id": 9, "_links": links}) is None
    up = {"up": [{"href": "https://shop.example/wp-json/wc/v3/orders/42"}]}
    assert refund_order_id({"id": 9, "parent_id": 0, "_links": up}) == 42
    for parent in (2**64, 2**63, -4, True, 4.0, "4"):  # not an id the ledger can hold: the link
        assert refund_order_id({"id": 9, "parent_id": parent, "_links": up}) == 42
    for tail in (str(2**64), "0", "²", "-4", "4.0", "9" * 5000):
        href = f"https://shop.example/wp-json/wc/v3/orders/{tail}"
        assert refund_order_id({"id": 9, "_links": {"up": [{"href": href}]}}) is None


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_every_sample_reads_the_same_trimmed_to_the_fields_asked_for(kind: str) -> None:
    spec = requested(FIELDS[kind])
    assert spec is not None
    for whole in SAMPLES[kind]:
        _reads_alike(kind, whole, filtered([whole], spec)[0])


@pytest.fixture(scope="module")
def served() -> Iterator[SandboxServer]:
    store = generate_store(
        seed=5,
        customers=60,
        orders=400,
        reviews=150,
        comments=120,
        anchor=datetime(2025, 6, 1, tzinfo=UTC),
    )
    with SandboxServer(
        store, consumer_key=CK, consumer_secret=CS, wp_username=USER, wp_app_password=PASSWORD
    ) as server:
        yield server


def _pages(server: SandboxServer, route: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in range(1, 100):
        answer = requests.get(
            f"{server.api_url}/{route}",
            params={**params, "per_page": 100, "page": page, "orderby": "id"},
            auth=(USER, PASSWORD),
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        items += answer.json()
        if page >= int(answer.headers["X-WP-TotalPages"]):
            return items
    raise AssertionError("more pages than a small shop has")


@pytest.mark.parametrize(
    ("kind", "route", "params"),
    [
        ("orders", "wc/v3/orders", {"status": "any"}),
        ("orders", "wc/v3/orders", {"status": "trash"}),
        ("refunds", "wc/v3/refunds", {}),
        ("customers", "wc/v3/customers", {"role": "all"}),
        ("reviews", "wc/v3/products/reviews", {"status": "all"}),
        ("comments", "wp/v2/comments", {"type": "comment", "context": "edit", "status": "all"}),
    ],
)
def test_a_generated_shop_reads_the_same_asked_for_its_fields(
    served: SandboxServer, kind: str, route: str, params: dict[str, Any]
) -> None:
    whole = _pages(served, route, **params)
    trimmed = _pages(served, route, **params, _fields=FIELDS[kind])
    assert [valid_id(i) for i in trimmed] == [valid_id(i) for i in whole]
    assert len(json.dumps(trimmed)) < len(json.dumps(whole))
    for one, other in zip(whole, trimmed, strict=True):
        _reads_alike(kind, one, other)
