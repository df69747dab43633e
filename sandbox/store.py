"""The sandbox store's state: an in-memory WooCommerce + WordPress with WooCommerce's write semantics.

For the sandbox server (which serves these objects over wc/v3 and wp/v2), the generator and tests
(which act as shoppers and admins through the control actions). Objects are kept as JSON dicts
exactly as served, without `_links`. Every public method takes `self.lock`; readers get deep
copies, so nothing outside can change the state except through these methods.
"""

from __future__ import annotations

import functools
import json
import marshal
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ParamSpec, TypeVar

from sandbox import resources as r
from sandbox.resources import Json

RESOURCES = ("customers", "products", "orders", "refunds", "reviews", "comments", "coupons")
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
COMMENT_STATUSES = ("approved", "hold", "spam", "trash")
COUPON_STATUSES = ("publish", "draft", "pending", "private", "future")
DISCOUNT_TYPES = ("percent", "fixed_cart", "fixed_product")
STATE_FORMAT = "woo-loyalty-sandbox-store/1"
DEFAULT_SITE_URL = "https://sandbox.test"
DEFAULT_TAX_RATE = Decimal("0.10")
DEFAULT_SHIPPING = Decimal("5.00")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

# WooCommerce's codes for a missing object, per resource: (code, message); GETs answer 404.
INVALID_ID = {
    "orders": ("woocommerce_rest_shop_order_invalid_id", "Invalid ID."),
    "refunds": ("woocommerce_rest_shop_order_refund_invalid_id", "Invalid ID."),
    "coupons": ("woocommerce_rest_shop_coupon_invalid_id", "Invalid ID."),
    "products": ("woocommerce_rest_product_invalid_id", "Invalid ID."),
    "customers": ("wc_user_invalid_id", "Invalid user ID."),
    "reviews": ("woocommerce_rest_review_invalid_id", "Invalid review ID."),
    "comments": ("rest_comment_invalid_id", "Invalid comment ID."),
}

P = ParamSpec("P")
T = TypeVar("T")


