"""The WooCommerce 9 shapes of tests/sandbox/wc9/shapes.json, and a walk that checks a value.

For the served-shapes test: `shape_errors(value, "order")` lists every place where `value`
differs from WooCommerce 9's shape for that kind, keys and JSON types at every level. The
notation is described in the file's `about` entry.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

WC9 = Path(__file__).parent / "wc9"
SHAPES: dict[str, Any] = json.loads((WC9 / "shapes.json").read_text())
DEFS: dict[str, Any] = SHAPES["$defs"]
KINDS = sorted(k for k in SHAPES if k not in ("about", "$defs"))


def json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return {str: "str", list: "list", dict: "dict", type(None): "null"}[type(value)]


_SCALARS = {
    "int": {"int"},
    "num": {"int", "float"},
    "str": {"str"},
    "bool": {"bool"},
    "null": {"null"},
    "object": {"dict"},
    "any": {"int", "float", "str", "bool", "null", "list", "dict"},
}


def shape_errors(value: Any, kind: str) -> list[str]:
    """How `value` differs from WooCommerce 9's `kind` (a key of shapes.json)."""
    return _check(value, SHAPES[kind], "$")


def _check(value: Any, spec: Any, path: str) -> list[str]:
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            return [f"{path}: {json_type(value)}, WooCommerce 9 has an object"]
        return _check_object(value, spec, path)
    if isinstance(spec, list):
        if not isinstance(value, list):
            return [f"{path}: {json_type(value)}, WooCommerce 9 has an array"]
        return [e for n, item in enumerate(value) for e in _check(item, spec[0], f"{path}[{n}]")]
    alternatives = spec.split("|")
    errors: list[str] = []
    for alternative in alternatives:
        if alternative.startswith("@"):
            found = _check(value, DEFS[alternative[1:]], path)
            if not found:
                return []
            errors = found
        elif json_type(value) in _SCALARS[alternative]:
            return []
    if errors and len(alternatives) == 1:
        return errors
    return [f"{path}: {json_type(value)}, WooCommerce 9 has {spec}"]


def _check_object(value: dict[str, Any], spec: dict[str, Any], path: str) -> list[str]:
    if set(spec) == {"*"}:  # a map: any keys, each value of one shape
        return [e for k, v in value.items() for e in _check(v, spec["*"], f"{path}.{k}")]
    errors = []
    if missing := sorted(spec.keys() - value.keys()):
        errors.append(f"{path}: missing keys {missing}")
    if extra := sorted(value.keys() - spec.keys() - {"_links"}):
        errors.append(f"{path}: keys WooCommerce 9 does not serve {extra}")
    for key in sorted(spec.keys() & value.keys()):
        errors += _check(value[key], spec[key], f"{path}.{key}")
    return errors
