"""Reviews and comments as WooCommerce and WordPress serve them to a points sync: review comments
in wp/v2 with type=review, `status=all` leaving spam and trash out, deleting (trash, or gone with
force=true), and WordPress's 401 bodies for wrong Application Password credentials."""

from __future__ import annotations

from typing import Any

import requests

from sandbox.server import SandboxServer
from sandbox.store import SandboxStore
from tests.sandbox.conftest import WP_PASSWORD, WP_USER, woo


def moderator(server: SandboxServer, method: str, route: str, **params: Any) -> requests.Response:
    return requests.request(
        method,
        f"{server.api_url}/wp/v2/{route}",
        params=params,
        auth=(WP_USER, WP_PASSWORD),
        timeout=30,
    )


def a_review(store: SandboxStore, status: str = "approved") -> dict[str, Any]:
    product = store.all("products")[0]["id"]
    return store.add_review(
        product_id=product,
        email="Rev@Example.org",
        name="Rev",
        rating=5,
        text="Lovely.",
        status=status,
    )


def test_review_comments_are_listed_by_wp_v2_with_type_review_only(
    server: SandboxServer, store: SandboxStore
) -> None:
    review = a_review(store)
    reviews = moderator(server, "GET", "comments", type="review", per_page=100, context="edit")
    found = next(c for c in reviews.json() if c["id"] == review["id"])
    assert (found["type"], found["post"], found["author_email"]) == (
        "review",
        review["product_id"],
        "Rev@Example.org",
    )
    blog = moderator(server, "GET", "comments", per_page=100, status="any")
    assert review["id"] not in {c["id"] for c in blog.json()}  # type=comment by default
    store.set_comment_status(review["id"], "spam")  # one row: the review follows
    assert store.get("reviews", review["id"])["status"] == "spam"


def test_reviews_status_all_leaves_spam_and_trash_out(
    server: SandboxServer, store: SandboxStore
) -> None:
    made = {status: a_review(store, status)["id"] for status in ("approved", "hold", "spam")}
    store.set_review_status(made["spam"], "spam")
    listed = woo(server).get("products/reviews", params={"status": "all", "per_page": 100})
    ids = {r["id"] for r in listed.json()}
    assert {made["approved"], made["hold"]} <= ids
    assert made["spam"] not in ids
    spam = woo(server).get("products/reviews", params={"status": "spam", "per_page": 100})
    assert made["spam"] in {r["id"] for r in spam.json()}


def test_deleting_a_review_trashes_it_then_force_removes_it(
    server: SandboxServer, store: SandboxStore
) -> None:
    review = a_review(store)
    api = woo(server)
    trashed = api.delete(f"products/reviews/{review['id']}")
    assert (trashed.status_code, trashed.json()["status"]) == (200, "trash")
    again = api.delete(f"products/reviews/{review['id']}")
    assert (again.status_code, again.json()["code"]) == (410, "woocommerce_rest_already_trashed")
    gone = api.delete(f"products/reviews/{review['id']}", params={"force": "true"})
    assert gone.status_code == 200
    assert gone.json()["deleted"] is True
    assert gone.json()["previous"]["id"] == review["id"]
    missing = api.get(f"products/reviews/{review['id']}")
    assert (missing.status_code, missing.json()["code"]) == (
        404,
        "woocommerce_rest_review_invalid_id",
    )
    assert moderator(server, "GET", f"comments/{review['id']}").status_code == 404


def test_deleting_a_comment_trashes_it_then_force_removes_it(
    server: SandboxServer, store: SandboxStore
) -> None:
    post = store.post_ids()[0]
    made = store.add_comment(
        post_id=post, email="c@example.org", name="C", text="Hi", status="approved"
    )
    anonymous = requests.delete(f"{server.api_url}/wp/v2/comments/{made['id']}", timeout=30)
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "rest_cannot_delete")
    trashed = moderator(server, "DELETE", f"comments/{made['id']}")
    assert (trashed.status_code, trashed.json()["status"]) == (200, "trash")
    again = moderator(server, "DELETE", f"comments/{made['id']}")
    assert (again.status_code, again.json()["code"]) == (410, "rest_already_trashed")
    gone = moderator(server, "DELETE", f"comments/{made['id']}", force="true")
    assert gone.json()["deleted"] is True
    assert gone.json()["previous"]["author_email"] == "c@example.org"
    assert moderator(server, "GET", f"comments/{made['id']}").status_code == 404


def test_wrong_application_password_credentials_get_wordpress_401_bodies(
    server: SandboxServer,
) -> None:
    url = f"{server.api_url}/wp/v2/comments"
    wrong_password = requests.get(url, auth=(WP_USER, "nope nope"), timeout=30)
    assert (wrong_password.status_code, wrong_password.json()) == (
        401,
        {
            "code": "incorrect_password",
            "message": "The provided password is an invalid application password.",
            "data": {"status": 401},
        },
    )
    unknown = requests.get(url, auth=("nobody", WP_PASSWORD), timeout=30)
    assert (unknown.status_code, unknown.json()["code"]) == (401, "invalid_username")
    by_email = requests.get(url, auth=("nobody@example.org", WP_PASSWORD), timeout=30)
    assert (by_email.status_code, by_email.json()["code"]) == (401, "invalid_email")


def test_view_context_hides_the_author_email_edit_shows_it(
    server: SandboxServer, store: SandboxStore
) -> None:
    post = store.post_ids()[0]
    made = store.add_comment(
        post_id=post, email="c@example.org", name="C", text="Hi", status="approved"
    )
    view = moderator(server, "GET", f"comments/{made['id']}").json()
    assert "author_email" not in view
    assert "author_ip" not in view
    edit = moderator(server, "GET", f"comments/{made['id']}", context="edit").json()
    assert edit["author_email"] == "c@example.org"
