"""Every documented listing filter, checked against the store's own data (../shared/woocommerce-api.md)."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from sandbox.server import SandboxServer
from sandbox.store import SandboxStore
from tests.sandbox.conftest import WP_PASSWORD, WP_USER, wp

Json = dict[str, Any]


def get(server: SandboxServer, route: str, **params: Any) -> requests.Response:
    """GET a wc/v3 route as the administrator (Application Password: quick and unsigned)."""
    return requests.get(
        f"{server.api_url}/wc/v3/{route}", params=params, auth=(WP_USER, WP_PASSWORD), timeout=30
    )


def ids(response: requests.Response) -> list[int]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()]


def by_id(objs: list[Json]) -> list[int]:
    return sorted(o["id"] for o in objs)


# --- orders -------------------------------------------------------------------------------------


def test_orders_default_to_status_any_which_excludes_trash(
    shared_server: SandboxServer, shared_store: SandboxStore
) -> None:
    orders = shared_store.all("orders")
    assert any(o["status"] == "trash" for o in orders)
    listed = ids(get(shared_server, "orders", per_page=100, orderby="id"))
    listed += ids(get(shared_server, "orders", per_page=100, orderby="id", page=2))
    assert sorted(listed) == by_id([o for o in orders if o["status"] != "trash"])


def test_orders_status_any_anywhere_in_the_list_wins_and_trash_needs_its_own_listing(
    shared_server: SandboxServer, shared_store: SandboxStore
) -> None:
    orders = shared_store.all("orders")
    trash = ids(get(shared_server, "orders", status="trash"))
    assert trash == by_id([o for o in orders if o["status"] == "trash"])
    mixed = get(shared_server, "orders", status="trash,any", per_page=1)
    assert mixed.headers["X-WP-Total"] == str(sum(o["status"] != "trash" for o in orders))


def test_orders_filter_by_a_comma_list_of_statuses(
    shared_server: SandboxServer, shared_store: SandboxStore
) -> None:
    wanted = {"refunded", "cancelled"}
    listed = ids(get(shared_server, "orders", status="refunded,cancelled", per_page=100))
    assert sorted(listed) == by_id([o for o in shared_store.all("orders") if o["status"] in wanted])


def test_orders_status_as_a_php_array_works_too(
    shared_server: SandboxServer, shared_store: SandboxStore
) -> None:
    response = get(shared_server, "orders", **{"status[]": ["failed", "pending"]}, per_page=100)
    expected = [o for o in shared_store.all("orders") if o["status"] in ("failed", "pending")]
    assert sorted(ids(response)) == by_id(expected)


def test_orders_filter_by_customer_and_customer_zero_lists_guest_orders(
    shared_server: SandboxServer, shared_store: SandboxStore
) -> None:
    orders = [o for o in shared_store.all("orders") if o["status"] != "trash"]
    customer = next(o["customer_id"] for o in orders if o["customer_id"])
    listed = ids(get(shared_server, "orders", customer=customer, per_page=100))
    assert sorted(listed) == by_id([o for o in orders if o["customer_id"] == customer])
    guests = ids(get(shared_server, "orders", customer=0, per_page=100))
    assert sorted(guests) == by_id([o for o in orders if o["customer_id"] == 0])


def test_orders_filter_by_product(shared_server: SandboxServer, shared_store: SandboxStore) -> None:
    orders = [o for o in shared_store.all("orders") if o["status"] != "trash"]
    product = orders[0]["line_items"][0]["product_id"]
    expected = [o for o in orders if any(li["product_id"] == product for li in o["line_items"])]
    assert sorted(ids(get(shared_server, "orders", product=product, per_page=100))) == by_id(
        expected
    )


def test_orders_include_exclude_and_orderby_include(
    shared_server: SandboxServer, shared_store: SandboxStore
) -> None:
    chosen = [o["id"] for o in shared_store.all("orders") if o["status"] != "trash"][:6]
    wanted = [chosen[3], chosen[0], chosen[5]]
    include = ",".join(map(str, wanted))
    assert ids(get(shared_server, "orders", include=include, orderby="include")) == wanted
    listed = ids(get(shared_server, "orders", include=include, exclude=str(chosen[0])))
    assert sorted(listed) == sorted([chosen[3], chosen[5]])


def test_orders_order_and_orderby_date_break_ties_by_id(
    shared_server: SandboxServer, shared_store: SandboxStore
) -> None:
    orders = [o for o in shared_store.all("orders") if o["status"] != "trash"]
    newest = sorted(orders, key=lambda o: (o["date_created_gmt"], o["id"]), reverse=True)
    assert ids(get(shared_server, "orders", per_page=10)) == [o["id"] for o in newest[:10]]
    oldest = ids(get(shared_server, "orders", per_page=10, order="asc", orderby="date"))
    assert oldest == [o["id"] for o in newest[::-1][:10]]


def test_orders_offset_wins_over_page(shared_server: SandboxServer) -> None:
    everything = ids(get(shared_server, "orders", orderby="id", order="asc", per_page=30))
    shifted = ids(
        get(shared_server, "orders", orderby="id", order="asc", per_page=5, offset=7, page=3)
    )
    assert shifted == everything[7:12]


def test_orders_modified_after_and_before_are_exclusive_on_gmt_dates(
    shared_server: SandboxServer, shared_store: SandboxStore
) -> None:
    orders = sorted(
        (o for o in shared_store.all("orders") if o["status"] != "trash"),
        key=lambda o: o["date_modified_gmt"],
    )
    low, high = orders[10]["date_modified_gmt"], orders[20]["date_modified_gmt"]
    params = {"modified_after": low, "modified_before": high, "dates_are_gmt": "true"}
    listed = ids(get(shared_server, "orders", per_page=100, **params))
    expected = [o for o in orders if low < o["date_modified_gmt"] < high]
    assert sorted(listed) == by_id(expected)
    assert orders[10]["id"] not in listed
    assert orders[20]["id"] not in listed


def test_orders_after_and_before_compare_site_local_dates_unless_dates_are_gmt(
    shared_server: SandboxServer, shared_store: SandboxStore
) -> None:
    orders = [o for o in shared_store.all("orders") if o["status"] != "trash"]
    edge = sorted(o["date_created"] for o in orders)[len(orders) // 2]
    local = ids(get(shared_server, "orders", after=edge, per_page=100))
    assert sorted(local) == by_id([o for o in orders if o["date_created"] > edge])
    gmt = ids(get(shared_server, "orders", after=edge, dates_are_gmt="true", per_page=100))
    assert sorted(gmt) == by_id([o for o in orders if o["date_created_gmt"] > edge])
    before = ids(get(shared_server, "orders", before=edge, per_page=100))
    assert sorted(before) == by_id([o for o in orders if o["date_created"] < edge])


def test_a_zoned_date_is_converted_to_site_time_as_wordpress_does(
    shared_server: SandboxServer, shared_store: SandboxStore
) -> None:
    """With dates_are_gmt, `Z` is still converted to the site's time (UTC-3): a 3-hour shift."""
    orders = [o for o in shared_store.all("orders") if o["status"] != "trash"]
    edge = sorted(o["date_modified_gmt"] for o in orders)[len(orders) // 2]
    zoned = get(
        shared_server, "orders", modified_after=f"{edge}Z", dates_are_gmt="true", per_page=100
    )
    shifted = ids(zoned)
    naive = ids(
        get(shared_server, "orders", modified_after=edge, dates_are_gmt="true", per_page=100)
    )
    assert set(naive) <= set(shifted)


def test_orders_search_matches_the_order_number(
    shared_server: SandboxServer, shared_store: SandboxStore
) -> None:
    order = next(o for o in shared_store.all("orders") if o["status"] != "trash")
    assert order["id"] in ids(get(shared_server, "orders", search=order["number"]))


# --- refunds ------------------------------------------------------------------------------------


def test_store_wide_refunds_list_every_refund_with_its_parent_id(
    shared_server: SandboxServer, shared_store: SandboxStore
) -> None:
    response = get(shared_server, "refunds", per_page=100)
    refunds = shared_store.all("refunds")
    assert sorted(ids(response)) == by_id(refunds)
    for item in response.json():
        assert item["parent_id"] == shared_store.refund_parent(item["id"])
        assert list(item)[:2] == ["id", "parent_id"]


def test_refunds_filter_by_include_and_ignore_parent_as_woocommerce_does(
    shared_server: SandboxServer, shared_store: SandboxStore
) -> None:
    refunds = shared_store.all("refunds")
    chosen = [r["id"] for r in refunds[:3]]
    assert sorted(ids(get(shared_server, "refunds", include=",".join(map(str, chosen))))) == chosen
    parent = shared_store.refund_parent(chosen[0])
    ignored = get(shared_server, "refunds", parent=parent, per_page=100)
    assert ignored.headers["X-WP-Total"] == str(len(refunds))
    excluded = ids(get(shared_server, "refunds", parent_exclude=parent, per_page=100))
    assert all(shared_store.refund_parent(i) != parent for i in excluded)


def test_order_refunds_route_lists_one_orders_refunds_and_gets_one(
    shared_server: SandboxServer, shared_store: SandboxStore
) -> None:
    refund = shared_store.all("refunds")[0]
    parent = shared_store.refund_parent(refund["id"])
    listed = ids(get(shared_server, f"orders/{parent}/refunds"))
    assert sorted(listed) == by_id(shared_store.refunds_of(parent))
    one = get(shared_server, f"orders/{parent}/refunds/{refund['id']}")
    assert one.json()["amount"] == refund["amount"]
    other = next(o["id"] for o in shared_store.all("orders") if o["id"] != parent)
    wrong = get(shared_server, f"orders/{other}/refunds/{refund['id']}")
    assert (wrong.status_code, wrong.json()["code"]) == (
        404,
        "woocommerce_rest_invalid_order_refund_id",
    )


# --- customers, coupons, products ---------------------------------------------------------------


def test_customers_default_to_role_customer_ordered_by_name_ascending(
    shared_server: SandboxServer, shared_store: SandboxStore
) -> None:
    response = get(shared_server, "customers", per_page=100)
    names = [
        " ".join(n for n in (c["first_name"], c["last_name"]) if n).lower() or c["username"]
        for c in response.json()
    ]
    assert names == sorted(names)
    assert response.headers["X-WP-Total"] == str(len(shared_store.all("customers")))
    assert ids(get(shared_server, "customers", role="administrator")) == []
    everyone = ids(
        get(shared_server, "customers", role="all", orderby="id", order="desc", per_page=100)
    )
    assert everyone == sorted((c["id"] for c in shared_store.all("customers")), reverse=True)


def test_customers_filter_by_exact_email_ignoring_case(
    shared_server: SandboxServer, shared_store: SandboxStore
) -> None:
    customer = shared_store.all("customers")[3]
    assert ids(get(shared_server, "customers", email=customer["email"].upper())) == [customer["id"]]
    assert ids(get(shared_server, "customers", email="nobody@example.org")) == []


def test_customers_search_matches_part_of_a_name(
    shared_server: SandboxServer, shared_store: SandboxStore
) -> None:
    customer = shared_store.all("customers")[5]
    assert customer["id"] in ids(get(shared_server, "customers", search=customer["last_name"][:4]))


def test_coupons_code_filter_finds_published_coupons_only(
    shared_server: SandboxServer, shared_store: SandboxStore
) -> None:
    coupons = shared_store.all("coupons")
    published = next(c for c in coupons if c["status"] == "publish")
    assert ids(get(shared_server, "coupons", code=published["code"].upper())) == [published["id"]]
    draft = next(c for c in coupons if c["status"] != "publish")
    assert ids(get(shared_server, "coupons", code=draft["code"])) == []
    assert ids(get(shared_server, "coupons", code="no-such-code")) == []


def test_products_filter_by_include_and_category(
    shared_server: SandboxServer, shared_store: SandboxStore
) -> None:
    products = shared_store.all("products")
    chosen = [p["id"] for p in products[:4]]
    assert sorted(ids(get(shared_server, "products", include=",".join(map(str, chosen))))) == chosen
    category = products[0]["categories"][0]["id"]
    expected = [p for p in products if any(c["id"] == category for c in p["categories"])]
    listed = ids(get(shared_server, "products", category=str(category), per_page=100))
    assert sorted(listed) == by_id(expected)
    assert get(shared_server, "products", per_page=1).json()[0]["categories"][0].keys() == {
        "id",
        "name",
        "slug",
    }


# --- reviews and comments -----------------------------------------------------------------------


def test_reviews_default_to_approved_and_filter_by_status_product_and_email(
    shared_server: SandboxServer, shared_store: SandboxStore
) -> None:
    reviews = shared_store.all("reviews")
    default = ids(get(shared_server, "products/reviews", per_page=100))
    assert sorted(default) == by_id([r for r in reviews if r["status"] == "approved"])
    every = ids(get(shared_server, "products/reviews", status="all", per_page=100))
    assert sorted(every) == by_id([r for r in reviews if r["status"] in ("approved", "hold")])
    spam = ids(get(shared_server, "products/reviews", status="spam", per_page=100))
    assert sorted(spam) == by_id([r for r in reviews if r["status"] == "spam"])
    review = reviews[0]
    mine = ids(
        get(
            shared_server,
            "products/reviews",
            product=review["product_id"],
            reviewer_email=review["reviewer_email"],
            status="all",
        )
    )
    expected = [
        r
        for r in reviews
        if r["product_id"] == review["product_id"]
        and r["reviewer_email"] == review["reviewer_email"]
        and r["status"] in ("approved", "hold")
    ]
    assert sorted(mine) == by_id(expected)


def test_comments_filter_by_post_parent_type_status_and_dates(
    shared_server: SandboxServer, shared_store: SandboxStore
) -> None:
    comments = blog_comments(shared_store)
    post = comments[0]["post"]
    on_post = ids(wp(shared_server, "comments", post=post, per_page=100))
    assert sorted(on_post) == by_id(
        [c for c in comments if c["post"] == post and c["status"] == "approved"]
    )
    reply = next(c for c in comments if c["parent"])
    replies = ids(
        wp(shared_server, "comments", moderator=True, parent=reply["parent"], status="any")
    )
    assert reply["id"] in replies
    held = ids(wp(shared_server, "comments", moderator=True, status="hold", per_page=100))
    assert sorted(held) == by_id([c for c in comments if c["status"] == "hold"])
    every = ids(wp(shared_server, "comments", moderator=True, status="all", per_page=100))
    assert sorted(every) == by_id([c for c in comments if c["status"] in ("approved", "hold")])
    assert ids(wp(shared_server, "comments", moderator=True, type="pingback")) == []
    edge = sorted(c["date"] for c in comments)[len(comments) // 2]
    after = ids(
        wp(shared_server, "comments", moderator=True, status="any", after=edge, per_page=100)
    )
    assert sorted(after) == by_id([c for c in comments if c["date"] > edge])


def test_comments_page_past_the_end_is_wordpress_400(shared_server: SandboxServer) -> None:
    response = wp(shared_server, "comments", page=99)
    assert response.status_code == 400
    assert response.json()["code"] == "rest_comment_invalid_page_number"


# --- argument validation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "name", "code", "message"),
    [
        ({"page": "0"}, "page", "rest_out_of_bounds", "page must be greater than or equal to 1"),
        ({"page": "abc"}, "page", "rest_invalid_type", "page is not of type integer."),
        ({"order": "sideways"}, "order", "rest_not_in_enum", "order is not one of asc and desc."),
        ({"after": "yesterday"}, "after", "rest_invalid_date", "Invalid date."),
        (
            {"dates_are_gmt": "maybe"},
            "dates_are_gmt",
            "rest_invalid_type",
            "dates_are_gmt is not of type boolean.",
        ),
        ({"include": "1,x"}, "include", "rest_invalid_type", "include[1] is not of type integer."),
    ],
)
def test_bad_arguments_get_wordpress_messages_naming_them(
    shared_server: SandboxServer, params: dict[str, str], name: str, code: str, message: str
) -> None:
    response = get(shared_server, "orders", **params)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "rest_invalid_param"
    assert body["message"] == f"Invalid parameter(s): {name}"
    assert body["data"]["params"] == {name: message}
    assert body["data"]["details"][name]["code"] == code


def test_unknown_order_status_lists_the_allowed_ones(shared_server: SandboxServer) -> None:
    body = get(shared_server, "orders", status="shipped").json()
    assert body["data"]["params"]["status"].startswith(
        "status[0] is not one of any, trash, pending"
    )


def test_every_bad_argument_is_reported_at_once(shared_server: SandboxServer) -> None:
    body = get(shared_server, "orders", per_page="0", order="up").json()
    assert body["message"] == "Invalid parameter(s): per_page, order"
    assert set(body["data"]["params"]) == {"per_page", "order"}


def test_unknown_route_is_rest_no_route(shared_server: SandboxServer) -> None:
    response = get(shared_server, "webhooks")
    assert response.status_code == 404
    assert response.json() == {
        "code": "rest_no_route",
        "message": "No route was found matching the URL and request method",
        "data": {"status": 404},
    }


def blog_comments(store: SandboxStore) -> list[dict[str, Any]]:
    """The blog's comments: the comments table holds reviews too (type "review")."""
    return [c for c in store.all("comments") if c["type"] == "comment"]
