"""Orders in the sandbox store: checkout with WooCommerce's pricing, admin edits, trash and delete.

For `SandboxStore` (as `OrdersMixin`): a shopper places an order (coupon discounts per line, tax at
the store's rate, shipping and fees, totals as WooCommerce computes them); an admin updates,
touches, trashes or deletes it. Status changes and refunds come from `OrderStatusMixin`.
"""

from __future__ import annotations

from decimal import Decimal

from sandbox import resources as r
from sandbox.resources import Json
from sandbox.store_base import clone, hidden_post_meta, locked
from sandbox.store_catalog import CatalogMixin
from sandbox.store_errors import SandboxError, body_field, invalid_param, not_one_of
from sandbox.store_order_status import ORDER_STATUSES, OrderStatusMixin

DEFAULT_SHIPPING = Decimal("5.00")
BILLING_EMAIL_ERROR = ("order_invalid_billing_email", "Invalid billing email address")
ORDER_TEXT_FIELDS = ("customer_note", "transaction_id", "payment_method", "payment_method_title")
PAYMENT = {
    "pending": ("", ""),
    "on-hold": ("bacs", "Direct bank transfer"),
    "default": ("stripe", "Credit card (Stripe)"),
}


def _coupon_applies(coupon: Json, product: Json) -> bool:
    """Whether a coupon's product and category limits let it discount this product."""
    pid, cats = product["id"], {c["id"] for c in product["categories"]}
    if coupon["product_ids"] and pid not in coupon["product_ids"]:
        return False
    if pid in coupon["excluded_product_ids"]:
        return False
    if coupon["product_categories"] and not cats & set(coupon["product_categories"]):
        return False
    return not cats & set(coupon["excluded_product_categories"])


def _discounts(
    coupon: Json | None, products: list[Json], qtys: list[int], subtotals: list[Decimal]
) -> list[Decimal]:
    """Each line's discount: percent of the line, fixed per item, or a fixed cart amount spread
    over the eligible lines in proportion to their subtotals (the last one takes the rounding)."""
    if coupon is None:
        return [r.ZERO] * len(products)
    ok = [_coupon_applies(coupon, p) for p in products]
    amount = Decimal(coupon["amount"])
    if coupon["discount_type"] == "percent":
        return [
            r.money(s * amount / 100) if e else r.ZERO for s, e in zip(subtotals, ok, strict=True)
        ]
    if coupon["discount_type"] == "fixed_product":
        return [
            min(s, r.money(amount * q)) if e else r.ZERO
            for s, q, e in zip(subtotals, qtys, ok, strict=True)
        ]
    base = sum((s for s, e in zip(subtotals, ok, strict=True) if e), r.ZERO)
    eligible = [i for i, e in enumerate(ok) if e]
    if not base:
        return [r.ZERO] * len(products)
    left = min(amount, base)
    out = [r.ZERO] * len(products)
    for i in eligible:
        share = left if i == eligible[-1] else r.money(min(amount, base) * subtotals[i] / base)
        out[i], left = share, left - share
    return out


class OrdersMixin(OrderStatusMixin, CatalogMixin):
    """Placing, editing, touching, trashing and deleting orders; orders use the catalogue's
    products and coupons and move through `OrderStatusMixin`'s statuses."""

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
            bill = r.address(email="")
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
            r.money(Decimal(p["price"]) * q) for p, (_, q) in zip(products, items, strict=True)
        ]
        discounts = _discounts(coupon, products, [q for _, q in items], subtotals)
        lines = []
        for product, (_, qty), sub, off in zip(products, items, subtotals, discounts, strict=True):
            rate = self.tax_rate if product["tax_status"] == "taxable" else r.ZERO
            lines.append(
                r.line_item(
                    id=self._next("order_item"),
                    product_obj=product,
                    quantity=qty,
                    subtotal=sub,
                    total=sub - off,
                    subtotal_tax=r.money(sub * rate),
                    total_tax=r.money((sub - off) * rate),
                )
            )
        return lines

    def _shipping_lines(
        self, physical: bool, amount: Decimal | None, coupon: Json | None
    ) -> list[Json]:
        if amount is None:
            if not physical:
                return []
            amount = r.ZERO if coupon is not None and coupon["free_shipping"] else DEFAULT_SHIPPING
        amount = r.money(amount)
        return [
            r.shipping_line(
                id=self._next("order_item"),
                total=amount,
                tax=r.money(amount * self.tax_rate),
                free=not amount,
            )
        ]

    def _coupon_lines(self, coupon: Json | None, lines: list[Json]) -> list[Json]:
        if coupon is None:
            return []
        off = sum((Decimal(li["subtotal"]) - Decimal(li["total"]) for li in lines), r.ZERO)
        off_tax = sum(
            (Decimal(li["subtotal_tax"]) - Decimal(li["total_tax"]) for li in lines), r.ZERO
        )
        snapshot = r.item_meta(self._next("item_meta"), "coupon_data", r.coupon_snapshot(coupon))
        return [
            r.coupon_line(
                id=self._next("order_item"),
                code=coupon["code"],
                discount=off,
                discount_tax=off_tax,
                meta=snapshot,
            )
        ]

    def _set_tax_lines(self, order: Json) -> None:
        cart_tax, ship_tax = Decimal(order["cart_tax"]), Decimal(order["shipping_tax"])
        if cart_tax or ship_tax:
            order["tax_lines"] = [
                r.tax_line(
                    id=self._next("order_item"), tax_total=cart_tax, shipping_tax_total=ship_tax
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
        coupon = self._usable_coupon(coupon_code) if coupon_code else None
        lines = self._priced_lines(items, coupon)
        physical = any(not self._data["products"][li["product_id"]]["virtual"] for li in lines)
        order = r.order(
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
                r.fee_line(
                    id=self._next("order_item"),
                    name="Handling fee",
                    total=r.money(fee),
                    tax=r.money(r.money(fee) * self.tax_rate),
                )
            ]
            if fee
            else [],
            coupon_lines=self._coupon_lines(coupon, lines),
        )
        self._set_tax_lines(order)
        self._data["orders"][order["id"]] = order
        self._enter_status(order)
        return clone(order)

    @locked
    def touch_order(self, order_id: int) -> Json:
        """An admin edit that changes nothing visible but date_modified."""
        order = self._find("orders", order_id)
        self._stamp(order)
        return clone(order)

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
        return clone(order)

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
