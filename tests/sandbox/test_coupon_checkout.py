"""Checkout with a coupon enforces what WooCommerce enforces: usage limits, email restrictions,
expiry; and counts the use (usage_count, used_by)."""

from __future__ import annotations

from tests.sandbox.test_store import Shop, error_of, shop  # noqa: F401 # the fixture


def test_a_one_use_coupon_counts_its_use_and_refuses_a_second_order(shop: Shop) -> None:  # noqa: F811
    coupon = shop.store.create_coupon(
        {"code": "once", "amount": "5", "discount_type": "fixed_cart", "usage_limit": 1}
    )
    first = shop.order(coupon_code="once", status="completed")
    used = shop.store.get("coupons", coupon["id"])
    assert (used["usage_count"], used["used_by"]) == (1, [str(shop.jane)])
    assert [line["code"] for line in first["coupon_lines"]] == ["once"]

    again = error_of(lambda: shop.order(customer_id=0, email="amy@example.com", coupon_code="once"))

    assert (again.code, again.message) == (
        "woocommerce_rest_invalid_coupon",
        "Coupon usage limit has been reached.",
    )


def test_the_per_user_limit_counts_that_customer_only(shop: Shop) -> None:  # noqa: F811
    shop.store.create_coupon({"code": "each", "amount": "5", "usage_limit_per_user": 1})
    shop.order(coupon_code="each")

    mine = error_of(lambda: shop.order(coupon_code="each"))
    guest = shop.order(customer_id=0, email="amy@example.com", coupon_code="each")

    assert mine.message == "Coupon usage limit has been reached."
    assert [line["code"] for line in guest["coupon_lines"]] == ["each"]


def test_an_email_restricted_coupon_is_refused_to_anyone_else(shop: Shop) -> None:  # noqa: F811
    shop.store.create_coupon(
        {"code": "janes", "amount": "5", "email_restrictions": ["Jane@Example.com"]}
    )
    shop.store.create_coupon(
        {"code": "staff", "amount": "5", "email_restrictions": ["*@shop.test"]}
    )

    other = error_of(
        lambda: shop.order(customer_id=0, email="amy@example.com", coupon_code="janes")
    )
    janes = shop.order(coupon_code="janes")
    staff = shop.order(customer_id=0, email="bob@shop.test", coupon_code="staff")

    assert (other.code, other.message) == (
        "woocommerce_rest_invalid_coupon",
        'Sorry, it seems the coupon "janes" is not yours.',
    )
    assert [line["code"] for line in janes["coupon_lines"]] == ["janes"]
    assert [line["code"] for line in staff["coupon_lines"]] == ["staff"]


def test_a_coupon_past_its_expiry_is_refused_at_checkout(shop: Shop) -> None:  # noqa: F811
    shop.store.create_coupon(
        {"code": "soon", "amount": "5", "date_expires_gmt": "2024-03-02T12:00:00"}
    )
    shop.order(coupon_code="soon")
    shop.clock.advance(days=2)

    expired = error_of(lambda: shop.order(coupon_code="soon"))

    assert expired.message == "This coupon has expired."
