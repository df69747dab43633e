"""A deterministic small shop's history, replayed into a SandboxStore.

For the sandbox command, the demo, tests and benchmarks: `generate_store(seed=...)` plans 18 months of
a small grocery shop (customers who come back, guests who only leave a billing email, guests who
register later, coupons, fees, refunds full and partial, trashed orders, reviews, blog comments)
and then plays the plan in time order through the store's own control actions, so ids ascend with
creation time and every date is one WooCommerce would have written. Only `random.Random(seed)`
decides anything: the same arguments give a byte-identical store.
"""

from __future__ import annotations

import bisect
import functools
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from random import Random
from typing import Any

from sandbox.bulk import collector_paused
from sandbox.routes import RESOURCES
from sandbox.store import SandboxStore

WINDOW = timedelta(days=548)  # 18 months before the anchor
DAY = 86400

CATEGORIES = ("Groceries", "Organic", "Coffee & tea", "Household", "Gift cards")
# name, price, categories, weight in carts; gift cards are virtual, untaxed, a sensible exclusion
PRODUCTS = (
    ("Arabica coffee beans 500 g", "12.50", ("Groceries", "Coffee & tea"), 9),
    ("Organic arabica coffee 250 g", "9.90", ("Groceries", "Coffee & tea", "Organic"), 6),
    ("Earl grey tea, 40 bags", "6.40", ("Groceries", "Coffee & tea"), 5),
    ("Organic green tea, 20 bags", "5.20", ("Groceries", "Coffee & tea", "Organic"), 4),
    ("Extra virgin olive oil 1 l", "14.90", ("Groceries",), 7),
    ("Organic olive oil 500 ml", "11.30", ("Groceries", "Organic"), 4),
    ("Durum wheat spaghetti 1 kg", "3.20", ("Groceries",), 10),
    ("Organic rolled oats 1 kg", "4.80", ("Groceries", "Organic"), 6),
    ("Wildflower honey 450 g", "8.75", ("Groceries",), 5),
    ("Organic acacia honey 250 g", "9.60", ("Groceries", "Organic"), 3),
    ("Dark chocolate 85%", "3.95", ("Groceries",), 8),
    ("Sea salt flakes 250 g", "4.10", ("Groceries",), 3),
    ("Basmati rice 2 kg", "7.60", ("Groceries",), 6),
    ("Organic red lentils 1 kg", "5.70", ("Groceries", "Organic"), 3),
    ("Beeswax food wraps, set of 3", "15.00", ("Household",), 2),
    ("Bamboo dish brush", "6.90", ("Household",), 2),
    ("Compostable bin bags, 30", "5.50", ("Household",), 2),
    ("Gift card $25", "25.00", ("Gift cards",), 1),
    ("Gift card $50", "50.00", ("Gift cards",), 1),
)
FIRST = (
    "Ana",
    "Ben",
    "Carla",
    "David",
    "Elena",
    "Farid",
    "Grace",
    "Hugo",
    "Ines",
    "João",
    "Kai",
    "Lena",
    "Marco",
    "Nadia",
    "Omar",
    "Paula",
    "Quentin",
    "Rosa",
    "Sven",
    "Tara",
    "Uma",
    "Victor",
    "Wen",
    "Ximena",
    "Yusuf",
    "Zoë",
    "Amélie",
    "Björn",
    "Chloé",
    "Dmitri",
)
LAST = (
    "Silva",
    "Smith",
    "Müller",
    "Rossi",
    "Dubois",
    "Novak",
    "Kowalski",
    "Haddad",
    "Tanaka",
    "Okafor",
    "García",
    "Nguyen",
    "Jensen",
    "O'Brien",
    "Costa",
    "Ivanova",
    "Larsen",
    "Moreau",
    "Schmidt",
    "Ali",
)
CITIES = (
    ("San Francisco", "CA", "94103"),
    ("Portland", "OR", "97205"),
    ("Austin", "TX", "78701"),
    ("Denver", "CO", "80202"),
    ("Boston", "MA", "02108"),
    ("Chicago", "IL", "60601"),
    ("Seattle", "WA", "98101"),
    ("Madison", "WI", "53703"),
)
DOMAINS = ("example.com", "example.org", "example.net")
STREETS = ("Market St", "Oak Ave", "Pine St", "Elm St", "Maple Rd", "Cedar Ln", "Lake Dr")
REVIEW_TEXTS = (
    "Great quality, will buy again.",
    "Arrived quickly and well packed.",
    "Good value for money.",
    "Not what I expected.",
    "Tastes wonderful!",
    "A bit pricey but worth it.",
    "Okay, nothing special.",
)
SPAM_TEXTS = ("Cheap watches here!!!", "Click this link for free money", "Best casino bonus 2024")
COMMENT_TEXTS = (
    "Thanks for the recipe!",
    "I tried this last weekend, delicious.",
    "Where do you source the beans?",
    "Great tips, thank you.",
    "Could you write about storing olive oil?",
    "Lovely post.",
)
POSTS = (
    "How we roast our coffee",
    "Five pantry staples",
    "Olive oil: a buyer's guide",
    "Zero-waste kitchen tips",
    "Our new organic range",
    "Honey, from hive to jar",
)
COUPONS: tuple[dict[str, Any], ...] = (
    {
        "code": "WELCOME10",
        "discount_type": "percent",
        "amount": "10",
        "description": "10% off, gift cards excluded",
    },
    {
        "code": "save5",
        "discount_type": "fixed_cart",
        "amount": "5.00",
        "description": "5.00 off the cart",
    },
    {
        "code": "freeship",
        "discount_type": "fixed_cart",
        "amount": "0",
        "free_shipping": True,
        "description": "Free shipping",
    },
    {
        "code": "organic15",
        "discount_type": "percent",
        "amount": "15",
        "description": "15% off organic",
    },
    {
        "code": "spring2020",
        "discount_type": "percent",
        "amount": "20",
        "date_expires_gmt": "2020-06-01T00:00:00",
    },
    {"code": "next-season", "discount_type": "percent", "amount": "25", "status": "draft"},
)
USABLE_COUPONS = ("welcome10", "save5", "freeship", "organic15")
# Final order fates for orders older than a few days, with weights like a small shop's.
FATES = (
    ("completed", 70),
    ("partial_refund", 7),
    ("refunded", 4),
    ("cancelled", 5),
    ("failed", 3),
    ("on-hold", 2),
    ("pending", 3),
    ("processing", 2),
    ("trash", 2),
    ("touched", 2),
)
RECENT_FATES = (
    ("processing", 45),
    ("completed", 25),
    ("pending", 15),
    ("on-hold", 10),
    ("failed", 5),
)
# Every special case the tests and demos rely on appears at least once in a default-size store.
FORCED_FATES = (
    "refunded",
    "refunded",
    "partial_refund",
    "partial_refund",
    "partial_refund",
    "trash",
    "cancelled",
    "failed",
    "on-hold",
    "pending",
    "processing",
    "touched",
)