class SandboxError(Exception):
    """A WooCommerce-style error: code, message, HTTP status, optional extra data (e.g. params)."""

    def __init__(self, code: str, message: str, status: int, data: dict[str, Any] | None = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.data = dict(data or {})

    def body(self) -> dict[str, Any]:
        """The JSON body WooCommerce answers with: {"code","message","data":{"status", ...}}."""
        return {
            "code": self.code,
            "message": self.message,
            "data": {"status": self.status, **self.data},
        }


def wp_list(values: tuple[str, ...] | list[str]) -> str:
    """WordPress's wp_sprintf_l list: "a, b, and c"."""
    if len(values) <= 2:
        return " and ".join(values)
    return ", ".join(values[:-1]) + ", and " + values[-1]


def invalid_param(
    param: str, message: str, detail_code: str = "rest_invalid_param"
) -> SandboxError:
    """WordPress's 400 for a bad argument, naming it in `data.params` (and `data.details`)."""
    details = {param: {"code": detail_code, "message": message, "data": None}}
    return SandboxError(
        "rest_invalid_param",
        f"Invalid parameter(s): {param}",
        400,
        {"params": {param: message}, "details": details},
    )


def not_one_of(param: str, allowed: tuple[str, ...]) -> SandboxError:
    return invalid_param(param, f"{param} is not one of {wp_list(allowed)}.", "rest_not_in_enum")


def not_of_type(param: str, type_name: str) -> SandboxError:
    return invalid_param(param, f"{param} is not of type {type_name}.", "rest_invalid_type")


def missing_params(*names: str) -> SandboxError:
    return SandboxError(
        "rest_missing_callback_param",
        f"Missing parameter(s): {', '.join(names)}",
        400,
        {"params": list(names)},
    )


def clone(value: T) -> T:
    """A deep copy of JSON data (marshal v2 keeps no shared references and is ~3x deepcopy's speed)."""
    # Only bytes marshalled right here are unmarshalled: never foreign input.
    copied: T = marshal.loads(marshal.dumps(value, 2))  # type: ignore[arg-type]  # noqa: S302
    return copied


def _locked(method: Callable[P, T]) -> Callable[P, T]:
    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        with args[0].lock:  # type: ignore[attr-defined]
            return method(*args, **kwargs)

    return wrapper


def _real_now() -> datetime:
    return datetime.now(UTC)


def _field(body: Json, key: str, kind: type, type_name: str, path: str | None = None) -> Any:
    """body[key] if present and of the JSON type WooCommerce's schema declares, else a 400."""
    value = body.get(key)
    if value is not None and (
        not isinstance(value, kind) or isinstance(value, bool) is not (kind is bool)
    ):
        raise not_of_type(path or key, type_name)
    return value


def _money_field(body: Json, key: str) -> str | None:
    value = _field(body, key, str, "string")
    if value is None:
        return None
    try:
        amount = Decimal(value or "0")
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite():
        raise invalid_param(key, f"{key} is not a valid amount.")
    return r.fmt(amount)


def _check_email(value: str, code: str, message: str) -> str:
    if value and not EMAIL.match(value):
        raise SandboxError(code, message, 400)
    return value


class SandboxStore:
    """In-memory WooCommerce + WordPress state.

    Objects are kept as JSON dicts exactly as served, without `_links` (the server adds `_links`
    from its base URL). Thread-safe: every public method takes `self.lock` (an RLock).
    """

    def __init__(self, *, clock: Callable[[], datetime] | None = None) -> None:
        self.lock = threading.RLock()
        self._clock = clock or _real_now
        self._frozen: datetime | None = None
        self.site_url = DEFAULT_SITE_URL
        self.tax_rate = DEFAULT_TAX_RATE
        self._data: dict[str, dict[int, Json]] = {name: {} for name in RESOURCES}
        # WordPress tables: posts (products, coupons, orders, refunds, blog posts share ids), users
        # (1 is the shop admin), comments (reviews too), order items and their meta, terms.
        self._seq = {
            "post": 100,
            "user": 1,
            "comment": 0,
            "order_item": 0,
            "item_meta": 0,
            "meta": 0,
            "term": 14,
        }
        self._categories: dict[int, Json] = {}
        self._posts: dict[int, Json] = {}
        self._hidden_meta: dict[str, list[Json]] = {}  # "customers:12" -> rows never served
        self._refund_parent: dict[int, int] = {}
        self._coupon_counted: set[int] = set()  # orders whose coupon use is in usage_count
        self._reviews_of_product: dict[int, list[int]] = {}
        self._email_index: dict[str, int] = {}
        self._usernames: set[str] = set()

    # ---- time and ids -------------------------------------------------------------------------

    def now(self) -> datetime:
        """The store's current time: aware UTC, whole seconds (as WooCommerce stores dates)."""
        moment = self._frozen or self._clock()
        if moment.tzinfo is None:
            raise ValueError("the sandbox clock must return an aware datetime (UTC)")
        return moment.astimezone(UTC).replace(microsecond=0)

    @contextmanager
    def clock_at(self, moment: datetime) -> Iterator[None]:
        """Act as if it were `moment` (aware): for the generator and tests replaying history."""
        if moment.tzinfo is None:
            raise ValueError("clock_at needs an aware datetime")
        with self.lock:
            previous, self._frozen = self._frozen, moment
            try:
                yield
            finally:
                self._frozen = previous

    def _next(self, sequence: str) -> int:
        self._seq[sequence] += 1
        return self._seq[sequence]

    def _meta_id(self) -> int:
        return self._next("meta")

    def _stamp(self, obj: Json, *fields: str) -> None:
        """Set date fields (local + _gmt pair) to now; `date_modified` is the usual one."""
        local, gmt = r.wc_dates(self.now())
        for name in fields or ("date_modified",):
            obj[name], obj[f"{name}_gmt"] = local, gmt

    # ---- reads --------------------------------------------------------------------------------

    def _collection(self, resource: str) -> dict[int, Json]:
        if resource not in self._data:
            raise ValueError(
                f"unknown sandbox resource {resource!r}; one of {', '.join(RESOURCES)}"
            )
        return self._data[resource]

    def _find(self, resource: str, id: int, status: int = 404) -> Json:
        obj = self._collection(resource).get(id)
        if obj is None:
            code, message = INVALID_ID[resource]
            raise SandboxError(code, message, status)
        return obj

    @_locked
    def all(self, resource: str) -> list[Json]:
        """Every object of a resource, deep copies sorted by id (ids ascend with creation)."""
        return [clone(obj) for obj in self._collection(resource).values()]

    @_locked
    def get(self, resource: str, id: int) -> Json:
        """One object (deep copy); WooCommerce's invalid-id error (404) when there is none."""
        return clone(self._find(resource, id))

    @_locked
    def query(
        self,
        resource: str,
        *,
        where: Callable[[Json], bool] | None = None,
        key: Callable[[Json], Any] | None = None,
        reverse: bool = False,
        offset: int = 0,
        limit: int | None = None,
    ) -> tuple[int, list[Json]]:
        """Filter, sort and slice without copying the whole collection: (matches, copies of the slice).

        `where` and `key` see the stored dicts and must not modify them. Only the returned slice is
        copied, so listing one page of 100,000 orders stays cheap.
        """
        rows = [o for o in self._collection(resource).values() if where is None or where(o)]
        if key is not None:
            rows.sort(key=key, reverse=reverse)
        elif reverse:
            rows.reverse()
        end = None if limit is None else offset + limit
        return len(rows), [clone(o) for o in rows[offset:end]]

    @_locked
    def count(self, resource: str) -> int:
        return len(self._collection(resource))

    @_locked
    def refund_parent(self, refund_id: int) -> int:
        """The order a refund belongs to."""
        self._find("refunds", refund_id)
        return self._refund_parent[refund_id]

    @_locked
    def refunds_of(self, order_id: int) -> list[Json]:
        """An order's refunds, newest first (as /orders/{id}/refunds lists them by default)."""
        embedded = self._find("orders", order_id)["refunds"]
        return [clone(self._data["refunds"][e["id"]]) for e in embedded]

    @_locked
    def trashed_order_ids(self) -> set[int]:
        """Orders in the trash (status "trash"); orders deleted for good are gone entirely."""
        return {oid for oid, o in self._data["orders"].items() if o["status"] == "trash"}

    @_locked
    def coupon_id_by_code(self, code: str) -> int | None:
        """The newest published coupon with this code (wc_get_coupon_id_by_code), or None."""
        wanted = code.strip().lower()
        ids = [
            c["id"]
            for c in self._data["coupons"].values()
            if c["code"] == wanted and c["status"] == "publish"
        ]
        return max(ids) if ids else None

    @_locked
    def customer_id_by_email(self, email: str) -> int | None:
        return self._email_index.get(email.strip().lower())

    # ---- catalogue (control actions for the generator and tests) ----------------------------------

    @_locked
    def add_category(self, name: str) -> Json:
        """A product category term: {id, name, slug} as products embed it."""
        category: Json = {
            "id": self._next("term"),
            "name": name,
            "slug": re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-"),
        }
        self._categories[category["id"]] = category
        return dict(category)

    @_locked
    def add_product(
        self,
        *,
        name: str,
        price: Decimal,
        category_ids: list[int],
        sku: str = "",
        virtual: bool = False,
        taxable: bool = True,
    ) -> Json:
        """A published simple product in the given categories."""
        missing = [c for c in category_ids if c not in self._categories]
        if missing:
            raise invalid_param("category_ids", f"category_ids has unknown category {missing[0]}.")
        pid = self._next("post")
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        obj = r.product(
            id=pid,
            name=name,
            slug=slug,
            sku=sku,
            price=price,
            created=self.now(),
            categories=[dict(self._categories[c]) for c in category_ids],
            site_url=self.site_url,
            virtual=virtual,
            taxable=taxable,
        )
        self._data["products"][pid] = obj
        return clone(obj)

    @_locked
    def add_post(self, title: str) -> int:
        """A published blog post that comments can be left on; returns its id."""
        pid = self._next("post")
        self._posts[pid] = {"id": pid, "title": title, "date_gmt": r.wc_dates(self.now())[1]}
        return pid

    @_locked
    def post_ids(self) -> list[int]:
        return list(self._posts)

    # ---- persistence ----------------------------------------------------------------------------

    @_locked
    def to_json(self) -> str:
        """The whole state as JSON; byte-identical for identical stores (for `--state FILE`)."""
        state = {
            "format": STATE_FORMAT,
            "site_url": self.site_url,
            "tax_rate": str(self.tax_rate),
            "sequences": self._seq,
            "categories": list(self._categories.values()),
            "posts": list(self._posts.values()),
            **{name: list(self._data[name].values()) for name in RESOURCES},
            "refund_parents": [[rid, oid] for rid, oid in self._refund_parent.items()],
            "hidden_meta": [[ref, rows] for ref, rows in self._hidden_meta.items()],
            "coupon_use_counted": sorted(self._coupon_counted),
        }
        return json.dumps(state, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str, *, clock: Callable[[], datetime] | None = None) -> SandboxStore:
        """Rebuild a store saved by to_json()."""
        try:
            state = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"sandbox state is not JSON: {exc}") from None
        if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
            raise ValueError(f"sandbox state: expected format {STATE_FORMAT!r}")
        store = cls(clock=clock)
        store.site_url, store.tax_rate = state["site_url"], Decimal(state["tax_rate"])
        store._seq = dict(state["sequences"])
        store._categories = {c["id"]: c for c in state["categories"]}
        store._posts = {p["id"]: p for p in state["posts"]}
        for name in RESOURCES:
            store._data[name] = {o["id"]: o for o in state[name]}
        store._refund_parent = dict(state["refund_parents"])
        store._hidden_meta = dict(state["hidden_meta"])
        store._coupon_counted = set(state["coupon_use_counted"])
        store._reindex()
        return store

    def _reindex(self) -> None:
        self._email_index = {c["email"].lower(): cid for cid, c in self._data["customers"].items()}
        self._usernames = {c["username"] for c in self._data["customers"].values()}
        self._reviews_of_product = {}
        for rid, review in self._data["reviews"].items():
            self._reviews_of_product.setdefault(review["product_id"], []).append(rid)

    # ---- shared write helpers ---------------------------------------------------------------

    def _meta_updates(self, body: Json) -> list[Json] | None:
        """The body's `meta_data`, checked entry by entry (each needs a string `key`)."""
        entries = _field(body, "meta_data", list, "array")
        for n, entry in enumerate(entries or []):
            if not isinstance(entry, dict):
                raise not_of_type(f"meta_data[{n}]", "object")
            if not isinstance(entry.get("key"), str):
                raise not_of_type(f"meta_data[{n}][key]", "string")
            meta_id = entry.get("id")
            if meta_id not in (None, "") and (
                not isinstance(meta_id, int) or isinstance(meta_id, bool)
            ):
                raise not_of_type(f"meta_data[{n}][id]", "integer")
        return entries

    def _write_meta(
        self, obj: Json, ref: str, entries: list[Json], hidden: Callable[[str], bool]
    ) -> None:
        """Apply meta updates to obj["meta_data"]; rows WooCommerce never returns are kept aside."""
        rows = self._hidden_meta.setdefault(ref, [])
        obj["meta_data"] = r.apply_meta_updates(
            obj["meta_data"], rows, entries, self._meta_id, hidden
        )
        if not rows:
            del self._hidden_meta[ref]

    @_locked
    def add_meta(self, resource: str, id: int, key: str, value: Any) -> Json:
        """A plugin adds a meta row directly (add_metadata, not unique): duplicates are possible.

        For customers, orders and coupons. WordPress does not touch date_modified for this.
        """
        if resource not in META_HIDDEN:
            raise ValueError(f"add_meta: resource must be one of {', '.join(META_HIDDEN)}")
        obj = self._find(resource, id)
        row = {"id": self._meta_id(), "key": key, "value": value}
        if META_HIDDEN[resource](key):
            self._hidden_meta.setdefault(f"{resource}:{id}", []).append(row)
        else:
            obj["meta_data"].append(row)
        return dict(row)

    @_locked
    def hidden_meta(self, resource: str, id: int) -> list[Json]:
        """Meta rows stored for an object but never served (e.g. `wp_` keys); for tests."""
        return clone(self._hidden_meta.get(f"{resource}:{id}", []))

    @staticmethod
    def _address(current: Json, body: Json, key: str, email_error: tuple[str, str]) -> Json:
        """A copy of `current` with the body's known address fields applied (unknown ones ignored)."""
        changes = _field(body, key, dict, "object")
        merged = dict(current)
        for name, value in (changes or {}).items():
            if name not in merged:
                continue
            if not isinstance(value, str):
                raise not_of_type(f"{key}[{name}]", "string")
            merged[name] = value.strip()
        if "email" in merged:
            _check_email(merged["email"], *email_error)
        return merged

    # ---- customers -------------------------------------------------------------------------

    def _free_username(self, email: str) -> str:
        """WooCommerce's generated username: the email's local part, made unique."""
        base = re.sub(r"[^a-z0-9._-]", "", email.split("@")[0].lower()) or "customer"
        name, n = base, 1
        while name in self._usernames:
            n += 1
            name = f"{base}-{n}"
        return name

    def _new_customer(self, email: str, username: str | None) -> Json:
        email = email.strip()
        if not EMAIL.match(email):
            raise SandboxError(
                "registration-error-invalid-email", "Please provide a valid email address.", 400
            )
        if email.lower() in self._email_index:
            raise SandboxError("registration-error-email-exists", EMAIL_EXISTS, 400)
        if username and username in self._usernames:
            raise SandboxError("registration-error-username-exists", USERNAME_EXISTS, 400)
        cid = self._next("user")
        obj = r.customer(
            id=cid,
            email=email,
            first="",
            last="",
            username=username or self._free_username(email),
            created=self.now(),
            billing=r.address(email=""),
            shipping=r.address(),
        )
        self._data["customers"][cid] = obj
        self._email_index[email.lower()] = cid
        self._usernames.add(obj["username"])
        return obj

    def _apply_customer(self, customer: Json, body: Json) -> Json:
        """A changed copy of the customer; raises before anything is stored if the body is bad."""
        work = clone(customer)
        email = _field(body, "email", str, "string")
        if email is not None:
            work["email"] = _check_email(
                email.strip(), "customer_invalid_email", "Invalid email address"
            )
        for key in ("first_name", "last_name"):
            value = _field(body, key, str, "string")
            if value is not None:
                work[key] = value.strip()
        work["billing"] = self._address(
            work["billing"],
            body,
            "billing",
            ("customer_invalid_billing_email", "Invalid billing email address"),
        )
        work["shipping"] = self._address(work["shipping"], body, "shipping", ("", ""))
        return work

    def _commit_customer(self, work: Json, body: Json) -> Json:
        cid = work["id"]
        entries = self._meta_updates(body)
        if entries:
            self._write_meta(work, f"customers:{cid}", entries, r.is_hidden_customer_meta)
        old_email = self._data["customers"][cid]["email"].lower()
        self._email_index.pop(old_email, None)
        self._email_index[work["email"].lower()] = cid
        self._stamp(work)
        self._data["customers"][cid] = work
        return clone(work)

    @_locked
    def create_customer(self, body: Json) -> Json:
        """POST /customers: `email` required; username generated from it unless given."""
        email = _field(body, "email", str, "string")
        if not email:
            raise missing_params("email")
        username = _field(body, "username", str, "string")
        self._meta_updates(body)  # a bad meta_data entry must fail before the account exists
        customer = self._new_customer(email, username)
        try:
            work = self._apply_customer(customer, body)
        except SandboxError:
            self._drop_customer(customer["id"])
            raise
        return self._commit_customer(work, body)

    @_locked
    def update_customer(self, id: int, body: Json, *, from_batch: bool = False) -> Json:
        """PUT /customers/{id} (incl. meta_data semantics); bumps date_modified.

        A bad id is 404 `wc_user_invalid_id` (the permission check answers first); inside
        /customers/batch, which skips that check, it is 400 `woocommerce_rest_invalid_id`.
        """
        customer = self._data["customers"].get(id)
        if customer is None:
            if from_batch:
                raise SandboxError("woocommerce_rest_invalid_id", "Invalid resource ID.", 400)
            raise SandboxError(*INVALID_ID["customers"], 404)
        email = _field(body, "email", str, "string")
        owner = self._email_index.get(email.strip().lower()) if email else None
        if owner is not None and owner != id:
            raise SandboxError(
                "woocommerce_rest_customer_invalid_email", "Email address is invalid.", 400
            )
        username = _field(body, "username", str, "string")
        if username and username != customer["username"]:
            raise SandboxError(
                "woocommerce_rest_customer_invalid_argument", "Username isn't editable.", 400
            )
        self._meta_updates(body)
        return self._commit_customer(self._apply_customer(customer, body), body)

    @_locked
    def delete_customer(self, id: int, *, force: bool, reassign: int | None = None) -> Json:
        """DELETE /customers/{id}: needs force; the customer's orders become guest orders."""
        if not force:
            raise SandboxError(
                "woocommerce_rest_trash_not_supported", "Customers do not support trashing.", 501
            )
        snapshot = clone(self._find("customers", id))
        if reassign and (reassign == id or reassign not in self._data["customers"]):
            raise SandboxError(
                "woocommerce_rest_customer_invalid_reassign",
                "Invalid resource id for reassignment.",
                400,
            )
        self._drop_customer(id)
        for order in self._data["orders"].values():
            if order["customer_id"] == id:
                order["customer_id"] = 0  # WooCommerce rewrites the meta without saving the order
        return snapshot

    def _drop_customer(self, cid: int) -> None:
        customer = self._data["customers"].pop(cid)
        self._email_index.pop(customer["email"].lower(), None)
        self._usernames.discard(customer["username"])
        self._hidden_meta.pop(f"customers:{cid}", None)

    @_locked
    def register_customer(
        self, *, email: str, first_name: str = "", last_name: str = "", billing: Json | None = None
    ) -> Json:
        """A shopper creates an account (at checkout): names and billing email filled in.

        A guest who registers later keeps their old guest orders (customer_id 0), as in WooCommerce.
        """
        customer = self._new_customer(email, None)
        address = {
            "first_name": first_name,
            "last_name": last_name,
            "email": customer["email"],
            **(billing or {}),
        }
        body = {
            "first_name": first_name,
            "last_name": last_name,
            "billing": address,
            "shipping": {k: v for k, v in address.items() if k != "email"},
        }
        try:
            work = self._apply_customer(customer, body)
        except SandboxError:
            self._drop_customer(customer["id"])
            raise
        work["date_modified"], work["date_modified_gmt"] = (
            customer["date_modified"],
            customer["date_modified_gmt"],
        )
        self._data["customers"][work["id"]] = work
        return clone(work)

    def _mark_paying(self, order: Json) -> None:
        customer = self._data["customers"].get(order["customer_id"])
        if customer is not None and not customer["is_paying_customer"]:
            customer["is_paying_customer"] = True
            self._stamp(customer)

    # ---- coupons --------------------------------------------------------------------------

    def _coupon_code(self, raw: str, exclude: int) -> str:
        code = raw.strip().lower()  # wc_format_coupon_code + wc_strtolower
        if not code:
            raise SandboxError(
                "woocommerce_rest_empty_coupon_code", "The coupon code cannot be empty.", 400
            )
        for c in self._data["coupons"].values():
            if c["code"] == code and c["status"] == "publish" and c["id"] != exclude:
                raise SandboxError(
                    "woocommerce_rest_coupon_code_already_exists",
                    "The coupon code already exists",
                    400,
                )
        return code

    def _coupon_fields(self, body: Json) -> Json:
        """The writable coupon fields of a body, validated against WooCommerce's schema types."""
        out: Json = {}
        for key in ("amount", "minimum_amount", "maximum_amount"):
            if (value := _money_field(body, key)) is not None:
                out[key] = value
        for key in ("individual_use", "free_shipping", "exclude_sale_items"):
            if (flag := _field(body, key, bool, "boolean")) is not None:
                out[key] = flag
        for key in (
            "product_ids",
            "excluded_product_ids",
            "product_categories",
            "excluded_product_categories",
        ):
            if (ids := _field(body, key, list, "array")) is not None:
                out[key] = [_int_item(key, n, v) for n, v in enumerate(ids)]
        for key in ("usage_limit", "usage_limit_per_user", "limit_usage_to_x_items"):
            if key in body:
                out[key] = _field(body, key, int, "integer") or None
        if (description := _field(body, "description", str, "string")) is not None:
            out["description"] = description
        if (kind := _field(body, "discount_type", str, "string")) is not None:
            if kind not in DISCOUNT_TYPES:
                raise not_one_of("discount_type", DISCOUNT_TYPES)
            out["discount_type"] = kind
        if (status := _field(body, "status", str, "string")) is not None:
            if status not in COUPON_STATUSES:
                raise not_one_of("status", COUPON_STATUSES)
            out["status"] = status
        if (emails := _field(body, "email_restrictions", list, "array")) is not None:
            out["email_restrictions"] = [
                _str_item("email_restrictions", n, e).strip().lower() for n, e in enumerate(emails)
            ]
        out.update(_expiry(body))
        amount = Decimal(out.get("amount", "0"))
        if amount < 0 or (out.get("discount_type") == "percent" and amount > 100):
            raise SandboxError("coupon_invalid_amount", "Invalid discount amount", 400)
        return out

    @_locked
    def create_coupon(self, body: Json) -> Json:
        """POST /coupons: the code is lowercased and must be unique among published coupons."""
        raw = _field(body, "code", str, "string")
        if raw is None:
            raise missing_params("code")
        code = self._coupon_code(raw, exclude=0)
        fields = self._coupon_fields(body)
        entries = self._meta_updates(body)
        cid = self._next("post")
        coupon = r.coupon(id=cid, code=code, created=self.now(), fields=fields)
        if entries:
            self._write_meta(coupon, f"coupons:{cid}", entries, _hidden_post_meta)
        self._data["coupons"][cid] = coupon
        return clone(coupon)

    @_locked
    def update_coupon(self, id: int, body: Json) -> Json:
        """PUT /coupons/{id}; a bad id is 400 as WooCommerce answers updates."""
        coupon = self._find("coupons", id, status=400)
        raw = _field(body, "code", str, "string")
        code = self._coupon_code(raw, exclude=id) if raw is not None else coupon["code"]
        fields = self._coupon_fields(body)
        entries = self._meta_updates(body)
        coupon.update(fields, code=code)
        if entries:
            self._write_meta(coupon, f"coupons:{id}", entries, _hidden_post_meta)
        self._stamp(coupon)
        return clone(coupon)

    @_locked
    def delete_coupon(self, id: int, *, force: bool) -> Json:
        """DELETE /coupons/{id}: trash (status "trash") or, with force, gone. Answers the coupon as
        it was before, since WooCommerce prepares the response before deleting."""
        coupon = self._find("coupons", id)
        snapshot = clone(coupon)
        if force:
            del self._data["coupons"][id]
            self._hidden_meta.pop(f"coupons:{id}", None)
        elif coupon["status"] == "trash":
            raise SandboxError(
                "woocommerce_rest_already_trashed", "The shop_coupon has already been deleted.", 410
            )
        else:
            coupon["status"] = "trash"
            self._stamp(coupon)
        return snapshot

    def _usable_coupon(self, code: str) -> Json:
        cid = self.coupon_id_by_code(code)
        if cid is None:
            raise SandboxError(
                "woocommerce_rest_invalid_coupon", f'Coupon "{code}" does not exist!', 400
            )
        coupon = self._data["coupons"][cid]
        expires = coupon["date_expires_gmt"]
        if expires is not None and r.parse_gmt(expires) < self.now():
            raise SandboxError("woocommerce_rest_invalid_coupon", "This coupon has expired.", 400)
        return coupon

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

    # ---- orders ----------------------------------------------------------------------------

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

    def _refresh_flags(self, order: Json) -> None:
        # WooCommerce skips processing only when every item is both virtual and downloadable
        products = self._data["products"]
        processing = any(
            not (product.get("virtual") and product.get("downloadable"))
            for product in (products.get(li["product_id"], {}) for li in order["line_items"])
        )
        r.order_flags(order, needs_processing=processing)

    @_locked
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

    @_locked
    def set_order_status(self, order_id: int, status: str) -> Json:
        """An admin changes the status (also restores a trashed order); bumps date_modified."""
        order = self._find("orders", order_id)
        if status not in ORDER_STATUSES:
            raise not_one_of("status", ORDER_STATUSES)
        if order["status"] != status:  # WooCommerce saves nothing when nothing changed
            self._change_status(order, status)
        return clone(order)

    @_locked
    def touch_order(self, order_id: int) -> Json:
        """An admin edit that changes nothing visible but date_modified."""
        order = self._find("orders", order_id)
        self._stamp(order)
        return clone(order)

    @_locked
    def update_order(self, id: int, body: Json) -> Json:
        """PUT /orders/{id}: status (with its side effects), set_paid, customer_id, notes,
        payment fields, billing/shipping and meta_data. Line items are not editable here."""
        order = self._find("orders", id, status=400)
        status = _field(body, "status", str, "string")
        if status is not None and status not in ORDER_STATUSES:
            raise not_one_of("status", ORDER_STATUSES)
        customer_id = _field(body, "customer_id", int, "integer")
        if customer_id and customer_id not in self._data["customers"]:
            raise SandboxError(
                "woocommerce_rest_invalid_customer_id", "Customer ID is invalid.", 400
            )
        texts = {
            k: v for k in ORDER_TEXT_FIELDS if (v := _field(body, k, str, "string")) is not None
        }
        set_paid = _field(body, "set_paid", bool, "boolean")
        billing = self._address(order["billing"], body, "billing", BILLING_EMAIL_ERROR)
        shipping = self._address(order["shipping"], body, "shipping", ("", ""))
        entries = self._meta_updates(body)
        order.update(texts, billing=billing, shipping=shipping)
        if customer_id is not None:
            order["customer_id"] = customer_id
        if entries:
            self._write_meta(order, f"orders:{id}", entries, _hidden_post_meta)
        if set_paid and order["date_paid"] is None and status is None:
            status = "processing"  # payment_complete() moves an unpaid order on
        if status is not None and status != order["status"]:
            self._change_status(order, status)
        else:
            self._stamp(order)
        return clone(order)

    @_locked
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

    # ---- refunds ---------------------------------------------------------------------------

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

    @_locked
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

    @_locked
    def delete_refund(self, refund_id: int) -> None:
        """Delete a refund. As in WooCommerce, the parent order is not re-saved: its refunds[]
        loses the entry but date_modified and status stay (a modified_after sync cannot see it)."""
        self._find("refunds", refund_id)
        del self._data["refunds"][refund_id]
        order = self._data["orders"].get(self._refund_parent.pop(refund_id))
        if order is not None:
            order["refunds"] = [e for e in order["refunds"] if e["id"] != refund_id]

    # ---- reviews and comments ----------------------------------------------------------------

    @_locked
    def add_review(
        self,
        *,
        product_id: int,
        email: str,
        name: str,
        rating: int,
        text: str,
        status: str = "hold",
        verified: bool = False,
    ) -> Json:
        """A shopper reviews a product (WordPress comment of type "review")."""
        product = self._data["products"].get(product_id)
        if product is None:
            raise SandboxError("woocommerce_rest_product_invalid_id", "Invalid product ID.", 404)
        if status not in COMMENT_STATUSES:
            raise not_one_of("status", COMMENT_STATUSES)
        if not isinstance(rating, int) or isinstance(rating, bool) or not 0 <= rating <= 5:
            raise invalid_param("rating", "rating must be between 0 (inclusive) and 5 (inclusive)")
        if not name or not EMAIL.match(email or ""):
            raise invalid_param(
                "reviewer_email" if name else "reviewer",
                "A review needs a reviewer name and a valid email.",
            )
        review = r.review(
            id=self._next("comment"),
            created=self.now(),
            product_obj=product,
            status=status,
            reviewer=name,
            email=email,
            text=text,
            rating=rating,
            verified=verified,
        )
        self._data["reviews"][review["id"]] = review
        self._reviews_of_product.setdefault(product_id, []).append(review["id"])
        self._rate(product_id)
        return clone(review)

    @_locked
    def set_review_status(self, review_id: int, status: str) -> Json:
        """Approve, hold, spam or trash a review. No date changes (there is no modified date)."""
        review = self._find("reviews", review_id)
        if status not in COMMENT_STATUSES:
            raise not_one_of("status", COMMENT_STATUSES)
        review["status"] = status
        self._rate(review["product_id"])
        return clone(review)

    def _rate(self, product_id: int) -> None:
        """The product's average_rating/rating_count over its approved, rated reviews."""
        product = self._data["products"].get(product_id)
        if product is None:
            return
        reviews = (
            self._data["reviews"][rid] for rid in self._reviews_of_product.get(product_id, [])
        )
        ratings = [
            rv["rating"] for rv in reviews if rv["status"] == "approved" and rv["rating"] > 0
        ]
        product["rating_count"] = len(ratings)
        product["average_rating"] = (
            r.fmt(Decimal(sum(ratings)) / len(ratings)) if ratings else "0.00"
        )

    @_locked
    def add_comment(
        self,
        *,
        post_id: int,
        email: str,
        name: str,
        text: str,
        author: int = 0,
        parent: int = 0,
        status: str = "hold",
    ) -> Json:
        """Someone comments on a blog post (a reply when `parent` names a comment on that post)."""
        if post_id not in self._posts:
            raise SandboxError(
                "rest_comment_invalid_post_id",
                "Sorry, you are not allowed to create this comment without a post.",
                403,
            )
        if status not in COMMENT_STATUSES:
            raise not_one_of("status", COMMENT_STATUSES)
        if parent and self._data["comments"].get(parent, {}).get("post") != post_id:
            raise invalid_param("parent", f"parent {parent} is not a comment on post {post_id}.")
        if author and author not in self._data["customers"]:
            raise invalid_param("author", f"author {author} is not a user.")
        if not name or not EMAIL.match(email or ""):
            raise SandboxError(
                "rest_comment_author_data_required",
                "Creating a comment requires valid author name and email values.",
                400,
            )
        cid = self._next("comment")
        comment = r.comment(
            id=cid,
            post=post_id,
            parent=parent,
            author=author,
            name=name,
            email=email,
            created=self.now(),
            text=text,
            status=status,
            site_url=self.site_url,
            ip=f"203.0.113.{cid % 250 + 1}",
            user_agent="Mozilla/5.0 (X11; Linux x86_64) SandboxBrowser/1.0",
        )
        self._data["comments"][cid] = comment
        return clone(comment)

    @_locked
    def set_comment_status(self, comment_id: int, status: str) -> Json:
        """Approve, hold, spam or trash a comment (no date changes, as in WordPress)."""
        comment = self._find("comments", comment_id)
        if status not in COMMENT_STATUSES:
            raise not_one_of("status", COMMENT_STATUSES)
        comment["status"] = status
        return clone(comment)


