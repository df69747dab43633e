"""Order statuses and refunds in the sandbox store, which drive each other as in WooCommerce.

For `SandboxStore` (as `OrderStatusMixin`) and the order mixin built on it: entering a status sets
paid/completed dates, sales counts, coupon usage and paying customers, and "refunded" refunds what
remains; a refund of everything that remains moves the order to "refunded".
"""

from __future__ import annotations

from decimal import Decimal

from sandbox import resources as r
from sandbox.resources import Json
from sandbox.store_base import StoreBase, clone, locked
from sandbox.store_errors import SandboxError, invalid_param, not_one_of

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


class OrderStatusMixin(StoreBase):
    """Status changes with their side effects, and refunds (creating, deleting, reading)."""

    @locked
    def set_order_status(self, order_id: int, status: str) -> Json:
        """An admin changes the status (also restores a trashed order); bumps date_modified."""
        order = self._find("orders", order_id)
        if status not in ORDER_STATUSES:
            raise not_one_of("status", ORDER_STATUSES)
        if order["status"] != status:  # WooCommerce saves nothing when nothing changed
            self._change_status(order, status)
        return clone(order)

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
        r.order_flags(order, needs_processing=processing)

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
            coupon = self._data["coupons"].get(line["meta_data"][0]["value"]["id"])
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
        refunded = sum((Decimal(e["total"]) for e in order["refunds"]), r.ZERO)  # negative totals
        return Decimal(order["total"]) + refunded

    def _already_refunded(
        self, order: Json, item_id: int, kind: str
    ) -> tuple[int, Decimal, Decimal]:
        """(quantity, total, tax) already refunded for one order item, over all its refunds."""
        qty, total, tax = 0, r.ZERO, r.ZERO
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
            r.money(Decimal(line["total"]) * share),
            r.money(Decimal(line["total_tax"]) * share),
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
        itemised = sum((t + x for _, _, t, x in line_specs), r.ZERO) + sum(
            (t + x for _, t, x in ship_specs), r.ZERO
        )
        remaining = self._remaining_refund(order)
        value = r.money(
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
        return clone(self._create_refund(order, value, reason, line_specs, ship_specs))

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
            r.refunded_line(
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
            r.refunded_shipping(
                id=self._next("order_item"),
                source=line,
                total=total,
                tax=tax,
                meta_id=self._next("item_meta"),
            )
            for line, total, tax in ship_specs
        ]
        line_tax = sum((tax for *_, tax in line_specs), r.ZERO)
        ship_tax = sum((tax for *_, tax in ship_specs), r.ZERO)
        taxes = [
            r.tax_line(
                id=self._next("order_item"),
                tax_total=line_tax,
                shipping_tax_total=ship_tax,
                sign="-",
            )
        ]
        refund = r.refund(
            id=rid,
            created=self.now(),
            amount=amount,
            reason=reason,
            line_items=items,
            shipping_lines=ships,
            tax_lines=taxes if line_tax or ship_tax else [],
        )
        self._data["refunds"][rid] = refund
        self._refund_parent[rid] = order["id"]
        order["refunds"].insert(0, {"id": rid, "reason": reason, "total": r.neg(amount)})
        self._stamp(order)  # wc_create_refund re-saves the parent with a new date_modified
        if self._remaining_refund(order) <= 0 and order["status"] != "refunded":
            self._change_status(order, "refunded")
        return refund

    @locked
    def delete_refund(self, refund_id: int) -> None:
        """Delete a refund. As in WooCommerce, the parent order is not re-saved: its refunds[]
        loses the entry but date_modified and status stay (a modified_after sync cannot see it)."""
        self._find("refunds", refund_id)
        del self._data["refunds"][refund_id]
        order = self._data["orders"].get(self._refund_parent.pop(refund_id))
        if order is not None:
            order["refunds"] = [e for e in order["refunds"] if e["id"] != refund_id]