@dataclass
class Person:
    """Someone who shops: a registered customer (customer_id set once registered) or a guest."""

    first: str
    last: str
    email: str
    billing: dict[str, str]
    registers_at: datetime | None = None
    weight: float = 1.0
    customer_id: int = 0

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"


@dataclass
class Plan:
    """Everything that will happen, as (time, sequence, action); played in that order."""

    events: list[tuple[datetime, int, Callable[[], object]]] = field(default_factory=list)

    def at(self, moment: datetime, action: Callable[[], object]) -> None:
        self.events.append((moment, len(self.events), action))


@dataclass
class OrderPlan:
    placed: datetime
    buyer: Person
    as_guest: bool
    items: list[tuple[int, int]]  # (product index, qty)
    fate: str
    coupon: str | None = None
    fee: bool = False
    order_id: int = 0


def generate_store(
    *,
    seed: int,
    customers: int = 50,
    orders: int = 300,
    reviews: int = 60,
    comments: int = 40,
    anchor: datetime | None = None,
    clock: Callable[[], datetime] | None = None,
) -> SandboxStore:
    """Deterministic: same arguments -> byte-identical store. `anchor` (aware UTC, default: today
    00:00 UTC) is the newest date generated; data spans the 18 months before it."""
    for name, value in (
        ("customers", customers),
        ("orders", orders),
        ("reviews", reviews),
        ("comments", comments),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"generate_store: {name} must be a whole number >= 0, got {value!r}")
    if anchor is None:
        anchor = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    elif anchor.tzinfo is None:
        raise ValueError("generate_store: anchor must be an aware datetime (UTC)")
    generator = _Generator(Random(seed), anchor.astimezone(UTC).replace(microsecond=0), clock)
    with collector_paused(), generator.store.bulk():
        return generator.run(customers, orders, reviews, comments)


