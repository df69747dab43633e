"""WooCommerce-style errors for the sandbox, and the request-body checks that raise them.

For every part of the sandbox (and the server, which answers with `SandboxError.body()`): the error
builders phrase WordPress's messages and name the bad field (in `data.params`); the `*_field`
checks read one body value of the JSON type WooCommerce's schema declares, or raise a 400.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from sandbox.formats import Json, fmt

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


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


def body_field(body: Json, key: str, kind: type, type_name: str, path: str | None = None) -> Any:
    """body[key] if present and of the JSON type WooCommerce's schema declares, else a 400."""
    value = body.get(key)
    if value is not None and (
        not isinstance(value, kind) or isinstance(value, bool) is not (kind is bool)
    ):
        raise not_of_type(path or key, type_name)
    return value


def money_field(body: Json, key: str) -> str | None:
    value = body_field(body, key, str, "string")
    if value is None:
        return None
    try:
        amount = Decimal(value or "0")
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite():
        raise invalid_param(key, f"{key} is not a valid amount.")
    return fmt(amount)


def check_email(value: str, code: str, message: str) -> str:
    if value and not EMAIL.match(value):
        raise SandboxError(code, message, 400)
    return value
