"""Orders: checkout with WooCommerce's pricing, statuses with their side effects, admin edits.

For the store, the server and the generator:
- shape: in `sandbox.resources.order_shapes` (orders, their lines and totals; refunds copy them);
- state: `OrdersMixin` (part of `SandboxStore`): a shopper places an order (coupon discounts per
  line, tax at the store's rate, shipping and fees, totals as WooCommerce computes them); an admin
  changes its status (paid/completed dates, sales counts, coupon usage, paying customers; a
  "refunded" status refunds what remains), updates, touches, trashes or deletes it;
- routes: `/wc/v3/orders[/{id}]` (list, get, update, delete) and the control routes under
  `/sandbox/orders`.
Listing: `status=any` is everything but trash and wins anywhere in the list.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sandbox.arguments import Param
from sandbox.control import ControlCall, ControlRoute, take
from sandbox.errors import SandboxError, body_field, invalid_param, not_one_of
from sandbox.formats import ZERO, Json, money
from sandbox.listing import CRUD, Collection, Partition, Predicate, crud_orderby, crud_sorts
from sandbox.messages import Response
from sandbox.resource import Resource
from sandbox.resources import order_shapes as shapes
from sandbox.resources.coupons import CouponsMixin, coupon_info, line_coupon_id, line_discounts
from sandbox.resources.customers import address
from sandbox.resources.products import ProductsMixin
from sandbox.resources.refunds import RefundsMixin
from sandbox.rest import Call, RestApi, Route, Served, link
from sandbox.state import clone, hidden_post_meta, locked

INVALID_ID = ("woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
ORDER_STATUSES = (
    "pending",
    "processing",
    "on-hold",
    "completed",
    "cancelled",
    "refunded",
    "failed",
)
PAID_STATUSES = ("processing", "completed")
COUPON_USE_STATUSES = ("pending", "processing", "on-hold", "completed")
DEFAULT_SHIPPING = Decimal("5.00")
BILLING_EMAIL_ERROR = ("order_invalid_billing_email", "Invalid billing email address")
ORDER_TEXT_FIELDS = ("customer_note", "transaction_id", "payment_method", "payment_method_title")
PAYMENT = {
    "pending": ("", ""),
    "on-hold": ("bacs", "Direct bank transfer"),
    "default": ("stripe", "Credit card (Stripe)"),
}


class OrdersMixin(RefundsMixin, CouponsMixin, ProductsMixin):
    """Placing, status changes, editing, touching, trashing and deleting orders; orders use the
    catalogue's products and coupons, and refunds move their status."""

    @locked
    def set_order_status(self, order_id: int, status: str) -> Json:
        """An admin changes the status (also restores a trashed order); bumps date_modified."""
        order = self._find("orders", order_id)
        if status not in ORDER_STATUSES:
            raise not_one_of("status", ORDER_STATUSES)
        if order["status"] != status:  # WooCommerce saves nothing when nothing changed
            self._change_status(order, status)
        return self._out(order)

    def _enter_status(self, order: Json) -> None:
        """What arriving in a status does in WooCommerce: paid/completed dates, sales counts,
        coupon usage, a paying customer, and for "refunded" a refund of whatever remains."""
        status = order["status"]
        if status in PAID_STATUSES and order["date_paid"] is None:
            self._stamp(order, "date_paid")
            for li in order["line_items"]:
                product = self._data["products"].get(li["product_id"])
                if product is not None:
                    product["total_sales"] += li["quantity"]
        if status in PAID_STATUSES:
            self._mark_paying(order)
        if status == "completed":
            self._stamp(order, "date_completed")
        self._count_coupon_use(order)
        self._refresh_flags(order)
        if status == "refunded":
            remaining = self._remaining_refund(order)
            if remaining > 0:
                self._create_refund(order, remaining, "Order fully refunded.", [], [])

    def _change_status(self, order: Json, status: str) -> None:
        order["status"] = status
        self._stamp(order)
        self._enter_status(order)

    def _refresh_flags(self, order: Json) -> None:
        # WooCommerce skips processing only when every item is both virtual and downloadable
        products = self._data["products"]
        processing = any(
            not (product.get("virtual") and product.get("downloadable"))
            for product in (products.get(li["product_id"], {}) for li in order["line_items"])
        )
        shapes.order_flags(order, needs_processing=processing)

    def _mark_paying(self, order: Json) -> None:
        customer = self._data["customers"].get(order["customer_id"])
        if customer is not None and not customer["is_paying_customer"]:
            customer["is_paying_customer"] = True
            self._stamp(customer)

    def _count_coupon_use(self, order: Json) -> None:
        """Keep usage_count/used_by in step with the order's status, as WooCommerce does."""
        if order["status"] in COUPON_USE_STATUSES:
            should = True
        elif order["status"] == "cancelled":
            should = False
        else:
            return  # refunded and failed orders keep their count, as in WooCommerce
        if should == (order["id"] in self._coupon_counted) or not order["coupon_lines"]:
            return
        user = str(order["customer_id"]) if order["customer_id"] else order["billing"]["email"]
        for line in order["coupon_lines"]:
            coupon_id = line_coupon_id(line)
            coupon = None if coupon_id is None else self._data["coupons"].get(coupon_id)
            if coupon is None:
                continue
            if should:
                coupon["usage_count"] += 1
                coupon["used_by"].append(user)
            else:
                coupon["usage_count"] = max(0, coupon["usage_count"] - 1)
                if user in coupon["used_by"]:
                    coupon["used_by"].reverse()
                    coupon["used_by"].remove(user)
                    coupon["used_by"].reverse()
        (self._coupon_counted.add if should else self._coupon_counted.discard)(order["id"])

    @locked
    def trashed_order_ids(self) -> set[int]:
        """Orders in the trash (status "trash"); orders deleted for good are gone entirely."""
        return {oid for oid, o in self._data["orders"].items() if o["status"] == "trash"}

    def _order_addresses(
        self, customer_id: int, email: str | None, billing: Json | None
    ) -> tuple[Json, Json]:
        if customer_id:
            customer = self._data["customers"].get(customer_id)
            if customer is None:
                raise SandboxError(
                    "woocommerce_rest_invalid_customer_id", "Customer ID is invalid.", 400
                )
            bill = dict(
                customer["billing"], email=customer["billing"]["email"] or customer["email"]
            )
            bill["first_name"] = bill["first_name"] or customer["first_name"]
            bill["last_name"] = bill["last_name"] or customer["last_name"]
        elif not email:
            raise invalid_param("email", "email is required for a guest order (customer_id 0).")
        else:
            bill = address(email="")
        changes = {**(billing or {}), **({"email": email} if email else {})}
        bill = self._address(bill, {"billing": changes}, "billing", BILLING_EMAIL_ERROR)
        return bill, {k: v for k, v in bill.items() if k != "email"}

    def _priced_lines(self, items: list[tuple[int, int]], coupon: Json | None) -> list[Json]:
        """Line items with subtotal, coupon discount (line total = subtotal - discount) and tax."""
        products = []
        for n, (pid, qty) in enumerate(items):
            if not isinstance(qty, int) or isinstance(qty, bool) or qty < 1:
                raise invalid_param(f"items[{n}]", f"items[{n}] needs a quantity of at least 1.")
            if pid not in self._data["products"]:
                raise SandboxError(
                    "woocommerce_rest_invalid_product_id", f"Invalid product ID {pid}.", 400
                )
            products.append(self._data["products"][pid])
        subtotals = [
            money(Decimal(p["price"]) * q) for p, (_, q) in zip(products, items, strict=True)
        ]
        discounts = line_discounts(coupon, products, [q for _, q in items], subtotals)
        lines = []
        for product, (_, qty), sub, off in zip(products, items, subtotals, discounts, strict=True):
            rate = self.tax_rate if product["tax_status"] == "taxable" else ZERO
            lines.append(
                shapes.line_item(
                    id=self._next("order_item"),
                    product_obj=product,
                    quantity=qty,
                    subtotal=sub,
                    total=sub - off,
                    subtotal_tax=money(sub * rate),
                    total_tax=money((sub - off) * rate),
                )
            )
        return lines

    def _shipping_lines(
        self, physical: bool, amount: Decimal | None, coupon: Json | None
    ) -> list[Json]:
        if amount is None:
            if not physical:
                return []
            amount = ZERO if coupon is not None and coupon["free_shipping"] else DEFAULT_SHIPPING
        amount = money(amount)
        return [
            shapes.shipping_line(
                id=self._next("order_item"),
                total=amount,
                tax=money(amount * self.tax_rate),
                free=not amount,
            )
        ]

    def _coupon_lines(self, coupon: Json | None, lines: list[Json]) -> list[Json]:
        if coupon is None:
            return []
        off = sum((Decimal(li["subtotal"]) - Decimal(li["total"]) for li in lines), ZERO)
        off_tax = sum(
            (Decimal(li["subtotal_tax"]) - Decimal(li["total_tax"]) for li in lines), ZERO
        )
        info = shapes.item_meta(self._next("item_meta"), "coupon_info", coupon_info(coupon))
        return [
            shapes.coupon_line(
                id=self._next("order_item"),
                coupon=coupon,
                discount=off,
                discount_tax=off_tax,
                meta=info,
            )
        ]

    def _set_tax_lines(self, order: Json) -> None:
        cart_tax, ship_tax = Decimal(order["cart_tax"]), Decimal(order["shipping_tax"])
        if cart_tax or ship_tax:
            order["tax_lines"] = [
                shapes.tax_line(
                    id=self._next("order_item"),
                    tax_total=cart_tax,
                    shipping_tax_total=ship_tax,
                    rate=self.tax_rate,
                )
            ]

    @locked
    def place_order(
        self,
        *,
        customer_id: int = 0,
        email: str | None = None,
        items: list[tuple[int, int]],
        status: str = "processing",
        coupon_code: str | None = None,
        shipping: Decimal | None = None,
        fee: Decimal | None = None,
        billing: Json | None = None,
    ) -> Json:
        """A shopper checks out: a customer (or a guest by email) buys (product_id, qty) items.

        Totals follow WooCommerce: coupon discounts per line, tax at the store's rate on lines,
        shipping and fee, order total = lines + shipping + fees + taxes. `shipping` None means
        flat rate for physical goods (free with a free-shipping coupon), none for virtual ones.
        """
        if status not in ORDER_STATUSES:
            raise not_one_of("status", ORDER_STATUSES)
        if not items:
            raise invalid_param("items", "items needs at least one (product_id, quantity).")
        bill, ship = self._order_addresses(customer_id, email, billing)
        coupon = None
        if coupon_code:
            account = self._data["customers"].get(customer_id) if customer_id else None
            coupon = self._usable_coupon(
                coupon_code,
                user=str(customer_id) if customer_id else bill["email"],
                emails=(bill["email"], account["email"] if account else ""),
            )
        lines = self._priced_lines(items, coupon)
        physical = any(not self._data["products"][li["product_id"]]["virtual"] for li in lines)
        order = shapes.order(
            id=self._next("post"),
            status=status,
            customer_id=customer_id,
            created=self.now(),
            billing=bill,
            shipping=ship,
            payment=PAYMENT.get(status, PAYMENT["default"]),
            site_url=self.site_url,
            meta_data=[{"id": self._meta_id(), "key": "is_vat_exempt", "value": "no"}],
            line_items=lines,
            shipping_lines=self._shipping_lines(physical, shipping, coupon),
            fee_lines=[
                shapes.fee_line(
                    id=self._next("order_item"),
                    name="Handling fee",
                    total=money(fee),
                    tax=money(money(fee) * self.tax_rate),
                )
            ]
            if fee
            else [],
            coupon_lines=self._coupon_lines(coupon, lines),
        )
        self._set_tax_lines(order)
        self._data["orders"][order["id"]] = order
        self._enter_status(order)
        return self._out(order)

    @locked
    def touch_order(self, order_id: int) -> Json:
        """An admin edit that changes nothing visible but date_modified."""
        order = self._find("orders", order_id)
        self._stamp(order)
        return self._out(order)

    @locked
    def update_order(self, id: int, body: Json) -> Json:
        """PUT /orders/{id}: status (with its side effects), set_paid, customer_id, notes,
        payment fields, billing/shipping and meta_data. Line items are not editable here."""
        order = self._find("orders", id, status=400)
        status = body_field(body, "status", str, "string")
        if status is not None and status not in ORDER_STATUSES:
            raise not_one_of("status", ORDER_STATUSES)
        customer_id = body_field(body, "customer_id", int, "integer")
        if customer_id and customer_id not in self._data["customers"]:
            raise SandboxError(
                "woocommerce_rest_invalid_customer_id", "Customer ID is invalid.", 400
            )
        texts = {
            k: v for k in ORDER_TEXT_FIELDS if (v := body_field(body, k, str, "string")) is not None
        }
        set_paid = body_field(body, "set_paid", bool, "boolean")
        billing = self._address(order["billing"], body, "billing", BILLING_EMAIL_ERROR)
        shipping = self._address(order["shipping"], body, "shipping", ("", ""))
        entries = self._meta_updates(body)
        order.update(texts, billing=billing, shipping=shipping)
        if customer_id is not None:
            order["customer_id"] = customer_id
        if entries:
            self._write_meta(order, f"orders:{id}", entries, hidden_post_meta)
        if set_paid and order["date_paid"] is None and status is None:
            status = "processing"  # payment_complete() moves an unpaid order on
        if status is not None and status != order["status"]:
            self._change_status(order, status)
        else:
            self._stamp(order)
        return self._out(order)

    @locked
    def delete_order(self, id: int, *, force: bool) -> Json:
        """DELETE /orders/{id}: force=False moves it to the trash (status "trash"), force=True
        deletes it and its refunds for good. Answers the order as it was before."""
        order = self._find("orders", id)
        snapshot = clone(order)
        if force:
            del self._data["orders"][id]
            for entry in order["refunds"]:
                self._data["refunds"].pop(entry["id"], None)
                self._refund_parent.pop(entry["id"], None)
            self._coupon_counted.discard(id)
            self._hidden_meta.pop(f"orders:{id}", None)
        elif order["status"] == "trash":
            raise SandboxError(
                "woocommerce_rest_already_trashed", "The shop_order has already been deleted.", 410
            )
        else:
            order["status"] = "trash"
            self._stamp(order)
            self._refresh_flags(order)
        return snapshot