class _Generator:
    def __init__(self, rng: Random, anchor: datetime, clock: Callable[[], datetime] | None) -> None:
        self.rng = rng
        self.anchor = anchor
        self.start = anchor - WINDOW
        self.store = SandboxStore(clock=clock)
        self.plan = Plan()
        self.emails: dict[str, int] = {}
        self.product_ids: list[int] = []
        self.product_weights = [w for *_, w in PRODUCTS]

    def run(self, customers: int, orders: int, reviews: int, comments: int) -> SandboxStore:
        self._catalogue()
        # some accounts belong to guests who register later with their checkout email
        converts = max(1, customers // 12) if customers >= 2 else 0
        registered = [self._person(registers=True) for _ in range(customers - converts)]
        guests = [self._person(registers=False) for _ in range(max(3, customers * 3 // 5))]
        order_plans = self._plan_orders(orders, registered, guests, converts)
        self._plan_reviews(reviews, order_plans, registered)
        self._plan_comments(comments, registered)
        for moment, _, action in sorted(self.plan.events, key=lambda e: (e[0], e[1])):
            with self.store.clock_at(moment):
                action()
        return self.store

    # ---- the fixed part: catalogue, coupons, blog posts ---------------------------------------

    def _catalogue(self) -> None:
        s, base = self.store, self.start - timedelta(days=400)
        with s.clock_at(base):
            cats = {name: s.add_category(name)["id"] for name in CATEGORIES}
        for n, (name, price, in_cats, _) in enumerate(PRODUCTS):
            with s.clock_at(base + timedelta(hours=1, minutes=7 * n)):
                product = s.add_product(
                    name=name,
                    price=Decimal(price),
                    category_ids=[cats[c] for c in in_cats],
                    sku=f"SBX-{n + 1:03d}",
                    virtual="Gift cards" in in_cats,
                    taxable="Gift cards" not in in_cats,
                )
            self.product_ids.append(product["id"])
        for n, body in enumerate(COUPONS):
            body = dict(body)
            if body["code"] in ("WELCOME10", "save5"):
                body["excluded_product_categories"] = [cats["Gift cards"]]
            if body["code"] == "organic15":
                body["product_categories"] = [cats["Organic"]]
            with s.clock_at(base + timedelta(days=30, hours=n)):
                s.create_coupon(body)
        for n, title in enumerate(POSTS):
            with s.clock_at(base + timedelta(days=40 + 20 * n)):
                s.add_post(title)
        for resource in RESOURCES:  # resources whose rows need no history, e.g. settings
            if resource.populate is not None:
                with s.clock_at(base):
                    resource.populate(s)

    # ---- people ----------------------------------------------------------------------------

    def _person(self, *, registers: bool) -> Person:
        rng = self.rng
        first, last = rng.choice(FIRST), rng.choice(LAST)
        local = _ascii(f"{first}.{last}")
        taken = self.emails.get(local, 0)
        self.emails[local] = taken + 1
        email = f"{local}{taken + 1 if taken else ''}@{rng.choice(DOMAINS)}"
        city, state, postcode = rng.choice(CITIES)
        billing = {
            "first_name": first,
            "last_name": last,
            "address_1": f"{rng.randint(1, 999)} {rng.choice(STREETS)}",
            "city": city,
            "state": state,
            "postcode": postcode,
            "country": "US",
            "phone": f"(555) 555-{rng.randint(0, 9999):04d}",
        }
        person = Person(first, last, email, billing, weight=rng.paretovariate(1.3))
        if registers:
            # a quarter were customers before the window; the rest sign up during it
            early = rng.random() < 0.25
            offset = (
                -rng.randrange(300 * DAY)
                if early
                else rng.randrange(int(WINDOW.total_seconds() * 0.9))
            )
            self._register(person, self.start + timedelta(seconds=offset))
        return person

    def _register(self, person: Person, moment: datetime) -> None:
        person.registers_at = moment

        def register() -> None:
            person.customer_id = self.store.register_customer(
                email=person.email,
                first_name=person.first,
                last_name=person.last,
                billing=person.billing,
            )["id"]

        self.plan.at(moment, register)

    # ---- orders ------------------------------------------------------------------------------

    def _plan_orders(
        self, count: int, registered: list[Person], guests: list[Person], converts: int
    ) -> list[OrderPlan]:
        rng, span = self.rng, int(WINDOW.total_seconds())
        times = sorted(
            self.start + timedelta(seconds=int(span * rng.random() ** 0.8)) for _ in range(count)
        )
        by_signup = sorted(registered, key=_signup)
        cumulative, total = [], 0.0
        for p in by_signup:
            total += p.weight
            cumulative.append(total)
        plans = [self._order_plan(t, by_signup, cumulative, guests) for t in times]
        converted = self._convert_guests(plans, converts)
        for _ in range(converts - converted):  # too few guest orders: they sign up without one
            self._person(registers=True)
        old = [i for i, p in enumerate(plans) if p.placed < self.anchor - timedelta(days=40)]
        for fate, i in zip(
            FORCED_FATES, rng.sample(old, min(len(old), len(FORCED_FATES))), strict=False
        ):
            plans[i].fate = fate
        for plan in plans:
            self._schedule_order(plan)
        return plans

    def _order_plan(
        self,
        moment: datetime,
        by_signup: list[Person],
        cumulative: list[float],
        guests: list[Person],
    ) -> OrderPlan:
        rng = self.rng
        buyer = self._pick_customer(moment, by_signup, cumulative) if rng.random() < 0.68 else None
        as_guest = buyer is None
        if buyer is None:
            buyer = (
                guests[min(int(rng.paretovariate(1.1)) - 1, len(guests) - 1)]
                if rng.random() < 0.5
                else rng.choice(guests)
            )
        lines: dict[int, int] = {}
        for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4))):
            index = rng.choices(range(len(PRODUCTS)), weights=self.product_weights)[0]
            lines[index] = lines.get(index, 0) + rng.choice((1, 1, 1, 2, 3))
        recent = moment > self.anchor - timedelta(days=3)
        fates = RECENT_FATES if recent else FATES
        fate = rng.choices([f for f, _ in fates], weights=[w for _, w in fates])[0]
        coupon = rng.choice(USABLE_COUPONS) if rng.random() < 0.15 else None
        categories = [c for i in lines for c in PRODUCTS[i][2]]
        if coupon == "organic15" and "Organic" not in categories:
            coupon = "welcome10"  # WooCommerce refuses a coupon that applies to nothing in the cart
        if coupon in ("welcome10", "save5") and all("Gift cards" in PRODUCTS[i][2] for i in lines):
            coupon = None
        return OrderPlan(
            moment, buyer, as_guest, sorted(lines.items()), fate, coupon, rng.random() < 0.04
        )

    def _pick_customer(
        self, moment: datetime, by_signup: list[Person], cumulative: list[float]
    ) -> Person | None:
        """A registered customer who exists at `moment`, loyal ones more often (Pareto weights)."""
        rng = self.rng
        eligible = bisect.bisect_left(by_signup, moment, key=_signup)
        if not eligible:
            return None
        for _ in range(4):
            chosen = by_signup[bisect.bisect_left(cumulative, rng.random() * cumulative[-1])]
            if chosen.registers_at is not None and chosen.registers_at < moment:
                return chosen
        return by_signup[rng.randrange(eligible)]

    def _convert_guests(self, plans: list[OrderPlan], wanted: int) -> int:
        """Guests who register later with the email they used at checkout (their old orders stay
        guest orders, as in WooCommerce). Returns how many could be converted."""
        rng = self.rng
        old_guest_orders = [
            p for p in plans if p.as_guest and p.placed < self.anchor - timedelta(days=30)
        ]
        by_buyer: dict[str, list[OrderPlan]] = {}
        for plan in plans:
            by_buyer.setdefault(plan.buyer.email, []).append(plan)
        rng.shuffle(old_guest_orders)
        converted = 0
        for plan in old_guest_orders:
            person = plan.buyer
            if converted == wanted:
                break
            if person.registers_at is not None:
                continue
            gap = min(
                rng.randrange(DAY, 60 * DAY), int((self.anchor - plan.placed).total_seconds()) - 1
            )
            self._register(person, plan.placed + timedelta(seconds=gap))
            for later in by_buyer[person.email]:
                later.as_guest = later.placed <= (person.registers_at or self.anchor)
            converted += 1
        return converted

    def _schedule_order(self, plan: OrderPlan) -> None:
        initial = {"pending": "pending", "failed": "pending", "on-hold": "on-hold"}.get(
            plan.fate, "processing"
        )
        if plan.fate == "cancelled":
            initial = "on-hold"
        if plan.fate == "completed" and self.rng.random() < 0.3:
            initial = "completed"  # virtual and instant-fulfilment orders complete at checkout
        self.plan.at(plan.placed, lambda: self._place(plan, initial))
        later = self._later(plan.placed)
        if plan.fate == "failed":
            self.plan.at(plan.placed + timedelta(minutes=3), lambda: self._status(plan, "failed"))
        elif plan.fate == "cancelled":
            self.plan.at(later(1, 5), lambda: self._status(plan, "cancelled"))
        elif plan.fate in ("completed", "partial_refund", "refunded", "trash", "touched"):
            done = later(0.2, 4)
            if initial != "completed":
                self.plan.at(done, lambda: self._status(plan, "completed"))
            self._after_completion(plan, self._later(done))

    def _after_completion(self, plan: OrderPlan, later: Callable[[float, float], datetime]) -> None:
        rng = self.rng
        if plan.fate == "partial_refund":
            for _ in range(rng.choice((1, 1, 1, 2))):
                kind = rng.choice(("amount", "line", "shipping"))
                self.plan.at(later(1, 30), functools.partial(self._partial_refund, plan, kind))
        elif plan.fate == "refunded":
            how = rng.choice(("status", "lines"))
            self.plan.at(later(2, 20), lambda: self._full_refund(plan, how))
        elif plan.fate == "trash":
            self.plan.at(later(20, 90), lambda: self.store.delete_order(plan.order_id, force=False))
        elif plan.fate == "touched":
            self.plan.at(later(1, 60), lambda: self.store.touch_order(plan.order_id))

    def _later(self, base: datetime) -> Callable[[float, float], datetime]:
        """A moment between lo and hi days after `base`, kept before the anchor."""

        def pick(lo: float, hi: float) -> datetime:
            moment = base + timedelta(seconds=self.rng.randrange(int(lo * DAY), int(hi * DAY) + 1))
            if moment < self.anchor:
                return moment
            room = int((self.anchor - base).total_seconds())  # squeeze it in, not onto the anchor
            return base + timedelta(seconds=self.rng.randrange(1, room) if room > 1 else 1)

        return pick

    def _place(self, plan: OrderPlan, status: str) -> None:
        person = plan.buyer
        items = [(self.product_ids[i], q) for i, q in plan.items]
        customer_id = 0 if plan.as_guest else person.customer_id
        cart = sum(Decimal(PRODUCTS[i][1]) * q for i, q in plan.items)
        physical = any("Gift cards" not in PRODUCTS[i][2] for i, _ in plan.items)
        order = self.store.place_order(
            customer_id=customer_id,
            email=person.email if plan.as_guest else None,
            items=items,
            status=status,
            coupon_code=plan.coupon,
            billing=person.billing if plan.as_guest else None,
            shipping=Decimal(0) if physical and cart >= 75 else None,
            fee=Decimal("2.50") if plan.fee else None,
        )
        plan.order_id = order["id"]

    def _status(self, plan: OrderPlan, status: str) -> None:
        self.store.set_order_status(plan.order_id, status)

    def _partial_refund(self, plan: OrderPlan, kind: str) -> None:
        store, order = self.store, self.store.get("orders", plan.order_id)
        remaining = Decimal(order["total"]) + sum(Decimal(e["total"]) for e in order["refunds"])
        if (
            kind == "shipping"
            and any(Decimal(s["total"]) > 0 for s in order["shipping_lines"])
            and not order["refunds"]
        ):
            store.refund_order(plan.order_id, shipping=True, reason="Delivery was late")
        elif kind == "line" and not order["refunds"]:
            paid = [li for li in order["line_items"] if Decimal(li["total"]) > 0] or order[
                "line_items"
            ]
            line = self.rng.choice(paid)
            store.refund_order(plan.order_id, lines=[(line["id"], 1)], reason="Damaged item")
        else:
            share = Decimal(self.rng.randint(5, 30)) / 100
            amount = (Decimal(order["total"]) * share).quantize(Decimal("0.01"))
            if 0 < amount < remaining:
                store.refund_order(plan.order_id, amount=amount, reason="Goodwill gesture")

    def _full_refund(self, plan: OrderPlan, how: str) -> None:
        if how == "status":
            self.store.set_order_status(plan.order_id, "refunded")
            return
        order = self.store.get("orders", plan.order_id)
        lines = [(li["id"], li["quantity"]) for li in order["line_items"]]
        has_shipping = any(Decimal(s["total"]) > 0 for s in order["shipping_lines"])
        self.store.refund_order(
            plan.order_id, lines=lines, shipping=has_shipping, reason="Returned"
        )
        if self.store.get("orders", plan.order_id)["status"] != "refunded":  # fees are not itemised
            self.store.refund_order(plan.order_id, reason="Returned")

    # ---- reviews and comments ------------------------------------------------------------------

    def _plan_reviews(self, count: int, orders: list[OrderPlan], registered: list[Person]) -> None:
        rng = self.rng
        bought = [
            (o, i)
            for o in orders
            for i, _ in o.items
            if o.fate not in ("failed", "pending", "cancelled")
        ]
        written: list[tuple[Person, int, datetime, bool]] = []
        for n in range(count):
            if written and rng.random() < 0.08:  # the same person reviews the same product again
                person, index, moment, verified = written[rng.randrange(len(written))]
                when = self._later(moment)(1, 60)
            elif bought and rng.random() < 0.7:
                order, index = bought[rng.randrange(len(bought))]
                person, verified, when = order.buyer, True, self._later(order.placed)(2, 40)
            else:
                person = (
                    rng.choice(registered)
                    if registered and rng.random() < 0.4
                    else self._stranger()
                )
                index, verified = rng.randrange(len(PRODUCTS)), False
                when = self.start + timedelta(seconds=rng.randrange(int(WINDOW.total_seconds())))
            written.append((person, index, when, verified))
            self._schedule_review(n, person, index, when, verified)

    def _schedule_review(
        self, n: int, person: Person, index: int, when: datetime, verified: bool
    ) -> None:
        rng = self.rng
        status = rng.choices(("approved", "hold", "spam"), weights=(70, 15, 15))[0]
        spam = status == "spam"
        text = rng.choice(SPAM_TEXTS if spam else REVIEW_TEXTS)
        rating = 5 if spam else rng.choices((1, 2, 3, 4, 5), weights=(1, 1, 2, 4, 6))[0]
        review_id = [0]

        def add() -> None:
            review_id[0] = self.store.add_review(
                product_id=self.product_ids[index],
                email=person.email,
                name=person.name,
                rating=rating,
                text=text,
                status=status,
                verified=verified and not spam,
            )["id"]

        self.plan.at(when, add)
        if status == "hold" and rng.random() < 0.5:  # a moderator gets to it later
            verdict = rng.choice(("approved", "approved", "spam", "trash"))
            self.plan.at(
                self._later(when)(0.5, 10),
                lambda: self.store.set_review_status(review_id[0], verdict),
            )

    def _plan_comments(self, count: int, registered: list[Person]) -> None:
        rng, posts = self.rng, self.store.post_ids()
        planned: dict[int, list[tuple[datetime, list[int]]]] = {post: [] for post in posts}
        for _ in range(count):
            post = rng.choice(posts)
            parent_ref: list[int] | None = None
            earlier = planned[post]
            when = self.start + timedelta(seconds=rng.randrange(int(WINDOW.total_seconds())))
            if earlier and rng.random() < 0.25:
                parent_when, parent_ref = earlier[rng.randrange(len(earlier))]
                when = self._later(parent_when)(0.1, 20)
            member = rng.choice(registered) if registered and rng.random() < 0.5 else None
            if member is not None and (member.registers_at is None or member.registers_at >= when):
                member = None
            person = member or self._stranger()
            status = rng.choices(("approved", "hold", "spam", "trash"), weights=(55, 15, 20, 10))[0]
            ref = [0]
            planned[post].append((when, ref))
            self.plan.at(
                when,
                self._comment_action(post, person, member is not None, status, parent_ref, ref),
            )

    def _comment_action(
        self,
        post: int,
        person: Person,
        member: bool,
        status: str,
        parent: list[int] | None,
        ref: list[int],
    ) -> Callable[[], None]:
        text = self.rng.choice(SPAM_TEXTS if status == "spam" else COMMENT_TEXTS)

        def add() -> None:
            ref[0] = self.store.add_comment(
                post_id=post,
                email=person.email,
                name=person.name,
                text=text,
                author=person.customer_id if member else 0,
                parent=parent[0] if parent else 0,
                status=status,
            )["id"]

        return add

    def _stranger(self) -> Person:
        rng = self.rng
        first, last = rng.choice(FIRST), rng.choice(LAST)
        email = f"{_ascii(first)}{rng.randint(10, 9999)}@{rng.choice(DOMAINS)}"
        return Person(first, last, email, {})


def _signup(person: Person) -> datetime:
    assert person.registers_at is not None
    return person.registers_at


def _ascii(text: str) -> str:
    """An email-safe local part: accents dropped, lowercased, letters, digits and dots only."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return "".join(c for c in plain if c.isalnum() or c == ".")
