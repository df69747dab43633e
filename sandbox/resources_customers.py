"""Builders for customers and their billing/shipping addresses, shaped exactly like WooCommerce's.

For the store: plain dicts with the keys, key order and JSON types of real-customer.json (without
`_links`, which the server adds).
"""

from __future__ import annotations

from datetime import datetime

from sandbox.resources_format import Json, gravatar, wc_dates


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
