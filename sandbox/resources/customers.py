"""Customers: WordPress users with the customer role, as WooCommerce keeps and serves them.

Everything the sandbox knows about customers, for the store, the server and the generator:
- shape: `address` and `customer` build the JSON objects exactly as real-customer.json has them
  (keys, key order, JSON types; `_links` are added when served);
- state: `CustomersMixin` (part of `SandboxStore`) with WooCommerce's semantics: unique emails
  and usernames, generated usernames, meta_data updates, deletion that turns orders into guest
  orders, and the shopper's registration at checkout;
- routes: `/wc/v3/customers[/{id}]` (list, get, create, update, delete, batch) and the control
  routes `POST /sandbox/customers` (a shopper registers) and `DELETE /sandbox/customers/{id}` (an
  admin deletes the account).
Listing defaults: `orderby=name&order=asc` and `role=customer`.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import partial
from typing import Any

from sandbox.arguments import Param
from sandbox.batch import BatchOps, batch
from sandbox.control import ControlCall, ControlRoute, take
from sandbox.errors import EMAIL, SandboxError, body_field, check_email, missing_params
from sandbox.formats import Json, gravatar, wc_dates
from sandbox.listing import BY_ID, PAGING, Collection, Predicate, by
from sandbox.messages import Response
from sandbox.meta import is_hidden_customer_meta
from sandbox.resource import Resource
from sandbox.rest import Call, RestApi, Served, collection_routes, wc_links
from sandbox.state import StoreBase, clone, locked

INVALID_ID = ("wc_user_invalid_id", "Invalid user ID.")


def address(
    *,
    first: str = "",
    last: str = "",
    street: str = "",
    city: str = "",
    state: str = "",
    postcode: str = "",
    country: str = "",
    phone: str = "",
    email: str | None = None,
) -> Json:
    """A billing (with `email`) or shipping (without) address, keys in WooCommerce's order."""
    data: Json = {
        "first_name": first,
        "last_name": last,
        "company": "",
        "address_1": street,
        "address_2": "",
        "city": city,
        "state": state,
        "postcode": postcode,
        "country": country,
    }
    if email is not None:
        data["email"] = email
    data["phone"] = phone
    return data


def customer(
    *,
    id: int,
    email: str,
    first: str,
    last: str,
    username: str,
    created: datetime,
    billing: Json,
    shipping: Json,
) -> Json:
    created_local, created_gmt = wc_dates(created)
    return {
        "id": id,
        "date_created": created_local,
        "date_created_gmt": created_gmt,
        "date_modified": created_local,
        "date_modified_gmt": created_gmt,
        "email": email,
        "first_name": first,
        "last_name": last,
        "role": "customer",
        "username": username,
        "billing": billing,
        "shipping": shipping,
        "is_paying_customer": False,
        "avatar_url": gravatar(email),
        "meta_data": [],
    }


EMAIL_EXISTS = (
    "An account is already registered with your email address. "
    '<a href="#" class="showlogin">Please log in.</a>'
)
USERNAME_EXISTS = "An account is already registered with that username. Please choose another."


class CustomersMixin(StoreBase):
    """Customers: the API's create/update/delete and the shopper's registration at checkout."""

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
        obj = customer(
            id=cid,
            email=email,
            first="",
            last="",
            username=username or self._free_username(email),
            created=self.now(),
            billing=address(email=""),
            shipping=address(),
        )
        self._data["customers"][cid] = obj
        self._email_index[email.lower()] = cid
        self._usernames.add(obj["username"])
        return obj

    def _apply_customer(self, customer: Json, body: Json) -> Json:
        """A changed copy of the customer; raises before anything is stored if the body is bad."""
        work = clone(customer)
        email = body_field(body, "email", str, "string")
        if email is not None:
            work["email"] = check_email(
                email.strip(), "customer_invalid_email", "Invalid email address"
            )
        for key in ("first_name", "last_name"):
            value = body_field(body, key, str, "string")
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
            self._write_meta(work, f"customers:{cid}", entries, is_hidden_customer_meta)
        old_email = self._data["customers"][cid]["email"].lower()
        self._email_index.pop(old_email, None)
        self._email_index[work["email"].lower()] = cid
        self._stamp(work)
        self._data["customers"][cid] = work
        return self._out(work)

    @locked
    def create_customer(self, body: Json) -> Json:
        """POST /customers: `email` required; username generated from it unless given."""
        email = body_field(body, "email", str, "string")
        if not email:
            raise missing_params("email")
        username = body_field(body, "username", str, "string")
        self._meta_updates(body)  # a bad meta_data entry must fail before the account exists
        customer = self._new_customer(email, username)
        try:
            work = self._apply_customer(customer, body)
        except SandboxError:
            self._drop_customer(customer["id"])
            raise
        return self._commit_customer(work, body)

    @locked
    def update_customer(self, id: int, body: Json, *, from_batch: bool = False) -> Json:
        """PUT /customers/{id} (incl. meta_data semantics); bumps date_modified.

        A bad id is 404 `wc_user_invalid_id` (the permission check answers first); inside
        /customers/batch, which skips that check, it is 400 `woocommerce_rest_invalid_id`.
        """
        customer = self._data["customers"].get(id)
        if customer is None:
            if from_batch:
                raise SandboxError("woocommerce_rest_invalid_id", "Invalid resource ID.", 400)
            raise SandboxError(*INVALID_ID, 404)
        email = body_field(body, "email", str, "string")
        owner = self._email_index.get(email.strip().lower()) if email else None
        if owner is not None and owner != id:
            raise SandboxError(
                "woocommerce_rest_customer_invalid_email", "Email address is invalid.", 400
            )
        username = body_field(body, "username", str, "string")
        if username and username != customer["username"]:
            raise SandboxError(
                "woocommerce_rest_customer_invalid_argument", "Username isn't editable.", 400
            )
        self._meta_updates(body)
        return self._commit_customer(self._apply_customer(customer, body), body)

    @locked
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
                self._changed(order)
        return snapshot

    def _drop_customer(self, cid: int) -> None:
        customer = self._data["customers"].pop(cid)
        self._email_index.pop(customer["email"].lower(), None)
        self._usernames.discard(customer["username"])
        self._hidden_meta.pop(f"customers:{cid}", None)

    @locked
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
        return self._out(work)


