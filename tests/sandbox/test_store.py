"""The sandbox store's WooCommerce semantics: customer meta, coupons, orders, refunds, moderation,
dates, persistence. Each test builds a tiny shop on a clock it controls."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from sandbox.resources import refunds as r
from sandbox.store import INVALID_ID, SandboxError, SandboxStore

START = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)


class Clock:
    """A settable clock: the store reads it, the test moves it."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Shop:
    store: SandboxStore
    clock: Clock
    coffee: int  # 12.50, groceries, taxable
    oats: int  # 4.80, organic groceries
    gift: int  # 25.00 gift card: virtual, untaxed
    gift_cards: int  # category id
    jane: int  # a registered customer

    def order(self, **kwargs: Any) -> dict[str, Any]:
        kwargs.setdefault("customer_id", self.jane)
        kwargs.setdefault("items", [(self.coffee, 2)])
        return self.store.place_order(**kwargs)


@pytest.fixture
def shop() -> Shop:
    clock = Clock()
    store = SandboxStore(clock=clock)
    groceries, organic = store.add_category("Groceries")["id"], store.add_category("Organic")["id"]
    gift_cards = store.add_category("Gift cards")["id"]
    coffee = store.add_product(name="Coffee", price=Decimal("12.50"), category_ids=[groceries])
    oats = store.add_product(name="Oats", price=Decimal("4.80"), category_ids=[groceries, organic])
    gift = store.add_product(
        name="Gift card", price=Decimal(25), category_ids=[gift_cards], virtual=True, taxable=False
    )
    jane = store.register_customer(email="jane@example.com", first_name="Jane", last_name="Doe")
    clock.advance(hours=1)
    return Shop(store, clock, coffee["id"], oats["id"], gift["id"], gift_cards, jane["id"])


def error_of(action: Callable[[], object]) -> SandboxError:
    with pytest.raises(SandboxError) as caught:
        action()
    return caught.value


def meta(store: SandboxStore, customer_id: int) -> list[tuple[str, Any]]:
    return [(m["key"], m["value"]) for m in store.get("customers", customer_id)["meta_data"]]


# ---- errors and reads -------------------------------------------------------------------------


def test_error_body_is_woocommerces_code_message_and_status() -> None:
    error = SandboxError(
        "rest_invalid_param", "Invalid parameter(s): per_page", 400, {"params": {}}
    )
    assert error.body() == {
        "code": "rest_invalid_param",
        "message": "Invalid parameter(s): per_page",
        "data": {"status": 400, "params": {}},
    }


@pytest.mark.parametrize("resource", sorted(INVALID_ID))
def test_get_of_a_missing_object_is_woocommerces_invalid_id_404(shop: Shop, resource: str) -> None:
    error = error_of(lambda: shop.store.get(resource, 999_999))
    assert (error.code, error.message, error.status) == (*INVALID_ID[resource], 404)


