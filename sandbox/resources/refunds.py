"""Refunds: what WooCommerce records when an order's money goes back, and how it serves them.

For the store, the server and the generator:
- shape: `refund` (as real-order-refund.json has it) with its lines, negative copies of the
  order's lines (`refunded_line`, `refunded_shipping`); `refund_with_parent` is the store-wide
  listing's variant;
- state: `RefundsMixin` (part of `SandboxStore`): refunding by amount, by line and quantity or the
  shipping, deleting a refund; the order's embedded `refunds[]` kept in step (a refund of all
  that remains moves the order to "refunded", through the orders module);
- routes: `/wc/v3/orders/{id}/refunds[/{id}]`, the store-wide `/wc/v3/refunds`, and the control
  routes `POST /sandbox/orders/{id}/refunds` and `DELETE /sandbox/refunds/{id}`.
Both listings ignore `parent` as WooCommerce does; the store-wide one honours `parent_exclude`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sandbox.arguments import Param, validate
from sandbox.control import ControlCall, ControlRoute, take
from sandbox.errors import SandboxError, invalid_param
from sandbox.formats import ZERO, Json, fmt, money, neg, unit_price, wc_dates
from sandbox.listing import CRUD, Collection, Predicate, crud_orderby, crud_sorts, no_filters
from sandbox.messages import Response
from sandbox.resource import Resource
from sandbox.resources import order_shapes as shapes
from sandbox.rest import ITEM_ARGS, Call, RestApi, Route, Served, link, require
from sandbox.state import StoreBase, clone, locked

INVALID_ID = ("woocommerce_rest_shop_order_refund_invalid_id", "Invalid ID.")


def refund(
    *,
    id: int,
    created: datetime,
    amount: Decimal,
    reason: str,
    line_items: list[Json],
    shipping_lines: list[Json],
    tax_lines: list[Json],
) -> Json:
    """A refund like real-order-refund.json, as /orders/{id}/refunds serves it."""
    local, gmt = wc_dates(created)
    return {
        "id": id,
        "date_created": local,
        "date_created_gmt": gmt,
        "amount": fmt(amount),
        "reason": reason,
        "refunded_by": 1,
        "refunded_payment": False,
        "meta_data": [],
        "line_items": line_items,
        "shipping_lines": shipping_lines,
        "tax_lines": tax_lines,
        "fee_lines": [],
    }


def refund_with_parent(refund_obj: Json, parent_id: int) -> Json:
    """The refund as GET /wc/v3/refunds serves it: `parent_id` right after `id`."""
    items = list(refund_obj.items())
    return dict([items[0], ("parent_id", parent_id), *items[1:]])


def refunded_line(
    *,
    id: int,
    source: Json,
    quantity: int,
    total: Decimal,
    tax: Decimal,
    meta_id: int,
) -> Json:
    """A negative copy of an order line inside a refund (meta `_refunded_item_id` names the line)."""
    data = {
        **source,
        "id": id,
        "quantity": -quantity,
        "subtotal": neg(total),
        "subtotal_tax": neg(tax),
        "total": neg(total),
        "total_tax": neg(tax),
        "taxes": [{"id": shapes.TAX_RATE_ID, "total": neg(tax), "subtotal": neg(tax)}]
        if source["taxes"]
        else [],
        "meta_data": [shapes.item_meta(meta_id, "_refunded_item_id", str(source["id"]))],
        "image": shapes.NO_IMAGE,
    }
    data["price"] = unit_price(-money(total), -quantity)
    return data


def refunded_shipping(*, id: int, source: Json, total: Decimal, tax: Decimal, meta_id: int) -> Json:
    return {
        **source,
        "id": id,
        "total": neg(total),
        "total_tax": neg(tax),
        "taxes": [{"id": shapes.TAX_RATE_ID, "total": neg(tax), "subtotal": ""}] if tax else [],
        "meta_data": [shapes.item_meta(meta_id, "_refunded_item_id", str(source["id"]))],
    }


class RefundsMixin(StoreBase):
    """Refunds: creating (by amount, lines or shipping), deleting, and which order they belong to."""

    def _change_status(self, order: Json, status: str) -> None:
        """Move an order to another status with its side effects: `OrdersMixin` provides it."""
        raise NotImplementedError

    # ---- refunds ---------------------------------------------------------------------------

    @locked
    def refund_parent(self, refund_id: int) -> int:
        """The order a refund belongs to."""
        self._find("refunds", refund_id)
        return self._refund_parent[refund_id]

    @locked
    def refunds_of(self, order_id: int) -> list[Json]:
        """An order's refunds, newest first (as /orders/{id}/refunds lists them by default)."""
        embedded = self._find("orders", order_id)["refunds"]
        return [clone(self._data["refunds"][e["id"]]) for e in embedded]

    def _remaining_refund(self, order: Json) -> Decimal:
        refunded = sum((Decimal(e["total"]) for e in order["refunds"]), ZERO)  # negative totals
        return Decimal(order["total"]) + refunded

    def _already_refunded(
        self, order: Json, item_id: int, kind: str
    ) -> tuple[int, Decimal, Decimal]:
        """(quantity, total, tax) already refunded for one order item, over all its refunds."""
        qty, total, tax = 0, ZERO, ZERO
        wanted = str(item_id)
        for entry in order["refunds"]:
            for line in self._data["refunds"][entry["id"]][kind]:
                if line["meta_data"] and line["meta_data"][0]["value"] == wanted:
                    qty -= line.get("quantity", 0)
                    total -= Decimal(line["total"])
                    tax -= Decimal(line["total_tax"])
        return qty, total, tax

    def _line_refund(
        self, order: Json, item_id: int, qty: int
    ) -> tuple[Json, int, Decimal, Decimal]:
        line = next((li for li in order["line_items"] if li["id"] == item_id), None)
        if line is None:
            raise invalid_param(
                "lines",
                f"lines names item {item_id}, which is not a line item of order {order['id']}.",
            )
        done_qty, done_total, done_tax = self._already_refunded(order, item_id, "line_items")
        left = line["quantity"] - done_qty
        if not isinstance(qty, int) or isinstance(qty, bool) or not 1 <= qty <= left:
            raise invalid_param("lines", f"lines: item {item_id} has {left} refundable, not {qty}.")
        if qty == left:  # the last units take what is left, so refunding all units is exact
            return (
                line,
                qty,
                Decimal(line["total"]) - done_total,
                Decimal(line["total_tax"]) - done_tax,
            )
        share = Decimal(qty) / line["quantity"]
        return (
            line,
            qty,
            money(Decimal(line["total"]) * share),
            money(Decimal(line["total_tax"]) * share),
        )

    def _shipping_refund(self, order: Json) -> list[tuple[Json, Decimal, Decimal]]:
        specs = []
        for line in order["shipping_lines"]:
            _, total, tax = self._already_refunded(order, line["id"], "shipping_lines")
            left, left_tax = Decimal(line["total"]) - total, Decimal(line["total_tax"]) - tax
            if left > 0 or left_tax > 0:
                specs.append((line, left, left_tax))
        if not specs:
            raise invalid_param("shipping", f"order {order['id']} has no shipping left to refund.")
        return specs

    @locked
    def refund_order(
        self,
        order_id: int,
        *,
        amount: Decimal | None = None,
        lines: list[tuple[int, int]] | None = None,
        shipping: bool = False,
        reason: str = "",
    ) -> Json:
        """An admin refunds: by amount only, by (order line id, qty), and/or the shipping.

        Without `amount`, the refund is what the lines and shipping add up to (taxes included),
        or everything that remains. Updates the order's embedded refunds[] and date_modified;
        refunding what remains sets the status to "refunded", as WooCommerce does.
        """
        order = self._find("orders", order_id)
        line_specs = [self._line_refund(order, item_id, qty) for item_id, qty in lines or []]
        ship_specs = self._shipping_refund(order) if shipping else []
        itemised = sum((t + x for _, _, t, x in line_specs), ZERO) + sum(
            (t + x for _, t, x in ship_specs), ZERO
        )
        remaining = self._remaining_refund(order)
        value = money(
            amount if amount is not None else (itemised if line_specs or ship_specs else remaining)
        )
        if value < 0 or (value == 0 and not line_specs):  # a free line may be refunded for 0.00
            raise SandboxError(
                "woocommerce_rest_invalid_order_refund",
                "Refund amount must be greater than zero.",
                400,
            )
        if value > remaining:
            raise SandboxError(
                "woocommerce_rest_cannot_create_order_refund", "Invalid refund amount.", 500
            )
        return self._out(self._create_refund(order, value, reason, line_specs, ship_specs))

    def _create_refund(
        self,
        order: Json,
        amount: Decimal,
        reason: str,
        line_specs: list[tuple[Json, int, Decimal, Decimal]],
        ship_specs: list[tuple[Json, Decimal, Decimal]],
    ) -> Json:
        rid = self._next("post")
        items = [
            refunded_line(
                id=self._next("order_item"),
                source=line,
                quantity=qty,
                total=total,
                tax=tax,
                meta_id=self._next("item_meta"),
            )
            for line, qty, total, tax in line_specs
        ]
        ships = [
            refunded_shipping(
                id=self._next("order_item"),
                source=line,
                total=total,
                tax=tax,
                meta_id=self._next("item_meta"),
            )
            for line, total, tax in ship_specs
        ]
        line_tax = sum((tax for *_, tax in line_specs), ZERO)
        ship_tax = sum((tax for *_, tax in ship_specs), ZERO)
        taxes = [
            shapes.tax_line(
                id=self._next("order_item"),
                tax_total=line_tax,
                shipping_tax_total=ship_tax,
                rate=self.tax_rate,
                sign="-",
            )
        ]
        obj = refund(
            id=rid,
            created=self.now(),
            amount=amount,
            reason=reason,
            line_items=items,
            shipping_lines=ships,
            tax_lines=taxes if line_tax or ship_tax else [],
        )
        self._data["refunds"][rid] = obj
        self._refund_parent[rid] = order["id"]
        order["refunds"].insert(0, {"id": rid, "reason": reason, "total": neg(amount)})
        self._stamp(order)  # wc_create_refund re-saves the parent with a new date_modified
        if self._remaining_refund(order) <= 0 and order["status"] != "refunded":
            self._change_status(order, "refunded")
        return obj

    @locked
    def delete_refund(self, refund_id: int) -> None:
        """Delete a refund. As in WooCommerce, the parent order is not re-saved: its refunds[]
        loses the entry but date_modified and status stay (a modified_after sync cannot see it)."""
        self._find("refunds", refund_id)
        del self._data["refunds"][refund_id]
        order = self._data["orders"].get(self._refund_parent.pop(refund_id))
        if order is not None:
            order["refunds"] = [e for e in order["refunds"] if e["id"] != refund_id]