EMAIL_EXISTS = (
    "An account is already registered with your email address. "
    '<a href="#" class="showlogin">Please log in.</a>'
)
USERNAME_EXISTS = "An account is already registered with that username. Please choose another."
BILLING_EMAIL_ERROR = ("order_invalid_billing_email", "Invalid billing email address")
ORDER_TEXT_FIELDS = ("customer_note", "transaction_id", "payment_method", "payment_method_title")
PAYMENT = {
    "pending": ("", ""),
    "on-hold": ("bacs", "Direct bank transfer"),
    "default": ("stripe", "Credit card (Stripe)"),
}


def _hidden_post_meta(key: str) -> bool:
    """Order and coupon meta WooCommerce never returns: keys starting with wp_."""
    return key.lower().startswith(r.TABLE_PREFIX)


META_HIDDEN: dict[str, Callable[[str], bool]] = {
    "customers": r.is_hidden_customer_meta,
    "orders": _hidden_post_meta,
    "coupons": _hidden_post_meta,
}


def _int_item(param: str, n: int, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise not_of_type(f"{param}[{n}]", "integer")
    return value


def _str_item(param: str, n: int, value: Any) -> str:
    if not isinstance(value, str):
        raise not_of_type(f"{param}[{n}]", "string")
    return value


def _expiry(body: Json) -> Json:
    """date_expires (site time) or date_expires_gmt (UTC) from a coupon body, as a date pair."""
    for key, zone in (("date_expires_gmt", UTC), ("date_expires", r.SITE_TZ)):
        if key not in body:
            continue
        value = _field(body, key, str, "string")
        if value is None:
            return {"date_expires": None, "date_expires_gmt": None}
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise invalid_param(key, "Invalid date.", "rest_invalid_date") from None
        local, gmt = r.wc_dates(moment if moment.tzinfo else moment.replace(tzinfo=zone))
        return {"date_expires": local, "date_expires_gmt": gmt}
    return {}


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
