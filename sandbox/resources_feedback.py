"""Builders for product reviews and blog comments, shaped exactly like WooCommerce's and WordPress's.

For the store: plain dicts with the keys, key order and JSON types of real-product-review.json and
wp-comment.json (without `_links`, which the server adds).
"""

from __future__ import annotations

from datetime import datetime

from sandbox.resources_format import Json, avatar_urls, wc_dates, wpautop


def review(
    *,
    id: int,
    created: datetime,
    product_obj: Json,
    status: str,
    reviewer: str,
    email: str,
    text: str,
    rating: int,
    verified: bool,
) -> Json:
    """A product review like real-product-review.json."""
    local, gmt = wc_dates(created)
    return {
        "id": id,
        "date_created": local,
        "date_created_gmt": gmt,
        "product_id": product_obj["id"],
        "product_name": product_obj["name"],
        "product_permalink": product_obj["permalink"],
        "status": status,
        "reviewer": reviewer,
        "reviewer_email": email,
        "review": wpautop(text),
        "rating": rating,
        "verified": verified,
        "reviewer_avatar_urls": avatar_urls(email),
    }


def comment(
    *,
    id: int,
    post: int,
    parent: int,
    author: int,
    name: str,
    email: str,
    created: datetime,
    text: str,
    status: str,
    site_url: str,
    ip: str,
    user_agent: str,
) -> Json:
    """A blog comment like wp-comment.json, plus the context=edit fields the server strips.

    `meta` is [] as WordPress sends it when no comment meta is registered (the sample's
    {"meta_key": ...} comes from a key registered by WordPress's own test suite).
    """
    local, gmt = wc_dates(created)
    return {
        "id": id,
        "post": post,
        "parent": parent,
        "author": author,
        "author_name": name,
        "author_url": "",
        "date": local,
        "date_gmt": gmt,
        "content": {"rendered": wpautop(text)},
        "link": f"{site_url}/?p={post}#comment-{id}",
        "status": status,
        "type": "comment",
        "author_avatar_urls": avatar_urls(email),
        "meta": [],
        "author_email": email,
        "author_ip": ip,
        "author_user_agent": user_agent,
    }


COMMENT_EDIT_ONLY = ("author_email", "author_ip", "author_user_agent")