# ---- listing and routes ----

# Both refund routes ignore `parent`: WooCommerce overwrites it with the URL's order id and
# the store-wide route then drops it. `parent_exclude` survives.
COLLECTION = Collection(
    "refunds",
    {**CRUD, "orderby": crud_orderby(), "dp": Param("integer", 2)},
    crud_sorts("date_created_gmt", "date_created_gmt", "date_created_gmt"),
    no_filters,
    date_columns=("date_created", "date_created"),
    search_fields=("reason",),
)


def _refund_links(kind: str) -> Any:
    def links(obj: Json, api_url: str, extra: Json) -> Json:
        wc = f"{api_url}/wc/v3"
        base = f"{wc}/orders/{extra['parent']}/refunds"
        found = {
            "self": link(f"{base}/{obj['id']}"),
            "collection": link(base),
            "up": link(f"{wc}/orders/{extra['parent']}"),
        }
        if kind == "store_refund":
            found["refunded_by"] = link(
                f"{api_url}/wp/v2/users/{obj['refunded_by']}", embeddable=True
            )
        return found

    return links


def _with_parent(store: StoreBase, obj: Json, extra: Json) -> Json:
    extra["parent"] = _parent(store, obj["id"])
    return obj


def _in_store_listing(store: StoreBase, obj: Json, extra: Json) -> Json:
    extra["parent"] = _parent(store, obj["id"])
    return refund_with_parent(obj, extra["parent"])


