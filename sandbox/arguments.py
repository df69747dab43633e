"""Query arguments as WordPress's REST API validates them: types, enums, bounds, dates, emails.

For the sandbox's listed and single-object routes (`sandbox.listing`,
`sandbox.rest`): a route declares its arguments as `Param`s and `validate` turns a PHP-parsed
query into typed values, or raises a 400 `rest_invalid_param` naming every bad argument with
WordPress's messages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sandbox.errors import SandboxError, wp_list

Json = dict[str, Any]

_DATE = re.compile(
    r"^(\d{4})-(0[1-9]|1[012])-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}(:?\d{2})?)?$"
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Param:
    """One query argument: kind is integer, integers, string, enum, enums, date, boolean or email."""

    kind: str
    default: Any = None
    enum: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None


class _Invalid(Exception):
    def __init__(self, code: str, message: str, data: Json | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.data = code, message, data


def validate(params: Mapping[str, Param], query: Mapping[str, Any]) -> dict[str, Any]:
    """The route's arguments from the (PHP-parsed) query: defaults filled, types converted.

    Every bad argument is reported at once, as WordPress's has_valid_params() does.
    """
    args: dict[str, Any] = {}
    invalid: dict[str, str] = {}
    details: dict[str, Json] = {}
    for name, param in params.items():
        if name not in query:
            args[name] = list(param.default) if isinstance(param.default, tuple) else param.default
            continue
        try:
            args[name] = _convert(name, param, query[name])
        except _Invalid as exc:
            invalid[name] = exc.message
            details[name] = {"code": exc.code, "message": exc.message, "data": exc.data}
    if invalid:
        message = f"Invalid parameter(s): {', '.join(invalid)}"
        raise SandboxError(
            "rest_invalid_param", message, 400, {"params": invalid, "details": details}
        )
    return args


def _convert(name: str, param: Param, raw: Any) -> Any:
    if param.kind in ("integers", "enums"):
        items = list(raw.values()) if isinstance(raw, dict) else wp_parse_list(raw)
        item = Param("integer" if param.kind == "integers" else "enum", enum=param.enum)
        return [_convert(f"{name}[{n}]", item, value) for n, value in enumerate(items)]
    if isinstance(raw, dict):
        raise _Invalid(
            "rest_invalid_type", f"{name} is not of type {_type_name(param)}.", {"param": name}
        )
    if param.kind == "integer":
        return _integer(name, param, raw)
    if param.kind == "boolean":
        if raw.lower() not in ("true", "false", "1", "0"):
            raise _Invalid("rest_invalid_type", f"{name} is not of type boolean.", {"param": name})
        return raw.lower() in ("true", "1")
    if param.kind == "enum" and raw not in param.enum:
        raise _Invalid("rest_not_in_enum", f"{name} is not one of {wp_list(param.enum)}.")
    if param.kind == "date" and not _DATE.match(raw):
        raise _Invalid("rest_invalid_date", "Invalid date.")
    if param.kind == "email" and not _EMAIL.match(raw):
        raise _Invalid("rest_invalid_email", "Invalid email address.")
    return raw


def _type_name(param: Param) -> str:
    return {"integer": "integer", "boolean": "boolean"}.get(param.kind, "string")


def _integer(name: str, param: Param, raw: str) -> int:
    try:
        number = float(raw)
    except ValueError:
        number = float("nan")
    if number != number or number != round(number):  # NaN or a fraction: not an integer
        raise _Invalid("rest_invalid_type", f"{name} is not of type integer.", {"param": name})
    value = int(number)
    low, high = param.minimum, param.maximum
    if low is not None and high is not None and not low <= value <= high:
        raise _Invalid(
            "rest_out_of_bounds", f"{name} must be between {low} (inclusive) and {high} (inclusive)"
        )
    if low is not None and value < low:
        raise _Invalid("rest_out_of_bounds", f"{name} must be greater than or equal to {low}")
    return value


def wp_parse_list(raw: str) -> list[str]:
    """WordPress's wp_parse_list(): a string split on commas and whitespace, empty parts dropped."""
    return [part for part in re.split(r"[\s,]+", raw) if part]
