"""Objects as WooCommerce and WordPress serve them: contexts settled and `_links` added.

For `sandbox.rest_api`: `present` builds each served object's `_links` as the controllers'
prepare_links() do (hrefs under the site's /wp-json), and applies WordPress's comment contexts
(view hides the author's email, IP and agent; edit adds the raw content).
"""

from __future__ import annotations

from typing import Any

from sandbox.resources import COMMENT_EDIT_ONLY

Json = dict[str, Any]


def _link(href: str, **attributes: Any) -> list[Json]:
    return [{**attributes, "href": href}]


def present(
    kind: str, obj: Json, api: str, *, context: str = "view", extra: Json | None = None
) -> Json:
    """An object as served: context fields settled and `_links` added (hrefs under `api`, the
    base URL + /wp-json). `kind` is a route kind: order, refund, store_refund, customer, coupon,
    product, review or comment; `extra` carries what the links need beyond the object."""
    extra = extra or {}
    wc = f"{api}/wc/v3"
    if kind == "comment":
        obj = _comment_context(obj, context)
    links: Json
    if kind == "order":
        links = {"self": _link(f"{wc}/orders/{obj['id']}"), "collection": _link(f"{wc}/orders")}
        if obj["customer_id"]:
            links["customer"] = _link(f"{wc}/customers/{obj['customer_id']}")
    elif kind in ("refund", "store_refund"):
        base = f"{wc}/orders/{extra['parent']}/refunds"
        links = {
            "self": _link(f"{base}/{obj['id']}"),
            "collection": _link(base),
            "up": _link(f"{wc}/orders/{extra['parent']}"),
        }
        if kind == "store_refund":
            links["refunded_by"] = _link(f"{api}/wp/v2/users/{obj['refunded_by']}", embeddable=True)
    elif kind == "review":
        links = {
            "self": _link(f"{wc}/products/reviews/{obj['id']}"),
            "collection": _link(f"{wc}/products/reviews"),
            "up": _link(f"{wc}/products/{obj['product_id']}"),
        }
        if extra.get("reviewer_id"):
            links["reviewer"] = _link(f"{api}/wp/v2/users/{extra['reviewer_id']}", embeddable=True)
    elif kind == "comment":
        links = _comment_links(obj, f"{api}/wp/v2", extra)
    else:
        base = f"{wc}/{kind}s"
        links = {"self": _link(f"{base}/{obj['id']}"), "collection": _link(base)}
    return {**obj, "_links": links}


def _comment_links(comment: Json, wp: str, extra: Json) -> Json:
    links: Json = {
        "self": _link(f"{wp}/comments/{comment['id']}"),
        "collection": _link(f"{wp}/comments"),
    }
    if comment["author"]:
        links["author"] = _link(f"{wp}/users/{comment['author']}", embeddable=True)
    links["up"] = _link(f"{wp}/posts/{comment['post']}", embeddable=True, post_type="post")
    if comment["parent"]:
        links["in-reply-to"] = _link(f"{wp}/comments/{comment['parent']}", embeddable=True)
    if comment["id"] in extra.get("with_children", ()):
        links["children"] = _link(f"{wp}/comments?parent={comment['id']}", embeddable=True)
    return links


_COMMENT_EDIT_ORDER = (
    "id", "post", "parent", "author", "author_email", "author_ip", "author_name", "author_url",
    "author_user_agent", "date", "date_gmt", "content", "link", "status", "type",
    "author_avatar_urls", "meta",
)  # fmt: skip


def _comment_context(comment: Json, context: str) -> Json:
    """WordPress's view context hides the author's email, IP and agent; edit adds raw content."""
    if context != "edit":
        return {k: v for k, v in comment.items() if k not in COMMENT_EDIT_ONLY}
    rendered = comment["content"]["rendered"]
    raw = rendered.removeprefix("<p>").removesuffix("</p>\n")
    edited = {**comment, "content": {"raw": raw, "rendered": rendered}}
    return {k: edited[k] for k in _COMMENT_EDIT_ORDER if k in edited}
