"""WordPress's `_fields`: an answer trimmed to the fields the client asked for.

WordPress core filters every REST answer on `rest_post_dispatch` (`rest_filter_response_fields`,
wp-includes/rest-api.php, nested fields since 5.3): with `?_fields=id,billing.email,line_items`
each object of a listing keeps only those keys, and a dotted name descends into an object
(`billing.email`) but never into a list: PHP compares a list's numeric keys with the names, so
`line_items.product_id` leaves `line_items` empty. An error answer is never filtered; an empty
`_fields` filters nothing. A listing's items carry their `_links` in their data, so they go unless
asked for; a single object's links are added after the filter (`WP_REST_Server::response_to_data`),
so they stay. WooCommerce's order controller also builds only the fields asked for, which is what
makes a store answer faster; the sandbox answers the same either way.

The sync asks for what it reads (`sync.order_data`), and the fidelity of the sandbox decides what it
gets here: this module is the store's side only.
"""

from __future__ import annotations

from typing import Any

from sandbox.arguments import wp_parse_list

#: A field name's hierarchy: True keeps the whole value, a mapping keeps some of its keys.
Spec = dict[str, Any]


def requested(raw: Any) -> Spec | None:
    """The `_fields` parameter as WordPress reads it (a comma or space separated string, or an
    array), as the nested spec it filters with; None when nothing is to be filtered."""
    if raw is None:
        return None
    if isinstance(raw, dict):
        names = [str(v) for v in raw.values() if isinstance(v, str | int | float)]
    elif isinstance(raw, list):
        names = [str(v) for v in raw if isinstance(v, str | int | float)]
    else:
        names = wp_parse_list(str(raw))
    names = [name.strip() for name in names]
    if not names:
        return None
    spec: Spec = {}
    for name in names:
        *parents, last = name.split(".")
        ref = spec
        for parent in parents:
            if ref.get(parent) is True:
                # The parent is kept whole already. WordPress's `break 2` leaves the loop over the
                # names too: every name after this one is ignored (`billing,billing.email,id`
                # keeps `billing` alone).
                return spec
            ref = ref.setdefault(parent, {})
        ref[last] = True
    return spec


def filtered(data: Any, spec: Spec) -> Any:
    """`data` (a listing or one object) trimmed to `spec`, as `rest_filter_response_fields` does."""
    if isinstance(data, list):  # wp_is_numeric_array: each item on its own
        return [_intersect(item, spec) if isinstance(item, dict | list) else None for item in data]
    if isinstance(data, dict):
        trimmed = _intersect(data, spec)
        if "_links" in data:  # added to a single object after the filter
            trimmed = {**(trimmed or {}), "_links": data["_links"]}
        return trimmed
    return data


def _intersect(value: dict[str, Any] | list[Any], spec: Spec) -> Any:
    """PHP's `_rest_array_intersect_key_recursive`: keys kept by name, lists keyed by position."""
    pairs = value.items() if isinstance(value, dict) else enumerate(value)
    kept: list[tuple[Any, Any]] = []
    for key, item in pairs:
        sub = spec.get(str(key))
        if sub is None:
            continue
        if isinstance(item, dict | list) and isinstance(sub, dict):
            item = _intersect(item, sub)
        kept.append((key, item))
    if [key for key, _ in kept] == list(range(len(kept))):  # a PHP list (an empty array too)
        return [item for _, item in kept]
    return {str(key): item for key, item in kept}