def test_exact_invalid_id_codes_per_resource() -> None:
    assert INVALID_ID["orders"] == ("woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
    assert INVALID_ID["customers"] == ("wc_user_invalid_id", "Invalid user ID.")
    assert INVALID_ID["coupons"] == ("woocommerce_rest_shop_coupon_invalid_id", "Invalid ID.")
    assert INVALID_ID["refunds"][0] == "woocommerce_rest_shop_order_refund_invalid_id"
    assert INVALID_ID["reviews"] == ("woocommerce_rest_review_invalid_id", "Invalid review ID.")
    assert INVALID_ID["comments"] == ("rest_comment_invalid_id", "Invalid comment ID.")


def test_unknown_resource_name_is_a_value_error_naming_the_choices(shop: Shop) -> None:
    with pytest.raises(ValueError, match="unknown sandbox resource 'order'"):
        shop.store.all("order")


def test_readers_get_copies_that_cannot_change_the_store(shop: Shop) -> None:
    order = shop.order()
    copy = shop.store.get("orders", order["id"])
    copy["status"] = "completed"
    copy["line_items"][0]["total"] = "0.00"
    shop.store.all("orders")[0]["billing"]["email"] = "x@example.com"
    again = shop.store.get("orders", order["id"])
    assert (again["status"], again["line_items"][0]["total"]) == ("processing", "25.00")
    assert again["billing"]["email"] == "jane@example.com"


def test_query_filters_sorts_and_slices_and_counts_all_matches(shop: Shop) -> None:
    ids = [shop.order(status=s)["id"] for s in ("pending", "completed", "completed", "completed")]
    total, page = shop.store.query(
        "orders",
        where=lambda o: o["status"] == "completed",
        key=lambda o: o["id"],
        reverse=True,
        offset=1,
        limit=1,
    )
    assert total == 3
    assert [o["id"] for o in page] == [ids[2]]


def test_all_lists_objects_sorted_by_id(shop: Shop) -> None:
    ids = [shop.order()["id"] for _ in range(3)]
    assert [o["id"] for o in shop.store.all("orders")] == sorted(ids)


def test_clock_without_timezone_is_refused() -> None:
    store = SandboxStore(clock=lambda: datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="aware"):
        store.register_customer(email="a@example.com")


# ---- customer meta_data -----------------------------------------------------------------------


def test_meta_entry_with_id_updates_that_row_key_and_value(shop: Shop) -> None:
    store = shop.store
    row = store.update_customer(shop.jane, {"meta_data": [{"key": "points", "value": "10"}]})
    meta_id = row["meta_data"][0]["id"]
    updated = store.update_customer(
        shop.jane, {"meta_data": [{"id": meta_id, "key": "loyalty_points", "value": "25"}]}
    )
    assert updated["meta_data"] == [{"id": meta_id, "key": "loyalty_points", "value": "25"}]


def test_key_only_meta_updates_the_first_row_and_removes_other_rows_of_that_key(shop: Shop) -> None:
    store = shop.store
    first = store.add_meta("customers", shop.jane, "tier", "bronze")
    store.add_meta("customers", shop.jane, "tier", "silver")
    store.add_meta("customers", shop.jane, "other", "kept")
    updated = store.update_customer(shop.jane, {"meta_data": [{"key": "tier", "value": "gold"}]})
    assert updated["meta_data"] == [
        {"id": first["id"], "key": "tier", "value": "gold"},
        {"id": first["id"] + 2, "key": "other", "value": "kept"},
    ]


def test_key_only_meta_adds_a_row_when_the_key_is_new(shop: Shop) -> None:
    updated = shop.store.update_customer(
        shop.jane, {"meta_data": [{"key": "tier", "value": "gold"}]}
    )
    assert [(m["key"], m["value"]) for m in updated["meta_data"]] == [("tier", "gold")]
    assert isinstance(updated["meta_data"][0]["id"], int)


def test_meta_with_an_unknown_id_replaces_every_row_of_that_key(shop: Shop) -> None:
    store = shop.store
    store.add_meta("customers", shop.jane, "tier", "bronze")
    store.add_meta("customers", shop.jane, "tier", "silver")
    store.update_customer(
        shop.jane, {"meta_data": [{"id": 987654, "key": "tier", "value": "gold"}]}
    )
    assert meta(store, shop.jane) == [("tier", "gold")]


def test_meta_value_null_with_id_deletes_that_row(shop: Shop) -> None:
    store = shop.store
    bronze = store.add_meta("customers", shop.jane, "tier", "bronze")
    store.add_meta("customers", shop.jane, "tier", "silver")
    store.update_customer(
        shop.jane, {"meta_data": [{"id": bronze["id"], "key": "tier", "value": None}]}
    )
    assert meta(store, shop.jane) == [("tier", "silver")]


def test_meta_value_null_without_id_deletes_every_row_of_that_key(shop: Shop) -> None:
    store = shop.store
    store.add_meta("customers", shop.jane, "tier", "bronze")
    store.add_meta("customers", shop.jane, "tier", "silver")
    store.update_customer(shop.jane, {"meta_data": [{"key": "tier", "value": None}]})
    assert meta(store, shop.jane) == []


@pytest.mark.parametrize(
    "key",
    [
        "wp_capabilities",
        "WP_user_level",
        "points_wp_cache",
        "_woocommerce_persistent_cart_1",
        "closedpostboxes_dashboard",
        "metaboxhidden_product",
        "manageedit-shop_ordercolumnshidden",
    ],
)
def test_hidden_meta_keys_are_stored_but_never_returned(shop: Shop, key: str) -> None:
    updated = shop.store.update_customer(shop.jane, {"meta_data": [{"key": key, "value": "1"}]})
    assert updated["meta_data"] == []
    assert [(m["key"], m["value"]) for m in shop.store.hidden_meta("customers", shop.jane)] == [
        (key, "1")
    ]


def test_key_only_write_of_a_hidden_key_adds_a_duplicate_row_each_time(shop: Shop) -> None:
    for value in ("1", "2", "3"):
        shop.store.update_customer(shop.jane, {"meta_data": [{"key": "wp_points", "value": value}]})
    rows = shop.store.hidden_meta("customers", shop.jane)
    assert [m["value"] for m in rows] == ["1", "2", "3"]
    assert len({m["id"] for m in rows}) == 3
    assert shop.store.get("customers", shop.jane)["meta_data"] == []


def test_underscore_meta_keys_are_returned_and_writable(shop: Shop) -> None:
    store = shop.store
    store.update_customer(shop.jane, {"meta_data": [{"key": "_loyalty_points", "value": "120"}]})
    store.update_customer(shop.jane, {"meta_data": [{"key": "_loyalty_points", "value": "150"}]})
    assert meta(store, shop.jane) == [("_loyalty_points", "150")]


def test_meta_values_keep_their_json_type(shop: Shop) -> None:
    value = {"balance": 120, "tiers": ["gold"], "active": True}
    updated = shop.store.update_customer(
        shop.jane, {"meta_data": [{"key": "loyalty", "value": value}]}
    )
    assert updated["meta_data"][0]["value"] == value


def test_customer_update_bumps_date_modified_only(shop: Shop) -> None:
    before = shop.store.get("customers", shop.jane)
    shop.clock.advance(minutes=5)
    after = shop.store.update_customer(shop.jane, {"meta_data": [{"key": "tier", "value": "gold"}]})
    assert after["date_modified_gmt"] == "2024-03-01T13:05:00"
    assert after["date_modified"] == "2024-03-01T10:05:00"  # site time, UTC-03:00
    assert after["date_created_gmt"] == before["date_created_gmt"]


@pytest.mark.parametrize(
    ("meta_data", "field"),
    [
        ("x", "meta_data"),
        (["x"], "meta_data[0]"),
        ([{"value": 1}], "meta_data[0][key]"),
        ([{"key": "a", "value": 1, "id": "7"}], "meta_data[0][id]"),
    ],
)
def test_bad_meta_data_is_a_400_naming_the_field_and_changes_nothing(
    shop: Shop, meta_data: Any, field: str
) -> None:
    before = shop.store.get("customers", shop.jane)
    error = error_of(
        lambda: shop.store.update_customer(shop.jane, {"first_name": "J", "meta_data": meta_data})
    )
    assert (error.status, error.code, error.message) == (
        400,
        "rest_invalid_param",
        f"Invalid parameter(s): {field}",
    )
    assert field in error.body()["data"]["params"]
    assert shop.store.get("customers", shop.jane) == before


# ---- customers ------------------------------------------------------------------------------


def test_update_of_a_missing_customer_is_404_directly_and_400_inside_a_batch(shop: Shop) -> None:
    direct = error_of(lambda: shop.store.update_customer(424242, {"first_name": "X"}))
    batch = error_of(lambda: shop.store.update_customer(424242, {}, from_batch=True))
    assert (direct.status, direct.code, direct.message) == (
        404,
        "wc_user_invalid_id",
        "Invalid user ID.",
    )
    assert (batch.status, batch.code, batch.message) == (
        400,
        "woocommerce_rest_invalid_id",
        "Invalid resource ID.",
    )


def test_update_customer_changes_names_and_addresses(shop: Shop) -> None:
    updated = shop.store.update_customer(
        shop.jane,
        {
            "first_name": "Janet",
            "billing": {"city": "Austin", "unknown": "ignored"},
            "shipping": {"city": "Dallas"},
        },
    )
    assert (updated["first_name"], updated["billing"]["city"], updated["shipping"]["city"]) == (
        "Janet",
        "Austin",
        "Dallas",
    )
    assert "unknown" not in updated["billing"]


def test_customer_email_taken_by_someone_else_is_rejected(shop: Shop) -> None:
    shop.store.register_customer(email="bob@example.com")
    error = error_of(lambda: shop.store.update_customer(shop.jane, {"email": "BOB@example.com"}))
    assert (error.status, error.code) == (400, "woocommerce_rest_customer_invalid_email")


def test_customer_username_is_not_editable(shop: Shop) -> None:
    error = error_of(lambda: shop.store.update_customer(shop.jane, {"username": "someone"}))
    assert (error.code, error.message) == (
        "woocommerce_rest_customer_invalid_argument",
        "Username isn't editable.",
    )


def test_create_customer_needs_an_email_and_makes_a_username_from_it(shop: Shop) -> None:
    missing = error_of(lambda: shop.store.create_customer({"first_name": "X"}))
    assert (missing.status, missing.code) == (400, "rest_missing_callback_param")
    created = shop.store.create_customer({"email": "john.doe@example.com", "first_name": "John"})
    twin = shop.store.create_customer({"email": "john.doe@example.org"})
    assert (created["username"], twin["username"], created["role"]) == (
        "john.doe",
        "john.doe-2",
        "customer",
    )


def test_create_customer_with_a_registered_email_is_rejected(shop: Shop) -> None:
    error = error_of(lambda: shop.store.create_customer({"email": "JANE@example.com"}))
    assert (error.status, error.code) == (400, "registration-error-email-exists")


def test_failed_customer_create_leaves_no_account_behind(shop: Shop) -> None:
    before = shop.store.count("customers")
    error_of(
        lambda: shop.store.create_customer(
            {"email": "new@example.com", "billing": {"email": "bad"}}
        )
    )
    assert shop.store.count("customers") == before
    assert shop.store.customer_id_by_email("new@example.com") is None


def test_delete_customer_needs_force(shop: Shop) -> None:
    error = error_of(lambda: shop.store.delete_customer(shop.jane, force=False))
    assert (error.status, error.code) == (501, "woocommerce_rest_trash_not_supported")


def test_deleting_a_customer_turns_their_orders_into_guest_orders_without_a_new_modified_date(
    shop: Shop,
) -> None:
    order = shop.order()
    shop.clock.advance(days=1)
    deleted = shop.store.delete_customer(shop.jane, force=True)
    after = shop.store.get("orders", order["id"])
    assert deleted["id"] == shop.jane
    assert (after["customer_id"], after["date_modified_gmt"]) == (0, order["date_modified_gmt"])
    assert error_of(lambda: shop.store.get("customers", shop.jane)).status == 404


def test_guest_who_registers_later_keeps_their_guest_orders(shop: Shop) -> None:
    guest = shop.order(customer_id=0, email="sam@example.com")
    shop.clock.advance(days=3)
    sam = shop.store.register_customer(email="sam@example.com", first_name="Sam")
    assert shop.store.get("orders", guest["id"])["customer_id"] == 0
    assert shop.store.customer_id_by_email("SAM@example.com") == sam["id"]


# ---- coupons --------------------------------------------------------------------------------


def test_coupon_codes_are_trimmed_and_lowercased(shop: Shop) -> None:
    coupon = shop.store.create_coupon(
        {"code": "  Summer10 ", "amount": "10", "discount_type": "percent"}
    )
    assert (coupon["code"], coupon["amount"], coupon["status"]) == ("summer10", "10.00", "publish")


def test_a_published_code_cannot_be_created_twice_in_any_case(shop: Shop) -> None:
    shop.store.create_coupon({"code": "SAVE5"})
    error = error_of(lambda: shop.store.create_coupon({"code": "save5"}))
    assert error.body() == {
        "code": "woocommerce_rest_coupon_code_already_exists",
        "message": "The coupon code already exists",
        "data": {"status": 400},
    }


def test_codes_of_draft_and_trashed_coupons_can_be_used_again(shop: Shop) -> None:
    shop.store.create_coupon({"code": "idea", "status": "draft"})
    trashed = shop.store.create_coupon({"code": "old"})
    shop.store.delete_coupon(trashed["id"], force=False)
    assert shop.store.create_coupon({"code": "idea"})["code"] == "idea"
    assert shop.store.create_coupon({"code": "old"})["code"] == "old"


def test_renaming_a_coupon_onto_another_code_is_rejected_but_its_own_code_is_fine(
    shop: Shop,
) -> None:
    shop.store.create_coupon({"code": "taken"})
    mine = shop.store.create_coupon({"code": "mine"})
    assert shop.store.update_coupon(mine["id"], {"code": "MINE", "amount": "3"})["amount"] == "3.00"
    error = error_of(lambda: shop.store.update_coupon(mine["id"], {"code": "Taken"}))
    assert error.code == "woocommerce_rest_coupon_code_already_exists"


def test_empty_coupon_code_is_rejected(shop: Shop) -> None:
    error = error_of(lambda: shop.store.create_coupon({"code": "  "}))
    assert (error.code, error.message) == (
        "woocommerce_rest_empty_coupon_code",
        "The coupon code cannot be empty.",
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": 10}, "amount"),
        ({"amount": "ten"}, "amount"),
        ({"amount": "NaN"}, "amount"),
        ({"discount_type": "bogo"}, "discount_type"),
        ({"individual_use": "yes"}, "individual_use"),
        ({"product_ids": ["1"]}, "product_ids[0]"),
        ({"usage_limit": "5"}, "usage_limit"),
        ({"date_expires": "soon"}, "date_expires"),
    ],
)
def test_coupon_fields_are_checked_against_woocommerces_schema(
    shop: Shop, body: dict[str, Any], field: str
) -> None:
    error = error_of(lambda: shop.store.create_coupon({"code": "x", **body}))
    assert (error.status, error.message) == (400, f"Invalid parameter(s): {field}")
    assert shop.store.coupon_id_by_code("x") is None


