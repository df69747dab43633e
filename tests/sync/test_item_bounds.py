"""Items are parsed within documented bounds, and a broken item becomes a quarantine record."""

from __future__ import annotations

from typing import Any

import pytest

from loyalty.errors import InvalidSourceData
from sync.order_data import MAX_MONEY, parse_customer, parse_order
from sync.quarantine import MAX_PAYLOAD_CHARS, Quarantine, item_ref, parse_page
from sync.redaction import register_secret
from tests.sync.test_order_data import changed, sample

ORDER = sample("real-order.json")


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("total",), "1000000000000.01", "total"),
        (("total",), "-1000000000000.01", "total"),
        (("line_items", 0, "total"), "1" + "0" * 26 + ".00", "line_items[0].total"),
        (("id",), 2**63, "id"),
        (("line_items", 0, "quantity"), 10**30, "line_items[0].quantity"),
        (("customer_id",), 2**64, "customer_id"),
    ],
)
def test_amounts_and_integers_beyond_their_bounds_are_refused_naming_the_field(
    path: tuple[Any, ...], value: object, field: str
) -> None:
    with pytest.raises(InvalidSourceData) as raised:
        parse_order(changed(ORDER, path, value))
    assert raised.value.field == field


def test_an_amount_at_the_bound_is_accepted() -> None:
    assert parse_order(changed(ORDER, ("total",), f"{MAX_MONEY}.00")).total == MAX_MONEY


@pytest.mark.parametrize(
    ("raw", "field"),
    [(None, "(root)"), ({"id": "abc", "email": "a@b.c"}, "id"), ({"id": 3, "email": 5}, "email")],
)
def test_a_customer_needs_a_usable_id_and_a_string_email(raw: Any, field: str) -> None:
    with pytest.raises(InvalidSourceData) as raised:
        parse_customer(raw)
    assert raised.value.field == field


def test_a_page_splits_into_values_and_rejected_items_named_by_id_or_neighbour() -> None:
    page = [{"id": 4, "email": "x@y.z"}, None, {"id": None}, {"id": "abc"}, {"id": 9, "email": 5}]
    parsed, rejected = parse_page("customers", page, parse_customer)
    assert [value for value, _ in parsed] == [(4, "x@y.z")]
    refs = [r.ref for r in rejected]
    assert refs[2:] == ['id="abc"', "9"]
    assert refs[0].startswith("sha256:")
    assert refs[1].startswith("sha256:")
    assert refs[0] != refs[1]
    assert "after customers item 4" in rejected[0].reason
    assert item_ref(None) == item_ref(None), "the same broken content is one record"


def test_a_stored_item_keeps_no_secret_and_stays_within_the_bound() -> None:
    register_secret("ck_live_secret_key")  # as the sync registers the store's credentials
    quarantine = Quarantine(1)
    raw = {
        "note": "ck_live_secret_key and Bearer abc.def.ghi123456789 and cs_0123456789abcdef",
        "meta_data": [{"key": "_stripe_token", "value": "tok_1"}, {"key": "color", "value": "red"}],
        "password": "hunter22",
        "nested": [[[[{"deep": "x" * 50_000}]]]],
    }
    payload, size = quarantine.payload(raw)
    for secret in (
        "ck_live_secret_key",
        "abc.def.ghi123456789",
        "cs_0123456789abcdef",
        "tok_1",
        "hunter22",
    ):
        assert secret not in payload
    assert '"red"' in payload
    assert size > 50_000
    assert len(payload) <= MAX_PAYLOAD_CHARS + 20
    deep: Any = "bottom"
    for _ in range(5_000):
        deep = [deep]
    assert "too deep" in quarantine.payload(deep)[0]