# ---- listing and routes ----

_ORDER_STATUS_ENUM = ("any", "trash", *ORDER_STATUSES, "checkout-draft")


def _status_groups(order: Json) -> tuple[str, ...]:
    """The listings an order is in: its status's, and `any` unless it is in the trash."""
    status = order["status"]
    return (status,) if status == "trash" else (status, "any")


def _wanted_statuses(args: dict[str, Any]) -> tuple[str, ...]:
    """`status=any` is everything but trash and wins anywhere in the list."""
    statuses = args["status"]
    return ("any",) if "any" in statuses else tuple(dict.fromkeys(statuses))


def _order_filters(args: dict[str, Any]) -> list[Predicate]:
    """The filters besides status and customer (which the sorted index answers)."""
    found: list[Predicate] = []
    if args["product"] is not None:
        product = args["product"]
        found.append(lambda o: any(li["product_id"] == product for li in o["line_items"]))
    if args["parent"]:
        parents = set(args["parent"])
        found.append(lambda o: o["parent_id"] in parents)
    if args["parent_exclude"]:
        excluded = set(args["parent_exclude"])
        found.append(lambda o: o["parent_id"] not in excluded)
    return found


COLLECTION = Collection(
    "orders",
    {
        **CRUD,
        "orderby": crud_orderby(),
        "status": Param("enums", ("any",), _ORDER_STATUS_ENUM),
        "customer": Param("integer"),
        "product": Param("integer"),
        "dp": Param("integer", 2),
    },
    crud_sorts("date_created_gmt", "date_modified_gmt", "date_created_gmt"),
    _order_filters,
    search_fields=("number",),
    partition=Partition(_status_groups, _wanted_statuses),
    lookups=(("customer", "customer_id"),),
)