@pytest.mark.parametrize("body", [{"amount": "-1"}, {"amount": "120", "discount_type": "percent"}])
def test_negative_amounts_and_percentages_over_100_are_invalid(
    shop: Shop, body: dict[str, Any]
) -> None:
    error = error_of(lambda: shop.store.create_coupon({"code": "x", **body}))
    assert (error.status, error.code, error.message) == (
        400,
        "coupon_invalid_amount",
        "Invalid discount amount",
    )


def test_coupon_update_bumps_date_modified_and_expiry_has_both_dates(shop: Shop) -> None:
    coupon = shop.store.create_coupon({"code": "later"})
    shop.clock.advance(minutes=1)
    updated = shop.store.update_coupon(coupon["id"], {"date_expires": "2024-12-31T23:59:59"})
    assert (updated["date_expires"], updated["date_expires_gmt"]) == (
        "2024-12-31T23:59:59",
        "2025-01-01T02:59:59",
    )
    assert updated["date_modified_gmt"] > coupon["date_modified_gmt"]


def test_missing_coupon_update_is_400_and_delete_is_404(shop: Shop) -> None:
    assert error_of(lambda: shop.store.update_coupon(5, {})).status == 400
    assert error_of(lambda: shop.store.delete_coupon(5, force=True)).status == 404