def _parent(store: StoreBase, refund_id: int) -> int:
    if not isinstance(store, RefundsMixin):
        raise TypeError("the sandbox store has no RefundsMixin")
    return store.refund_parent(refund_id)


REFUND = Served("refunds", _refund_links("refund"), COLLECTION, prepare=_with_parent)
STORE_REFUND = Served(
    "refunds", _refund_links("store_refund"), COLLECTION, prepare=_in_store_listing
)


def _store(api: RestApi) -> RefundsMixin:
    return api.store_as(RefundsMixin)


def _list_order_refunds(api: RestApi, call: Call) -> Response:
    """GET orders/{id}/refunds: the order's refunds (none for an unknown order)."""
    order_id = call.ids[0]
    try:
        refund_ids = {e["id"] for e in api.store.get("orders", order_id)["refunds"]}
    except SandboxError:
        refund_ids = set()  # WooCommerce lists nothing for an unknown order
    return api.serve_list(call, REFUND, among=refund_ids)


def _get_order_refund(api: RestApi, call: Call) -> Response:
    """GET orders/{id}/refunds/{id}: one refund, which must belong to that order."""
    order_id, refund_id = call.ids
    args = validate(ITEM_ARGS, call.params)
    require(call, "view", exists=api.exists("refunds", refund_id))
    refund = api.store.get("refunds", refund_id)
    if not api.exists("orders", order_id):
        raise SandboxError("woocommerce_rest_invalid_order_id", "Invalid order ID.", 404)
    if _store(api).refund_parent(refund_id) != order_id:
        raise SandboxError(
            "woocommerce_rest_invalid_order_refund_id", "Invalid order refund ID.", 404
        )
    return Response.json(200, api.shape(REFUND, refund, args["context"]))


