"""Customer accounts in the sandbox store: created over the API or by shoppers, edited, deleted.

For `SandboxStore` (as `CustomersMixin`), with WooCommerce's semantics: unique emails and
usernames, generated usernames, meta_data updates, deletion that turns orders into guest orders.
"""

from __future__ import annotations

import re

from sandbox import resources as r
from sandbox.resources import Json
from sandbox.store_base import INVALID_ID, StoreBase, clone, locked
from sandbox.store_errors import EMAIL, SandboxError, body_field, check_email, missing_params

EMAIL_EXISTS = (
    "An account is already registered with your email address. "
    '<a href="#" class="showlogin">Please log in.</a>'
)
USERNAME_EXISTS = "An account is already registered with that username. Please choose another."


class CustomersMixin(StoreBase):
    """Customers: the API's create/update/delete and the shopper's registration at checkout."""

    @locked
    def customer_id_by_email(self, email: str) -> int | None:
        return self._email_index.get(email.strip().lower())

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
            self._write_meta(work, f"customers:{cid}", entries, r.is_hidden_customer_meta)
        old_email = self._data["customers"][cid]["email"].lower()
        self._email_index.pop(old_email, None)
        self._email_index[work["email"].lower()] = cid
        self._stamp(work)
        self._data["customers"][cid] = work
        return clone(work)

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
            raise SandboxError(*INVALID_ID["customers"], 404)
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
        return clone(work)