def _order_links(obj: Json, api_url: str, extra: Json) -> Json:
    wc = f"{api_url}/wc/v3"
    links = {"self": link(f"{wc}/orders/{obj['id']}"), "collection": link(f"{wc}/orders")}
    if obj["customer_id"]:
        links["customer"] = link(f"{wc}/customers/{obj['customer_id']}")
    return links


ORDER = Served("orders", _order_links, COLLECTION)


def _store(api: RestApi) -> OrdersMixin:
    return api.store_as(OrdersMixin)


def _list(api: RestApi, call: Call) -> Response:
    response, page = api.page_response(call, ORDER)
    if call.decision.kind == "dup" and page.ids:
        # Modified between requests: the item comes again on a later page of a modified walk.
        _store(api).touch_order(page.ids[int(call.decision.fraction * len(page.ids))])
        response.fault = "dup"
    return response


def _delete(api: RestApi, call: Call) -> Response:
    def delete(obj_id: int, args: dict[str, Any]) -> Json:
        return _store(api).delete_order(obj_id, force=args["force"])

    return api.delete(call, ORDER, delete)


def _place_order(call: ControlCall) -> tuple[int, Any]:
    body = call.body
    order = call.store_as(OrdersMixin).place_order(
        customer_id=take(body, "customer_id", "int", default=0),
        email=take(body, "email", "str"),
        items=take(body, "items", "pairs", required=True),
        status=take(body, "status", "str", default="processing"),
        coupon_code=take(body, "coupon_code", "str"),
        shipping=take(body, "shipping", "money"),
        fee=take(body, "fee", "money"),
    )
    return 201, order


