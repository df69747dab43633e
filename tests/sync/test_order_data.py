"""Strict parsing of order and refund JSON, against WooCommerce's own sample payloads and broken copies."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import pytest

from loyalty.errors import InvalidSourceData
from rules.types import OrderLine, Refund, RefundLine
from sync.order_data import (
    _AMOUNTS,
    _AMOUNTS_MAX,
    _money_field,
    parse_order,
    parse_refund,
    refund_totals_from_order,
)
from tests.samples import WOOCOMMERCE_SAMPLES

SAMPLES = WOOCOMMERCE_SAMPLES
D = Decimal
MISSING = object()  # in the tables below: delete the field instead of setting it


def sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))


def changed(raw: Any, path: tuple[str | int, ...], value: object) -> Any:
    """A deep copy of `raw` with the field at `path` set to `value` (or removed for MISSING)."""
    result = copy.deepcopy(raw)
    parent = result
    for step in path[:-1]:
        parent = parent[step]
    if value is MISSING:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return result


ORDER_SAMPLES = [
    ("order.json", None),
    ("order-create-response.json", None),
    ("real-order.json", None),
    ("orders-list.json", 0),
    ("orders-list.json", 1),
]
REFUND_SAMPLES = [
    ("order-refund.json", None),
    ("real-order-refund.json", None),
    ("order-refunds-list.json", 0),
    ("order-refunds-list.json", 1),
]


@pytest.mark.parametrize(("name", "index"), ORDER_SAMPLES)
def test_every_sample_order_parses_with_aware_utc_times(name: str, index: int | None) -> None:
    raw = sample(name) if index is None else sample(name)[index]

    order = parse_order(raw)

    assert order.order_id == raw["id"]
    assert order.created_at.tzinfo is UTC
    assert order.modified_at.tzinfo is UTC
    assert order.total == D(raw["total"])
    assert len(order.lines) == len(raw["line_items"])


@pytest.mark.parametrize(("name", "index"), REFUND_SAMPLES)
def test_every_sample_refund_parses_with_positive_amounts(name: str, index: int | None) -> None:
    raw = sample(name) if index is None else sample(name)[index]

    refund = parse_refund(raw)

    assert refund.refund_id == raw["id"]
    assert refund.amount == D(raw["amount"]) > 0
    assert all(line.total >= 0 and line.quantity >= 0 for line in refund.lines)


def test_order_sample_fields_are_read_from_the_strings_and_gmt_fields() -> None:
    order = parse_order(sample("order.json"))

    assert (order.order_id, order.status, order.customer_id) == (727, "processing", 0)
    assert order.billing_email == "john.doe@example.com"
    assert order.created_at == datetime(2017, 3, 22, 19, 28, 2, tzinfo=UTC)  # _gmt, not local
    assert order.modified_at == datetime(2017, 3, 22, 19, 28, 8, tzinfo=UTC)
    assert (order.total, order.total_tax) == (D("29.35"), D("1.35"))
    assert (order.shipping_total, order.shipping_tax) == (D("10.00"), D("0.00"))
    assert (order.fee_total, order.fee_tax, order.discount_total) == (D(0), D(0), D("0.00"))
    assert order.lines == (
        OrderLine(315, 93, 0, 2, D("6.00"), D("6.00"), D("0.45"), name="Woo Single #1"),
        OrderLine(
            316,
            22,
            23,
            1,
            D("12.00"),
            D("12.00"),
            D("0.90"),
            name="Ship Your Idea – Color: Black, Size: M Test",
        ),  # unescaped
    )
    assert (order.coupon_codes, order.refunds) == ((), ())


def test_real_order_carries_its_coupon_codes_and_embedded_refunds() -> None:
    raw = sample("real-order.json")

    order = parse_order(raw)

    assert order.coupon_codes == ("test10off",)
    assert order.refunds == (Refund(refund_id=60, amount=D("10.00")),)
    assert refund_totals_from_order(raw) == {60: D("10.00")}


def test_refund_totals_from_order_are_positive_and_ignore_the_reason_field() -> None:
    listed = sample("orders-list.json")[1]  # the docs spell the reason key "refund" here

    assert refund_totals_from_order(listed) == {726: D("10.00"), 724: D("9.00")}
    assert refund_totals_from_order(sample("order.json")) == {}


def test_real_refund_line_points_at_the_order_line_it_refunds() -> None:
    refund = parse_refund(sample("real-order-refund.json"))

    assert refund == Refund(
        refund_id=60,
        amount=D("10.00"),
        lines=(RefundLine(refunded_item_id=2, quantity=0, total=D("10.00"), total_tax=D("0.00")),),
    )
    assert refund.itemised


def test_refund_without_shipping_or_fee_lines_keys_refunds_none_of_them() -> None:
    refund = parse_refund(sample("order-refunds-list.json")[1])

    assert refund.lines == (RefundLine(311, 1, D("9.00"), D("0.00")),)
    assert (refund.shipping_total, refund.shipping_tax, refund.fee_total, refund.fee_tax) == (
        D(0),
        D(0),
        D(0),
        D(0),
    )
    assert not parse_refund(sample("order-refund.json")).itemised


def test_refunded_shipping_and_fees_become_positive_totals() -> None:
    raw = sample("real-order-refund.json")
    raw["shipping_lines"] = [
        {"id": 5, "total": "-5.00", "total_tax": "-0.50", "meta_data": []},
        {"id": 6, "total": "-1.25", "total_tax": "0.00", "meta_data": []},
    ]
    raw["fee_lines"] = [{"id": 7, "total": "-2.00", "total_tax": "-0.20", "meta_data": []}]

    refund = parse_refund(raw)

    assert (refund.shipping_total, refund.shipping_tax) == (D("6.25"), D("0.50"))
    assert (refund.fee_total, refund.fee_tax) == (D("2.00"), D("0.20"))


def test_fee_totals_sum_the_fee_lines_including_negative_ones() -> None:
    raw = sample("order.json")
    raw["fee_lines"] = [
        {"id": 1, "name": "Gift wrap", "total": "4.00", "total_tax": "0.40"},
        {"id": 2, "name": "Loyal discount", "total": "-1.50", "total_tax": "-0.15"},
    ]

    order = parse_order(raw)

    assert (order.fee_total, order.fee_tax) == (D("2.50"), D("0.25"))


@pytest.mark.parametrize(
    ("email", "expected"),
    [(" Ann.Lee@Example.COM ", "ann.lee@example.com"), ("", "")],
)
def test_billing_email_is_lowercased_and_stripped(email: str, expected: str) -> None:
    raw = changed(sample("order.json"), ("billing", "email"), email)

    assert parse_order(raw).billing_email == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-03-01T10:20:30", datetime(2024, 3, 1, 10, 20, 30, tzinfo=UTC)),
        ("2024-03-01T10:20:30Z", datetime(2024, 3, 1, 10, 20, 30, tzinfo=UTC)),
        ("2024-03-01T12:20:30+02:00", datetime(2024, 3, 1, 10, 20, 30, tzinfo=UTC)),
    ],
)
def test_gmt_times_become_aware_utc(value: str, expected: datetime) -> None:
    raw = changed(sample("order.json"), ("date_modified_gmt",), value)

    assert parse_order(raw).modified_at == expected


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            ("line_items", 1, "total"),
            "abc",
            'line_items[1].total: expected a money string like "12.50", got "abc"',
        ),
        (("total",), 29.35, 'total: expected a money string like "12.50", got 29.35 (a number)'),
        (("total",), 29, 'total: expected a money string like "12.50", got 29 (a number)'),
        (("total",), "", 'total: expected a money string like "12.50", got ""'),
        (("total",), "1e3", 'total: expected a money string like "12.50", got "1e3"'),
        (("total",), "12,50", 'total: expected a money string like "12.50", got "12,50"'),
        (("total",), " 12.50", 'total: expected a money string like "12.50", got " 12.50"'),
        (("total",), None, 'total: expected a money string like "12.50", got null'),
        (("total",), MISSING, "total: required field is missing"),
        (("shipping_total",), MISSING, "shipping_total: required field is missing"),
        (("id",), MISSING, "id: required field is missing"),
        (("id",), "727", 'id: expected an integer >= 1, got "727"'),
        (("status",), "", 'status: expected a non-empty string, got ""'),
        (("customer_id",), "0", 'customer_id: expected an integer >= 0, got "0"'),
        (("customer_id",), -1, "customer_id: expected an integer >= 0, got -1 (a number)"),
        (("customer_id",), True, "customer_id: expected an integer >= 0, got true"),
        (("billing",), MISSING, "billing: required field is missing"),
        (("billing",), [], "billing: expected an object, got a list of 0"),
        (("billing", "email"), None, "billing.email: expected a string, got null"),
        (("date_modified_gmt",), MISSING, "date_modified_gmt: required field is missing"),
        (
            ("date_created_gmt",),
            None,
            'date_created_gmt: expected a UTC date-time like "2024-03-01T10:20:30", got null',
        ),
        (
            ("date_created_gmt",),
            "2017-03-22",
            'date_created_gmt: expected a UTC date-time like "2024-03-01T10:20:30", '
            'got "2017-03-22"',
        ),
        (
            ("date_created_gmt",),
            "2017-02-30T10:00:00",
            'date_created_gmt: expected a valid calendar date-time, got "2017-02-30T10:00:00"',
        ),
        (("line_items",), {}, "line_items: expected a list, got an object"),
        (("line_items", 0), "x", 'line_items[0]: expected an object, got "x"'),
        (
            ("line_items", 0, "quantity"),
            "2",
            'line_items[0].quantity: expected an integer >= 0, got "2"',
        ),
        (
            ("line_items", 0, "quantity"),
            1.5,
            "line_items[0].quantity: expected an integer >= 0, got 1.5 (a number)",
        ),
        (
            ("line_items", 1, "variation_id"),
            MISSING,
            "line_items[1].variation_id: required field is missing",
        ),
        (
            ("line_items", 0, "total_tax"),
            0.45,
            'line_items[0].total_tax: expected a money string like "12.50", got 0.45 (a number)',
        ),
        (
            ("fee_lines",),
            [{"total": "five", "total_tax": "0"}],
            'fee_lines[0].total: expected a money string like "12.50", got "five"',
        ),
        (("fee_lines",), MISSING, "fee_lines: required field is missing"),
        (("coupon_lines",), [{"id": 1}], "coupon_lines[0].code: required field is missing"),
        (
            ("refunds",),
            [{"id": 9, "total": "10.00"}],
            'refunds[0].total: expected a negative or zero money string like "-12.50", got "10.00"',
        ),
        (("refunds",), [{"total": "-1.00"}], "refunds[0].id: required field is missing"),
    ],
)
def test_malformed_order_field_is_named_with_what_was_expected_and_what_came(
    path: tuple[str | int, ...], value: object, message: str
) -> None:
    raw = changed(sample("order.json"), path, value)

    with pytest.raises(InvalidSourceData) as caught:
        parse_order(raw)

    assert str(caught.value) == message
    assert caught.value.field == message.split(":", 1)[0]


def test_an_order_that_is_not_an_object_is_rejected() -> None:
    with pytest.raises(InvalidSourceData, match=r"^\(root\): expected an object, got a list of 0$"):
        parse_order([])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            ("amount",),
            "-10.00",
            'amount: expected a positive or zero money string like "12.50", got "-10.00"',
        ),
        (("amount",), 10, 'amount: expected a money string like "12.50", got 10 (a number)'),
        (("line_items",), MISSING, "line_items: required field is missing"),
        (
            ("line_items", 0, "total"),
            "10.00",
            'line_items[0].total: expected a negative or zero money string like "-12.50", '
            'got "10.00"',
        ),
        (
            ("line_items", 0, "quantity"),
            1,
            "line_items[0].quantity: expected an integer <= 0, got 1 (a number)",
        ),
        (
            ("line_items", 0, "meta_data"),
            [],
            "line_items[0].meta_data: expected an entry with key '_refunded_item_id', "
            "got a list of 0",
        ),
        (
            ("line_items", 0, "meta_data", 0, "value"),
            "abc",
            'line_items[0].meta_data[0].value: expected an integer >= 1, got "abc"',
        ),
        (
            ("shipping_lines",),
            [{"total": "5.00", "total_tax": "0.00"}],
            'shipping_lines[0].total: expected a negative or zero money string like "-12.50", '
            'got "5.00"',
        ),
        (("fee_lines",), None, "fee_lines: expected a list, got null"),
        (
            ("fee_lines",),
            [{"total": "-1.00"}],
            "fee_lines[0].total_tax: required field is missing",
        ),
    ],
)
def test_malformed_refund_field_is_named_with_what_was_expected_and_what_came(
    path: tuple[str | int, ...], value: object, message: str
) -> None:
    raw = changed(sample("real-order-refund.json"), path, value)

    with pytest.raises(InvalidSourceData) as caught:
        parse_refund(raw)

    assert str(caught.value) == message
    assert caught.value.field == message.split(":", 1)[0]


def test_refunded_item_id_may_be_a_json_integer() -> None:
    raw = changed(sample("real-order-refund.json"), ("line_items", 0, "meta_data", 0, "value"), 2)

    assert parse_refund(raw).lines[0].refunded_item_id == 2


def test_an_amount_read_before_is_still_refused_where_its_sign_is_wrong() -> None:
    order = changed(sample("order.json"), ("total",), "10.00")
    refund = changed(sample("real-order-refund.json"), ("line_items", 0, "total"), "10.00")

    assert parse_order(order).total == D("10.00")  # "10.00" is now among the amounts read
    with pytest.raises(InvalidSourceData) as caught:
        parse_refund(refund)

    assert caught.value.field == "line_items[0].total"
    assert "negative or zero money string" in str(caught.value)


def test_the_table_of_amounts_read_stays_bounded() -> None:
    for cents in range(_AMOUNTS_MAX + 10):
        amount = _money_field({"total": f"{cents // 100}.{cents % 100:02d}"}, "total", "")
        assert amount == D(cents) / 100

    assert 0 < len(_AMOUNTS) <= _AMOUNTS_MAX


def test_an_order_read_through_another_mapping_type_is_the_same_order() -> None:
    raw = sample("real-order.json")
    proxied = MappingProxyType(
        {**raw, "billing": MappingProxyType(raw["billing"])}
        | {"line_items": [MappingProxyType(line) for line in raw["line_items"]]}
    )

    assert parse_order(proxied) == parse_order(raw)