def test_coupon_id_by_code_finds_published_coupons_only(shop: Shop) -> None:
    shop.store.create_coupon({"code": "draft", "status": "draft"})
    published = shop.store.create_coupon({"code": "live"})
    assert shop.store.coupon_id_by_code("LIVE") == published["id"]
    assert shop.store.coupon_id_by_code("draft") is None


def test_deleting_a_coupon_trashes_it_then_410_then_force_removes_it(shop: Shop) -> None:
    coupon = shop.store.create_coupon({"code": "bye"})
    answered = shop.store.delete_coupon(coupon["id"], force=False)
    assert answered["status"] == "publish"  # the response is prepared before deleting
    assert shop.store.get("coupons", coupon["id"])["status"] == "trash"
    again = error_of(lambda: shop.store.delete_coupon(coupon["id"], force=False))
    assert (again.status, again.code) == (410, "woocommerce_rest_already_trashed")
    shop.store.delete_coupon(coupon["id"], force=True)
    assert shop.store.count("coupons") == 0


def test_coupon_use_is_counted_and_given_back_when_the_order_is_cancelled(shop: Shop) -> None:
    coupon = shop.store.create_coupon({"code": "save5", "amount": "5"})
    order = shop.order(coupon_code="SAVE5", status="on-hold")
    guest = shop.order(customer_id=0, email="amy@example.com", coupon_code="save5")
    used = shop.store.get("coupons", coupon["id"])
    assert (used["usage_count"], used["used_by"]) == (2, [str(shop.jane), "amy@example.com"])
    shop.store.set_order_status(order["id"], "cancelled")
    shop.store.set_order_status(guest["id"], "refunded")
    given_back = shop.store.get("coupons", coupon["id"])
    assert (given_back["usage_count"], given_back["used_by"]) == (1, ["amy@example.com"])


def test_unknown_and_expired_coupons_cannot_be_used(shop: Shop) -> None:
    shop.store.create_coupon({"code": "gone", "date_expires_gmt": "2024-01-01T00:00:00"})
    unknown = error_of(lambda: shop.order(coupon_code="nope"))
    expired = error_of(lambda: shop.order(coupon_code="gone"))
    assert (unknown.code, unknown.message) == (
        "woocommerce_rest_invalid_coupon",
        'Coupon "nope" does not exist!',
    )
    assert (expired.code, expired.message) == (
        "woocommerce_rest_invalid_coupon",
        "This coupon has expired.",
    )


