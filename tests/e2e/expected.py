"""An independent computation of what every customer should hold, from the sandbox's own data.

Written from the rule's definition (default rules: 1 point per 1.00 of line totals after discounts,
floor once per order, completed orders only, guests by billing email, refunds reducing the lines
they itemise, shipping-only refunds taking nothing, un-itemised refunds reducing proportionally),
not by calling `rules/`, so that a bug there cannot hide itself.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from sandbox.store import SandboxStore

Holder = tuple[str, Any]  # ("account", wc_id) or ("guest", email)


def order_points(
    order: dict[str, Any], refunds: list[dict[str, Any]], rate: Decimal = Decimal(1)
) -> int:
    """`rate` points per 1.00 (floored once per order, after the rate)."""
    if order["status"] != "completed":
        return 0
    lines = {line["id"]: Decimal(line["total"]) for line in order["line_items"]}
    unitemised = Decimal(0)
    for refund in refunds:
        items = refund.get("line_items") or []
        shipping = refund.get("shipping_lines") or []
        fees = refund.get("fee_lines") or []
        for item in items:
            refunded_id = int(
                next(m["value"] for m in item["meta_data"] if m["key"] == "_refunded_item_id")
            )
            lines[refunded_id] = max(Decimal(0), lines[refunded_id] + Decimal(item["total"]))
        if not items and not shipping and not fees:
            unitemised += Decimal(refund["amount"])
    base = sum(lines.values(), Decimal(0))
    total = Decimal(order["total"])
    if unitemised and total > 0:
        base = base * max(Decimal(0), 1 - unitemised / total)
    return int((base * rate).to_integral_value(rounding=ROUND_FLOOR))


def holder_of(order: dict[str, Any], accounts_by_email: dict[str, int]) -> Holder | None:
    if order["customer_id"]:
        return ("account", order["customer_id"])
    email = (order["billing"].get("email") or "").strip().lower()
    if not email:
        return None
    if email in accounts_by_email:
        return ("account", accounts_by_email[email])
    return ("guest", email)


def expected_balances(
    store: SandboxStore, rate: Decimal = Decimal(1), first_order: int = 0
) -> dict[Holder, int]:
    """Every holder with a non-zero expected balance: purchase points at `rate` per 1.00, and
    `first_order` bonus points to each holder with an order earning points at 1 per 1.00 (what
    orders earn under their own rule set, in the tests that change the rate)."""
    accounts_by_email: dict[str, int] = {}
    for customer in store.all("customers"):
        accounts_by_email.setdefault(customer["email"].strip().lower(), customer["id"])
    refunds_by_order: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for refund in store.all("refunds"):
        refunds_by_order[store.refund_parent(refund["id"])].append(refund)
    balances: dict[Holder, int] = defaultdict(int)
    earning: set[Holder] = set()
    for order in store.all("orders"):
        holder = holder_of(order, accounts_by_email)
        if holder is not None:
            balances[holder] += order_points(order, refunds_by_order[order["id"]], rate)
            if order_points(order, refunds_by_order[order["id"]]) > 0:
                earning.add(holder)
    for holder in earning:
        balances[holder] += first_order
    return {holder: points for holder, points in balances.items() if points}


def ledger_balances(rows: list[Any]) -> dict[Holder, int]:
    """`ledger.balances.list_balances` rows in the same shape, zeros dropped."""
    out: dict[Holder, int] = {}
    for row in rows:
        if not row.balance:
            continue
        holder: Holder = ("account", row.customer_id) if row.customer_id else ("guest", row.email)
        out[holder] = row.balance
    return out


def meta_balances(store: SandboxStore, key: str = "loyalty_points") -> dict[Holder, int]:
    """What the store's customer meta says, zeros dropped."""
    out: dict[Holder, int] = {}
    for customer in store.all("customers"):
        values = [m["value"] for m in customer["meta_data"] if m["key"] == key]
        assert len(values) <= 1, f"customer {customer['id']} has {len(values)} {key} rows"
        if values and int(values[0]):
            out[("account", customer["id"])] = int(values[0])
    return out


def expected_activity(
    store: SandboxStore, *, review_points: int = 0, comment_points: int = 0, comment_cap: int = 0
) -> dict[Holder, int]:
    """What reviews and blog comments earn each holder, from the rules' definition: approved only;
    once per product (reviews) or post (comments) per holder, the earliest by id; comments of type
    `comment` only (replies count), at most `comment_cap` a UTC day per holder, the first by date
    then id (0: no cap). Reviews belong to their email's holder; comments to their author's
    account, else to their email's holder. No length or verified rule."""
    accounts_by_email: dict[str, int] = {}
    for customer in store.all("customers"):
        accounts_by_email.setdefault(customer["email"].strip().lower(), customer["id"])

    def by_email(email: str) -> Holder:
        email = email.strip().lower()
        return (
            ("account", accounts_by_email[email])
            if email in accounts_by_email
            else ("guest", email)
        )

    balances: dict[Holder, int] = defaultdict(int)
    firsts: set[tuple[Holder, int]] = set()
    for review in sorted(store.all("reviews"), key=lambda r: r["id"]):
        holder = by_email(review["reviewer_email"])
        if review["status"] == "approved" and (holder, review["product_id"]) not in firsts:
            firsts.add((holder, review["product_id"]))
            balances[holder] += review_points
    earning: dict[tuple[Holder, str], list[tuple[str, int]]] = defaultdict(list)
    firsts.clear()
    blog = [c for c in store.all("comments") if c["type"] == "comment"]
    for comment in sorted(blog, key=lambda c: c["id"]):
        author = comment["author"]
        owner: Holder = ("account", author) if author else by_email(comment["author_email"])
        if comment["status"] == "approved" and (owner, comment["post"]) not in firsts:
            firsts.add((owner, comment["post"]))
            earning[(owner, comment["date_gmt"][:10])].append((comment["date_gmt"], comment["id"]))
    for (owner, _day), items in earning.items():
        kept = sorted(items)[:comment_cap] if comment_cap else items
        balances[owner] += comment_points * len(kept)
    return {holder: points for holder, points in balances.items() if points}


def merged(*parts: dict[Holder, int]) -> dict[Holder, int]:
    """Holders' expected balances from several sources, summed, zeros dropped."""
    total: dict[Holder, int] = defaultdict(int)
    for part in parts:
        for holder, points in part.items():
            total[holder] += points
    return {holder: points for holder, points in total.items() if points}