def _list_store_refunds(api: RestApi, call: Call) -> Response:
    """GET refunds: every refund in the store, each with its parent order id."""

    def scope(args: dict[str, Any]) -> list[Predicate]:
        if not args["parent_exclude"]:
            return []
        excluded = set(args["parent_exclude"])
        return [lambda r: _store(api).refund_parent(r["id"]) not in excluded]

    return api.serve_list(call, STORE_REFUND, scope)


def _refund(call: ControlCall) -> tuple[int, Any]:
    refund = call.store_as(RefundsMixin).refund_order(
        call.ids[0],
        amount=take(call.body, "amount", "money"),
        lines=take(call.body, "lines", "pairs"),
        shipping=take(call.body, "shipping", "bool", default=False),
        reason=take(call.body, "reason", "str", default=""),
    )
    return 201, refund


def _delete_refund(call: ControlCall) -> tuple[int, Any]:
    call.store_as(RefundsMixin).delete_refund(call.ids[0])
    return 200, {"deleted": True, "id": call.ids[0]}


RESOURCE = Resource(
    "refunds",
    INVALID_ID,
    listings=(COLLECTION,),
    rest=(
        Route("GET", r"/wc/v3/orders/(\d+)/refunds", _list_order_refunds),
        Route("GET", r"/wc/v3/orders/(\d+)/refunds/(\d+)", _get_order_refund),
        Route("GET", "/wc/v3/refunds", _list_store_refunds),
    ),
    control=(
        ControlRoute(
            "POST",
            r"/orders/(\d+)/refunds",
            _refund,
            '/orders/{id}/refunds  {"amount"?, "lines"?: [[line_id, qty]], "shipping"?, "reason"?}',
        ),
        ControlRoute("DELETE", r"/refunds/(\d+)", _delete_refund, "/refunds/{id}  delete a refund"),
    ),
)