# ---- orders: totals -------------------------------------------------------------------------


def money(value: str) -> Decimal:
    return Decimal(value)


def test_order_totals_follow_woocommerce(shop: Shop) -> None:
    order = shop.order(items=[(shop.coffee, 2), (shop.gift, 1)], fee=Decimal("2.00"))
    coffee, gift = order["line_items"]
    assert (coffee["subtotal"], coffee["total"], coffee["total_tax"], coffee["price"]) == (
        "25.00",
        "25.00",
        "2.50",
        12.5,
    )
    assert (gift["total_tax"], gift["taxes"], gift["price"]) == ("0.00", [], 25)
    assert (order["shipping_total"], order["shipping_tax"]) == ("5.00", "0.50")
    assert (order["cart_tax"], order["total_tax"]) == ("2.70", "3.20")  # lines 2.50 + fee 0.20
    assert order["total"] == "60.20"  # 25 + 25 + shipping 5 + fee 2 + taxes 3.20
    assert order["tax_lines"][0]["tax_total"] == "2.70"
    assert order["tax_lines"][0]["shipping_tax_total"] == "0.50"


def test_percent_coupon_discounts_eligible_lines_only(shop: Shop) -> None:
    shop.store.create_coupon(
        {
            "code": "ten",
            "discount_type": "percent",
            "amount": "10",
            "excluded_product_categories": [shop.gift_cards],
        }
    )
    order = shop.order(items=[(shop.coffee, 2), (shop.gift, 1)], coupon_code="ten")
    coffee, gift = order["line_items"]
    assert (coffee["subtotal"], coffee["total"], gift["total"]) == ("25.00", "22.50", "25.00")
    assert (order["discount_total"], order["discount_tax"]) == ("2.50", "0.25")
    assert order["coupon_lines"][0]["code"] == "ten"
    assert order["coupon_lines"][0]["discount"] == "2.50"
    line = order["coupon_lines"][0]
    coupon = shop.store.all("coupons")[-1]
    # WooCommerce 9: the coupon_info meta, and the type, amount and free shipping read from it
    assert line["meta_data"][0]["key"] == "coupon_info"
    assert line["meta_data"][0]["value"] == f'[{coupon["id"]},"ten","percent",10.0]'
    assert (line["discount_type"], line["nominal_amount"], line["free_shipping"]) == (
        "percent",
        10.0,
        False,
    )


def test_fixed_cart_coupon_is_spread_over_lines_and_adds_up_to_its_amount(shop: Shop) -> None:
    shop.store.create_coupon({"code": "three", "discount_type": "fixed_cart", "amount": "3.00"})
    order = shop.order(
        items=[(shop.coffee, 1), (shop.oats, 1), (shop.oats, 2)], coupon_code="three"
    )
    discounts = [money(li["subtotal"]) - money(li["total"]) for li in order["line_items"]]
    assert sum(discounts) == Decimal("3.00")
    assert all(d > 0 for d in discounts)


def test_free_shipping_coupon_and_virtual_orders_without_shipping(shop: Shop) -> None:
    shop.store.create_coupon({"code": "ship", "free_shipping": True})
    free = shop.order(coupon_code="ship")
    virtual = shop.order(items=[(shop.gift, 1)])
    assert (free["shipping_lines"][0]["method_id"], free["shipping_total"]) == (
        "free_shipping",
        "0.00",
    )
    # a gift card is virtual but not downloadable, so WooCommerce still processes the order
    assert (virtual["shipping_lines"], virtual["needs_processing"]) == ([], True)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"items": []}, "items"),
        ({"items": [(1, 0)]}, "items[0]"),
        ({"customer_id": 0}, "email"),
        ({"status": "shipped"}, "status"),
    ],
)
def test_bad_orders_are_refused_naming_the_field(
    shop: Shop, kwargs: dict[str, Any], field: str
) -> None:
    error = error_of(lambda: shop.order(**kwargs))
    assert (error.status, error.message) == (400, f"Invalid parameter(s): {field}")


def test_unknown_product_or_customer_is_refused(shop: Shop) -> None:
    assert (
        error_of(lambda: shop.order(items=[(99, 1)])).code == "woocommerce_rest_invalid_product_id"
    )
    assert (
        error_of(lambda: shop.order(customer_id=99)).code == "woocommerce_rest_invalid_customer_id"
    )


# ---- orders: lifecycle ----------------------------------------------------------------------


def test_paid_statuses_set_date_paid_and_completed_sets_date_completed(shop: Shop) -> None:
    pending = shop.order(status="pending")
    assert (pending["date_paid_gmt"], pending["needs_payment"], pending["is_editable"]) == (
        None,
        True,
        True,
    )
    shop.clock.advance(hours=2)
    completed = shop.store.set_order_status(pending["id"], "completed")
    assert completed["date_paid_gmt"] == completed["date_completed_gmt"] == "2024-03-01T15:00:00"
    assert (completed["needs_payment"], completed["is_editable"]) == (False, False)
    assert shop.store.get("customers", shop.jane)["is_paying_customer"] is True