# ---- listing ----

_ROLES = (
    "all",
    "administrator",
    "editor",
    "author",
    "contributor",
    "subscriber",
    "customer",
    "shop_manager",
)


def _customer_filters(args: dict[str, Any]) -> list[Predicate]:
    found: list[Predicate] = []
    if args["role"] != "all":
        role = args["role"]
        found.append(lambda c: c["role"] == role)
    if args["email"]:
        email = args["email"].strip().lower()
        found.append(lambda c: c["email"].lower() == email)
    return found


def _display_name(customer: Json) -> str:
    """WordPress's display_name as set at registration: "First Last", one of them, or the login."""
    names = " ".join(n for n in (customer["first_name"], customer["last_name"]) if n)
    return (names or customer["username"]).lower()


COLLECTION = Collection(
    "customers",
    {
        **PAGING,
        "order": Param("enum", "asc", ("asc", "desc")),
        "orderby": Param("enum", "name", ("id", "include", "name", "registered_date")),
        "email": Param("email"),
        "role": Param("enum", "customer", _ROLES),
    },
    {"id": BY_ID, "name": _display_name, "registered_date": by("date_created_gmt")},
    _customer_filters,
    search_fields=("username", "email", "first_name", "last_name"),
)


def _store(api: RestApi) -> CustomersMixin:
    return api.store_as(CustomersMixin)


CUSTOMER = Served("customers", wc_links("customers"), COLLECTION)


def _delete(api: RestApi, call: Call) -> Response:
    def delete(obj_id: int, args: dict[str, Any]) -> Json:
        return _store(api).delete_customer(obj_id, force=args["force"], reassign=args["reassign"])

    return api.delete(call, CUSTOMER, delete)


def _batch(api: RestApi, call: Call) -> Response:
    store = _store(api)
    ops = BatchOps(
        create=store.create_customer,
        update=partial(store.update_customer, from_batch=True),
        delete=partial(store.delete_customer, force=True),
    )
    return batch(api, call, CUSTOMER, ops)


def _register(call: ControlCall) -> tuple[int, Any]:
    customer = call.store_as(CustomersMixin).register_customer(
        email=take(call.body, "email", "str", required=True),
        first_name=take(call.body, "first_name", "str", default=""),
        last_name=take(call.body, "last_name", "str", default=""),
    )
    return 201, customer


RESOURCE = Resource(
    "customers",
    INVALID_ID,
    listings=(COLLECTION,),
    rest=collection_routes(
        "/wc/v3/customers",
        CUSTOMER,
        create=lambda api: _store(api).create_customer,
        update=lambda api: _store(api).update_customer,
        batch=_batch,
        delete=_delete,
    ),
    control=(
        ControlRoute(
            "POST",
            "/customers",
            _register,
            '/customers  register: {"email", "first_name"?, "last_name"?}',
        ),
        ControlRoute(
            "DELETE",
            r"/customers/(\d+)",
            lambda call: (
                200,
                call.store_as(CustomersMixin).delete_customer(call.ids[0], force=True),
            ),
            "/customers/{id}  an admin deletes the account: as WordPress does, its orders"
            " become guest orders, billing kept",
        ),
    ),
)
