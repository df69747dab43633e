"""`_fields`, as WordPress trims every REST answer (`rest_filter_response_fields`, wp-includes/rest-api.php)."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from sandbox.fields import filtered, requested
from sandbox.server import SandboxServer
from tests.sandbox.conftest import WP_PASSWORD, WP_USER


def get(server: SandboxServer, route: str, **params: Any) -> requests.Response:
    return requests.get(
        f"{server.api_url}/wc/v3/{route}", params=params, auth=(WP_USER, WP_PASSWORD), timeout=30
    )


def test_a_listing_keeps_only_the_fields_asked_for_and_loses_its_links(
    shared_server: SandboxServer,
) -> None:
    whole = get(shared_server, "orders", per_page=5, orderby="id").json()
    answer = get(shared_server, "orders", per_page=5, orderby="id", _fields="id, status,total")
    assert answer.status_code == 200
    assert answer.json() == [
        {"id": o["id"], "status": o["status"], "total": o["total"]} for o in whole
    ]
    assert answer.headers["X-WP-Total"] == get(shared_server, "orders").headers["X-WP-Total"]


def test_a_dotted_field_descends_into_an_object_but_never_into_a_list(
    shared_server: SandboxServer,
) -> None:
    whole = get(shared_server, "orders", per_page=3, orderby="id").json()
    fields = "billing.email,line_items.product_id,_links.self"
    trimmed = get(shared_server, "orders", per_page=3, orderby="id", _fields=fields).json()
    for order, got in zip(whole, trimmed, strict=True):
        assert got == {
            "billing": {"email": order["billing"]["email"]},
            "line_items": [],  # PHP matches a list's keys 0, 1, ... against `product_id`
            "_links": {"self": order["_links"]["self"]},
        }


def test_one_object_keeps_its_links_which_are_added_after_the_filter(
    shared_server: SandboxServer,
) -> None:
    first = get(shared_server, "customers", per_page=1, orderby="id").json()[0]
    got = get(shared_server, f"customers/{first['id']}", _fields="id,email").json()
    assert got == {"id": first["id"], "email": first["email"], "_links": first["_links"]}


def test_an_error_is_never_trimmed_and_an_empty_list_trims_nothing(
    shared_server: SandboxServer,
) -> None:
    error = get(shared_server, "orders/999999", _fields="id")
    assert error.status_code == 404
    assert set(error.json()) >= {"code", "message", "data"}
    whole = get(shared_server, "refunds", per_page=2, orderby="id")
    assert get(shared_server, "refunds", per_page=2, orderby="id", _fields=" , ").json() == (
        whole.json()
    )


@pytest.mark.parametrize(
    ("raw", "spec"),
    [
        ("id,billing.email", {"id": True, "billing": {"email": True}}),
        ("id billing", {"id": True, "billing": True}),  # whitespace separates too
        (["id", "status"], {"id": True, "status": True}),  # _fields[]=id&_fields[]=status
        ({"0": "id", "1": "status"}, {"id": True, "status": True}),
        ("billing,billing.email", {"billing": True}),  # the parent kept whole
        ("billing,billing.email,id", {"billing": True}),  # and nothing after it (`break 2`)
        ("id,billing.email,billing", {"id": True, "billing": True}),
        ("billing.email,billing", {"billing": True}),
        ("", None),
        (None, None),
    ],
)
def test_the_parameter_is_read_as_wordpress_reads_it(raw: Any, spec: Any) -> None:
    assert requested(raw) == spec


def test_a_list_position_named_keeps_that_item_and_an_object_left_empty_is_an_empty_array() -> None:
    data = [{"lines": [{"a": 1}, {"a": 2}], "x": 1}]
    assert filtered(data, {"lines": {"0": True}}) == [{"lines": [{"a": 1}]}]
    assert filtered(data, {"lines": {"1": True}}) == [{"lines": {"1": {"a": 2}}}]
    assert filtered(data, {"nothing": True}) == [[]]