def test_status_change_bumps_date_modified_and_the_same_status_changes_nothing(shop: Shop) -> None:
    order = shop.order()
    shop.clock.advance(minutes=10)
    same = shop.store.set_order_status(order["id"], "processing")
    assert same["date_modified_gmt"] == order["date_modified_gmt"]
    changed = shop.store.set_order_status(order["id"], "on-hold")
    assert changed["date_modified_gmt"] == "2024-03-01T13:10:00"
    assert changed["date_created_gmt"] == order["date_created_gmt"]


def test_invalid_status_is_a_400_listing_the_statuses(shop: Shop) -> None:
    order = shop.order()
    error = error_of(lambda: shop.store.set_order_status(order["id"], "shipped"))
    assert error.body()["data"]["params"]["status"] == (
        "status is not one of pending, processing, on-hold, completed, cancelled, refunded, and failed."
    )


def test_touch_order_bumps_date_modified_only(shop: Shop) -> None:
    order = shop.order()
    shop.clock.advance(seconds=30)
    touched = shop.store.touch_order(order["id"])
    assert touched["date_modified_gmt"] == "2024-03-01T13:00:30"
    assert {k: v for k, v in touched.items() if not k.startswith("date_modified")} == {
        k: v for k, v in order.items() if not k.startswith("date_modified")
    }


def test_update_order_changes_status_notes_and_meta(shop: Shop) -> None:
    order = shop.order(status="pending")
    shop.clock.advance(minutes=1)
    updated = shop.store.update_order(
        order["id"],
        {
            "status": "completed",
            "customer_note": "Leave at door",
            "meta_data": [{"key": "gift", "value": "yes"}],
            "billing": {"phone": "555"},
        },
    )
    assert (updated["status"], updated["customer_note"], updated["billing"]["phone"]) == (
        "completed",
        "Leave at door",
        "555",
    )
    assert [m["key"] for m in updated["meta_data"]] == ["is_vat_exempt", "gift"]
    assert updated["date_modified_gmt"] == "2024-03-01T13:01:00"


def test_set_paid_moves_an_unpaid_order_to_processing(shop: Shop) -> None:
    order = shop.order(status="pending")
    paid = shop.store.update_order(order["id"], {"set_paid": True})
    assert (paid["status"], paid["date_paid_gmt"] is not None) == ("processing", True)


@pytest.mark.parametrize(
    "body",
    [
        {"status": "done"},
        {"customer_id": 777},
        {"billing": {"email": "nope"}},
        {"customer_note": 5},
    ],
)
def test_bad_order_update_is_a_400_and_changes_nothing(shop: Shop, body: dict[str, Any]) -> None:
    order = shop.order()
    assert error_of(lambda: shop.store.update_order(order["id"], body)).status == 400
    assert shop.store.get("orders", order["id"]) == order


def test_update_of_a_missing_order_is_400(shop: Shop) -> None:
    missing = error_of(lambda: shop.store.update_order(31337, {}))
    assert (missing.status, missing.code) == (400, "woocommerce_rest_shop_order_invalid_id")


def test_deleting_an_order_trashes_it_then_answers_410(shop: Shop) -> None:
    order = shop.order()
    shop.clock.advance(minutes=1)
    answered = shop.store.delete_order(order["id"], force=False)
    assert answered["status"] == "processing"
    trashed = shop.store.get("orders", order["id"])
    assert (trashed["status"], trashed["date_modified_gmt"]) == ("trash", "2024-03-01T13:01:00")
    assert shop.store.trashed_order_ids() == {order["id"]}
    error = error_of(lambda: shop.store.delete_order(order["id"], force=False))
    assert (error.status, error.code, error.message) == (
        410,
        "woocommerce_rest_already_trashed",
        "The shop_order has already been deleted.",
    )
    restored = shop.store.set_order_status(order["id"], "processing")
    assert restored["status"] == "processing"
    assert shop.store.trashed_order_ids() == set()


def test_force_deleting_an_order_removes_it_and_its_refunds(shop: Shop) -> None:
    order = shop.order()
    refund = shop.store.refund_order(order["id"], amount=Decimal(1))
    shop.store.delete_order(order["id"], force=True)
    assert error_of(lambda: shop.store.get("orders", order["id"])).status == 404
    assert error_of(lambda: shop.store.get("refunds", refund["id"])).status == 404
    assert shop.store.trashed_order_ids() == set()


# ---- refunds ----------------------------------------------------------------------------------


def test_partial_refund_by_amount_is_embedded_negative_and_bumps_the_order(shop: Shop) -> None:
    order = shop.order()
    shop.clock.advance(days=2)
    refund = shop.store.refund_order(order["id"], amount=Decimal("4.5"), reason="Late")
    after = shop.store.get("orders", order["id"])
    assert (refund["amount"], refund["reason"], refund["line_items"]) == ("4.50", "Late", [])
    assert after["refunds"] == [{"id": refund["id"], "reason": "Late", "total": "-4.50"}]
    assert after["total"] == order["total"]  # refunds never reduce the order total
    assert (after["status"], after["date_modified_gmt"]) == ("processing", "2024-03-03T13:00:00")
    assert refund["date_created_gmt"] == "2024-03-03T13:00:00"


def test_refund_by_line_item_has_negative_quantity_and_totals_and_names_the_line(
    shop: Shop,
) -> None:
    order = shop.order(items=[(shop.coffee, 3)])
    line = order["line_items"][0]
    refund = shop.store.refund_order(order["id"], lines=[(line["id"], 1)])
    refunded = refund["line_items"][0]
    assert (refund["amount"], refunded["quantity"], refunded["total"], refunded["total_tax"]) == (
        "13.75",
        -1,
        "-12.50",
        "-1.25",
    )
    assert refunded["meta_data"][0]["key"] == "_refunded_item_id"
    assert refunded["meta_data"][0]["value"] == str(line["id"])
    assert refunded["price"] == 12.5  # total / quantity, both negative: positive
    assert refund["tax_lines"][0]["tax_total"] == "-1.25"


