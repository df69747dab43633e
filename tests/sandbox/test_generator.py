"""The generated shop: reproducible from its seed, 18 months deep, and full of the cases a loyalty
sync must get right (repeat customers, guests, late registrations, coupons, fees, refunds of every
kind, trashed orders, moderated reviews and comments) in a small shop's proportions."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from sandbox.generator import generate_store
from sandbox.store import ORDER_STATUSES, SandboxStore

ANCHOR = datetime(2025, 1, 1, tzinfo=UTC)
SEEDS = (1, 2, 3, 20240301, 987654321)


def shop(
    seed: int, *, customers: int = 50, orders: int = 300, reviews: int = 60, comments: int = 40
) -> SandboxStore:
    return generate_store(
        seed=seed,
        anchor=ANCHOR,
        customers=customers,
        orders=orders,
        reviews=reviews,
        comments=comments,
    )


@pytest.fixture(scope="module", params=SEEDS, ids=[f"seed{s}" for s in SEEDS])
def default_shop(request: pytest.FixtureRequest) -> SandboxStore:
    """A default-size shop (50 customers, 300 orders, 60 reviews, 40 comments) per seed."""
    return shop(request.param)


def listing(store: SandboxStore) -> str:
    return json.dumps([store.all(name) for name in ("orders", "customers", "refunds", "reviews")])


def gmt(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# ---- reproducibility -----------------------------------------------------------------------


def test_same_seed_gives_a_byte_identical_store_and_listing() -> None:
    first, second = shop(42), shop(42)
    assert first.to_json() == second.to_json()
    assert listing(first) == listing(second)


def test_a_different_seed_gives_different_data() -> None:
    assert shop(42).to_json() != shop(43).to_json()
    assert listing(shop(42)) != listing(shop(43))


def test_the_same_seed_and_another_anchor_shifts_the_dates_only() -> None:
    later = generate_store(seed=42, anchor=ANCHOR + timedelta(days=10))
    now = shop(42)
    assert [o["total"] for o in later.all("orders")] == [o["total"] for o in now.all("orders")]
    assert later.all("orders")[0]["date_created_gmt"] != now.all("orders")[0]["date_created_gmt"]


def test_the_requested_sizes_are_what_the_store_holds() -> None:
    store = shop(9, customers=120, orders=700, reviews=90, comments=55)
    sizes = {name: store.count(name) for name in ("customers", "orders", "reviews")}
    blog = [c for c in store.all("comments") if c["type"] == "comment"]
    assert {**sizes, "comments": len(blog)} == {
        "customers": 120,
        "orders": 700,
        "reviews": 90,
        "comments": 55,
    }
    # WordPress keeps reviews as comments of type "review": the same rows, in the same table
    assert store.count("comments") == 55 + 90


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"orders": -1}, "orders must be a whole number"),
        ({"customers": 2.5}, "customers must be a whole number"),
        ({"anchor": datetime(2025, 1, 1)}, "anchor must be an aware datetime"),
    ],
)
def test_bad_arguments_are_refused_naming_them(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate_store(seed=1, **kwargs)


def test_default_anchor_is_today_midnight_utc() -> None:
    before = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    store = generate_store(seed=1, customers=5, orders=20, reviews=2, comments=2)
    after = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    stamps = [gmt(o["date_created_gmt"]) for o in store.all("orders")]
    assert max(stamps) <= after
    assert min(stamps) > before - timedelta(days=549)


def test_the_generated_store_takes_the_given_clock_for_later_changes() -> None:
    clock_time = ANCHOR + timedelta(hours=5)
    store = generate_store(seed=1, anchor=ANCHOR, orders=10, clock=lambda: clock_time)
    order = store.all("orders")[0]
    assert store.touch_order(order["id"])["date_modified_gmt"] == "2025-01-01T05:00:00"


# ---- time ----------------------------------------------------------------------------------------


def test_orders_span_the_18_months_before_the_anchor_and_nothing_is_newer(
    default_shop: SandboxStore,
) -> None:
    created = sorted(gmt(o["date_created_gmt"]) for o in default_shop.all("orders"))
    assert ANCHOR - timedelta(days=549) < created[0] < ANCHOR - timedelta(days=480)
    assert ANCHOR - timedelta(days=30) < created[-1] < ANCHOR
    for name in ("orders", "customers", "coupons", "products"):
        for obj in default_shop.all(name):
            assert gmt(obj["date_modified_gmt"]) <= ANCHOR
    for review in default_shop.all("reviews"):
        assert gmt(review["date_created_gmt"]) <= ANCHOR


def test_ids_ascend_with_creation_time(default_shop: SandboxStore) -> None:
    posts = default_shop.all("orders") + default_shop.all("refunds")  # one id sequence, as in WP
    for objects, field in (
        (posts, "date_created_gmt"),
        (default_shop.all("customers"), "date_created_gmt"),
        (default_shop.all("reviews"), "date_created_gmt"),
        (default_shop.all("comments"), "date_gmt"),
    ):
        stamps = [o[field] for o in sorted(objects, key=lambda o: o["id"])]
        assert stamps == sorted(stamps)


def test_status_changes_after_checkout_move_date_modified(default_shop: SandboxStore) -> None:
    orders = default_shop.all("orders")
    completed_later = [o for o in orders if o["date_completed_gmt"] != o["date_created_gmt"]]
    assert all(o["date_modified_gmt"] >= o["date_created_gmt"] for o in orders)
    assert any(o["date_modified_gmt"] > o["date_created_gmt"] for o in completed_later)


# ---- orders ----------------------------------------------------------------------------------


def test_orders_cover_every_status_and_most_are_completed(default_shop: SandboxStore) -> None:
    statuses = Counter(o["status"] for o in default_shop.all("orders"))
    assert set(statuses) == {*ORDER_STATUSES, "trash"}
    assert 0.6 < statuses["completed"] / 300 < 0.85


def test_some_customers_come_back_and_some_orders_are_from_guests(
    default_shop: SandboxStore,
) -> None:
    orders = default_shop.all("orders")
    per_customer = Counter(o["customer_id"] for o in orders if o["customer_id"])
    guests = [o for o in orders if o["customer_id"] == 0]
    assert max(per_customer.values()) >= 4
    assert sum(1 for n in per_customer.values() if n >= 2) >= 5
    assert 0.2 < len(guests) / len(orders) < 0.5
    customer_emails = {c["email"] for c in default_shop.all("customers")}
    assert any(
        o["billing"]["email"] not in customer_emails for o in guests
    )  # guests only as emails


def test_some_guests_register_later_with_their_checkout_email(default_shop: SandboxStore) -> None:
    signed_up = {c["email"]: c["date_created_gmt"] for c in default_shop.all("customers")}
    earlier_guest_orders = [
        o
        for o in default_shop.all("orders")
        if o["customer_id"] == 0
        and o["billing"]["email"] in signed_up
        and o["date_created_gmt"] < signed_up[o["billing"]["email"]]
    ]
    assert earlier_guest_orders


def test_orders_carry_taxes_shipping_fees_discounts_and_coupons(default_shop: SandboxStore) -> None:
    orders = default_shop.all("orders")

    def share(test: Any) -> float:
        return sum(1 for o in orders if test(o)) / len(orders)

    assert share(lambda o: Decimal(o["total_tax"]) > 0) > 0.9
    assert share(lambda o: Decimal(o["shipping_total"]) > 0) > 0.5
    assert 0 < share(lambda o: o["fee_lines"]) < 0.15
    assert 0.05 < share(lambda o: o["coupon_lines"]) < 0.3
    assert share(lambda o: Decimal(o["discount_total"]) > 0) > 0.03
    assert any(
        o["shipping_lines"] and o["shipping_lines"][0]["method_id"] == "free_shipping"
        for o in orders
    )
    assert any(li["taxes"] == [] for o in orders for li in o["line_items"])  # untaxed gift cards


def test_totals_add_up_on_every_order(default_shop: SandboxStore) -> None:
    for order in default_shop.all("orders"):
        lines = sum(Decimal(li["total"]) for li in order["line_items"])
        fees = sum(Decimal(f["total"]) for f in order["fee_lines"])
        expected = lines + fees + Decimal(order["shipping_total"]) + Decimal(order["total_tax"])
        assert Decimal(order["total"]) == expected
        for li in order["line_items"]:
            assert Decimal(li["subtotal"]) - Decimal(li["total"]) >= 0


def test_refunds_full_and_partial_by_amount_line_and_shipping(default_shop: SandboxStore) -> None:
    orders = {o["id"]: o for o in default_shop.all("orders")}
    refunds = default_shop.all("refunds")
    refunded = [o for o in orders.values() if o["status"] == "refunded"]
    assert refunded
    for order in refunded:
        assert sum(-Decimal(e["total"]) for e in order["refunds"]) == Decimal(order["total"])
    partial = [o for o in orders.values() if o["refunds"] and o["status"] != "refunded"]
    assert partial
    assert any(not x["line_items"] and not x["shipping_lines"] for x in refunds)  # amount only
    assert any(x["line_items"] for x in refunds)
    assert any(x["shipping_lines"] and not x["line_items"] for x in refunds)
    assert any(x["reason"] == "Order fully refunded." for x in refunds)


def test_a_few_orders_are_trashed_and_admins_touch_some(default_shop: SandboxStore) -> None:
    assert 1 <= len(default_shop.trashed_order_ids()) <= 15


# ---- catalogue, reviews, comments -----------------------------------------------------------


def test_catalogue_has_categories_for_exclusion_and_boosting(default_shop: SandboxStore) -> None:
    products = default_shop.all("products")
    names = {c["name"] for p in products for c in p["categories"]}
    assert {"Groceries", "Organic", "Gift cards"} <= names
    for product in products:
        is_gift_card = any(c["name"] == "Gift cards" for c in product["categories"])
        assert product["virtual"] is is_gift_card
        assert (product["tax_status"] == "none") is is_gift_card


def test_reviews_are_moderated_verified_or_not_and_sometimes_repeated(
    default_shop: SandboxStore,
) -> None:
    reviews = default_shop.all("reviews")
    statuses = Counter(r["status"] for r in reviews)
    assert {"approved", "hold", "spam"} <= set(statuses)
    assert statuses["approved"] > len(reviews) / 2
    assert {True, False} == {r["verified"] for r in reviews}
    pairs = Counter((r["reviewer_email"], r["product_id"]) for r in reviews)
    assert max(pairs.values()) >= 2


def test_comments_moderated_by_customers_and_strangers_with_replies(
    default_shop: SandboxStore,
) -> None:
    comments = {c["id"]: c for c in default_shop.all("comments")}
    assert {c["status"] for c in comments.values()} == {"approved", "hold", "spam", "trash"}
    assert any(c["author"] for c in comments.values())
    assert any(not c["author"] for c in comments.values())
    replies = [c for c in comments.values() if c["parent"]]
    assert replies
    for reply in replies:
        assert comments[reply["parent"]]["post"] == reply["post"]
        assert reply["date_gmt"] > comments[reply["parent"]]["date_gmt"]


def test_larger_shops_keep_their_proportions() -> None:
    store = shop(11, customers=400, orders=3000, reviews=300, comments=200)
    orders = store.all("orders")
    guests = sum(1 for o in orders if o["customer_id"] == 0) / len(orders)
    completed = sum(1 for o in orders if o["status"] == "completed") / len(orders)
    assert 0.2 < guests < 0.5
    assert 0.6 < completed < 0.85
    assert 0.03 < store.count("refunds") / len(orders) < 0.25