def _order_status(call: ControlCall) -> tuple[int, Any]:
    status = take(call.body, "status", "str", required=True)
    return 200, call.store_as(OrdersMixin).set_order_status(call.ids[0], status)


def _touch(call: ControlCall) -> tuple[int, Any]:
    return 200, call.store_as(OrdersMixin).touch_order(call.ids[0])


def _trash(call: ControlCall) -> tuple[int, Any]:
    return 200, call.store_as(OrdersMixin).delete_order(call.ids[0], force=False)


def _delete_for_good(call: ControlCall) -> tuple[int, Any]:
    return 200, call.store_as(OrdersMixin).delete_order(call.ids[0], force=True)


RESOURCE = Resource(
    "orders",
    INVALID_ID,
    listings=(COLLECTION,),
    rest=(
        Route("GET", "/wc/v3/orders", _list),
        Route("GET", r"/wc/v3/orders/(\d+)", lambda api, c: api.get(c, ORDER)),
        Route(
            "POST PUT PATCH",
            r"/wc/v3/orders/(\d+)",
            lambda api, c: api.update(c, ORDER, _store(api).update_order),
        ),
        Route("DELETE", r"/wc/v3/orders/(\d+)", _delete),
    ),
    control=(
        ControlRoute(
            "POST",
            "/orders",
            _place_order,
            '/orders  place an order: {"items": [[product_id, qty], ...], "customer_id"?, '
            '"email"? (guest), "status"?, "coupon_code"?, "shipping"?, "fee"?}',
        ),
        ControlRoute(
            "POST",
            r"/orders/(\d+)/status",
            _order_status,
            '/orders/{id}/status  {"status": "completed"}',
        ),
        ControlRoute(
            "POST",
            r"/orders/(\d+)/touch",
            _touch,
            "/orders/{id}/touch  an admin edit: date_modified only",
        ),
        ControlRoute(
            "POST", r"/orders/(\d+)/trash", _trash, "/orders/{id}/trash  move to the trash"
        ),
        ControlRoute("DELETE", r"/orders/(\d+)", _delete_for_good, "/orders/{id}  delete for good"),
    ),
)