def test_refunding_every_unit_of_a_line_in_parts_refunds_its_total_exactly(shop: Shop) -> None:
    shop.store.create_coupon({"code": "third", "discount_type": "percent", "amount": "33"})
    order = shop.order(items=[(shop.oats, 3)], coupon_code="third")
    line = order["line_items"][0]
    parts = [shop.store.refund_order(order["id"], lines=[(line["id"], 1)]) for _ in range(3)]
    assert sum(-money(p["line_items"][0]["total"]) for p in parts) == money(line["total"])
    assert sum(-money(p["line_items"][0]["total_tax"]) for p in parts) == money(line["total_tax"])
    too_many = error_of(lambda: shop.store.refund_order(order["id"], lines=[(line["id"], 1)]))
    assert too_many.message == "Invalid parameter(s): lines"


def test_shipping_refund_has_a_negative_shipping_line_and_tax(shop: Shop) -> None:
    order = shop.order()
    refund = shop.store.refund_order(order["id"], shipping=True, reason="Late delivery")
    shipping = refund["shipping_lines"][0]
    assert (refund["amount"], shipping["total"], shipping["total_tax"]) == (
        "5.50",
        "-5.00",
        "-0.50",
    )
    assert shipping["meta_data"][0]["value"] == str(order["shipping_lines"][0]["id"])
    assert refund["tax_lines"][0]["shipping_tax_total"] == "-0.50"
    assert error_of(lambda: shop.store.refund_order(order["id"], shipping=True)).status == 400


def test_refunding_what_remains_sets_the_status_refunded(shop: Shop) -> None:
    order = shop.order()
    shop.store.refund_order(order["id"], amount=Decimal(10))
    shop.clock.advance(minutes=1)
    rest = shop.store.refund_order(order["id"])
    after = shop.store.get("orders", order["id"])
    assert rest["amount"] == "23.00"  # 33.00 total (25 + 2.50 tax + 5.50 shipping) - 10.00
    assert (after["status"], after["date_modified_gmt"]) == ("refunded", "2024-03-01T13:01:00")


def test_setting_status_refunded_refunds_the_remainder_as_woocommerce_does(shop: Shop) -> None:
    order = shop.order(status="completed")
    shop.store.refund_order(order["id"], amount=Decimal("2.50"))
    after = shop.store.set_order_status(order["id"], "refunded")
    newest = shop.store.refunds_of(order["id"])[0]
    assert (newest["amount"], newest["reason"]) == ("30.50", "Order fully refunded.")
    assert len(after["refunds"]) == 2


@pytest.mark.parametrize(
    ("amount", "status", "code"),
    [
        (Decimal("33.01"), 500, "woocommerce_rest_cannot_create_order_refund"),
        (Decimal(-1), 400, "woocommerce_rest_invalid_order_refund"),
    ],
)
def test_refund_amount_must_be_positive_and_within_what_remains(
    shop: Shop, amount: Decimal, status: int, code: str
) -> None:
    order = shop.order()
    error = error_of(lambda: shop.store.refund_order(order["id"], amount=amount))
    assert (error.status, error.code) == (status, code)
    assert shop.store.get("orders", order["id"])["refunds"] == []


def test_refund_of_a_line_that_is_not_on_the_order_names_lines(shop: Shop) -> None:
    order = shop.order()
    error = error_of(lambda: shop.store.refund_order(order["id"], lines=[(123456, 1)]))
    assert error.body()["data"]["params"]["lines"].startswith("lines names item 123456")


def test_deleting_a_refund_leaves_the_order_modified_date_alone_as_woocommerce_does(
    shop: Shop,
) -> None:
    order = shop.order()
    refund = shop.store.refund_order(order["id"], amount=Decimal(3))
    modified = shop.store.get("orders", order["id"])["date_modified_gmt"]
    shop.clock.advance(days=1)
    shop.store.delete_refund(refund["id"])
    after = shop.store.get("orders", order["id"])
    assert (after["refunds"], after["date_modified_gmt"]) == ([], modified)
    assert error_of(lambda: shop.store.get("refunds", refund["id"])).code == (
        "woocommerce_rest_shop_order_refund_invalid_id"
    )


def test_refund_parent_and_refunds_of_list_newest_first(shop: Shop) -> None:
    order = shop.order()
    first = shop.store.refund_order(order["id"], amount=Decimal(1))
    second = shop.store.refund_order(order["id"], amount=Decimal(2))
    assert shop.store.refund_parent(second["id"]) == order["id"]
    assert [x["id"] for x in shop.store.refunds_of(order["id"])] == [second["id"], first["id"]]
    assert r.refund_with_parent(first, order["id"])["parent_id"] == order["id"]
    assert list(r.refund_with_parent(first, order["id"]))[:2] == ["id", "parent_id"]


# ---- reviews and comments ---------------------------------------------------------------------


def test_review_moderation_keeps_dates_and_updates_the_product_rating(shop: Shop) -> None:
    review = shop.store.add_review(
        product_id=shop.coffee, email="jane@example.com", name="Jane", rating=4, text="Nice"
    )
    assert (review["status"], review["review"], review["verified"]) == (
        "hold",
        "<p>Nice</p>\n",
        False,
    )
    assert shop.store.get("products", shop.coffee)["rating_count"] == 0
    shop.clock.advance(days=1)
    approved = shop.store.set_review_status(review["id"], "approved")
    assert approved["date_created_gmt"] == review["date_created_gmt"]
    product = shop.store.get("products", shop.coffee)
    assert (product["average_rating"], product["rating_count"]) == ("4.00", 1)
    shop.store.set_review_status(review["id"], "spam")
    assert shop.store.get("products", shop.coffee)["average_rating"] == "0.00"


@pytest.mark.parametrize(
    ("kwargs", "field"), [({"rating": 6}, "rating"), ({"status": "approve"}, "status")]
)
def test_bad_reviews_are_refused_naming_the_field(
    shop: Shop, kwargs: dict[str, Any], field: str
) -> None:
    args: dict[str, Any] = {
        "product_id": shop.coffee,
        "email": "a@example.com",
        "name": "A",
        "rating": 5,
        "text": "x",
    }
    error = error_of(lambda: shop.store.add_review(**{**args, **kwargs}))
    assert error.message == f"Invalid parameter(s): {field}"


def test_comments_reply_on_the_same_post_and_moderation_keeps_dates(shop: Shop) -> None:
    post = shop.store.add_post("Hello")
    other = shop.store.add_post("Other")
    first = shop.store.add_comment(
        post_id=post, email="a@example.com", name="A", text="Hi", status="approved"
    )
    reply = shop.store.add_comment(
        post_id=post,
        email="jane@example.com",
        name="Jane",
        text="Hey",
        author=shop.jane,
        parent=first["id"],
    )
    assert (reply["parent"], reply["author"], reply["author_email"]) == (
        first["id"],
        shop.jane,
        "jane@example.com",
    )
    assert reply["link"].endswith(f"/?p={post}#comment-{reply['id']}")
    wrong_post = error_of(
        lambda: shop.store.add_comment(
            post_id=other, email="b@example.com", name="B", text="x", parent=first["id"]
        )
    )
    assert wrong_post.message == "Invalid parameter(s): parent"
    shop.clock.advance(days=1)
    spammed = shop.store.set_comment_status(first["id"], "spam")
    assert (spammed["status"], spammed["date_gmt"]) == ("spam", first["date_gmt"])


def test_comment_on_an_unknown_post_or_without_author_data_is_refused(shop: Shop) -> None:
    post = shop.store.add_post("Hello")
    no_post = error_of(
        lambda: shop.store.add_comment(post_id=424242, email="a@example.com", name="A", text="x")
    )
    no_email = error_of(lambda: shop.store.add_comment(post_id=post, email="", name="A", text="x"))
    assert (no_post.status, no_post.code) == (403, "rest_comment_invalid_post_id")
    assert (no_email.status, no_email.code) == (400, "rest_comment_author_data_required")


# ---- persistence and concurrency ----------------------------------------------------------------


def busy_shop(shop: Shop) -> SandboxStore:
    store = shop.store
    store.update_customer(
        shop.jane,
        {"meta_data": [{"key": "wp_hidden", "value": "1"}, {"key": "tier", "value": "gold"}]},
    )
    store.create_coupon(
        {"code": "save5", "amount": "5", "meta_data": [{"key": "note", "value": "x"}]}
    )
    order = shop.order(coupon_code="save5", fee=Decimal(1))
    store.refund_order(order["id"], lines=[(order["line_items"][0]["id"], 1)], shipping=True)
    store.add_review(
        product_id=shop.oats,
        email="a@example.com",
        name="A",
        rating=5,
        text="Yum",
        status="approved",
    )
    store.add_comment(post_id=store.add_post("Post"), email="a@example.com", name="A", text="Hi")
    return store


def test_to_json_and_from_json_round_trip_byte_identical(shop: Shop) -> None:
    store = busy_shop(shop)
    text = store.to_json()
    restored = SandboxStore.from_json(text, clock=shop.clock)
    assert restored.to_json() == text
    assert restored.hidden_meta("customers", shop.jane) == store.hidden_meta("customers", shop.jane)


def test_a_restored_store_carries_on_with_fresh_ids_and_its_indexes(shop: Shop) -> None:
    store = busy_shop(shop)
    restored = SandboxStore.from_json(store.to_json(), clock=shop.clock)
    highest = max(
        o["id"] for o in store.all("orders") + store.all("refunds") + store.all("coupons")
    )
    order = restored.place_order(
        customer_id=shop.jane, items=[(shop.coffee, 1)], coupon_code="save5"
    )
    assert order["id"] > highest
    assert restored.customer_id_by_email("jane@example.com") == shop.jane
    assert error_of(lambda: restored.register_customer(email="jane@example.com")).status == 400


@pytest.mark.parametrize("text", ["not json", '{"format": "something-else"}', "[]"])
def test_from_json_refuses_other_data(text: str) -> None:
    with pytest.raises(ValueError, match="sandbox state"):
        SandboxStore.from_json(text)


def test_concurrent_shoppers_get_unique_ids(shop: Shop) -> None:
    ids: list[int] = []
    lock = threading.Lock()

    def shopper() -> None:
        for _ in range(25):
            order_id = shop.order()["id"]
            with lock:
                ids.append(order_id)

    threads = [threading.Thread(target=shopper) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(ids)) == 100
    assert shop.store.count("orders") == 100
