"""wp/v2 comments follow WordPress: public in view context; `context=edit`, `author_email` and
non-approved statuses only for a moderator with an Application Password; WooCommerce keys do not
authenticate there."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from sandbox.server import SandboxServer
from sandbox.store import SandboxStore
from tests.sandbox.conftest import CK, CS, WP_PASSWORD, WP_USER, ServerFactory, woo, wp

UNKNOWN_USERNAME = {
    "code": "invalid_username",
    "message": "<strong>Error</strong>: Unknown username. Check again or try your email address.",
    "data": {"status": 401},
}
FORBIDDEN_CONTEXT = {
    "code": "rest_forbidden_context",
    "message": "Sorry, you are not allowed to edit comments.",
    "data": {"status": 401},
}


def test_anonymous_readers_see_approved_comments_without_emails(
    shared_server: SandboxServer, shared_store: SandboxStore
) -> None:
    response = wp(shared_server, "comments", per_page=100)
    assert response.status_code == 200
    approved = [c for c in blog_comments(shared_store) if c["status"] == "approved"]
    assert sorted(c["id"] for c in response.json()) == sorted(c["id"] for c in approved)
    assert response.headers["X-WP-Total"] == str(len(approved))
    for comment in response.json():
        assert "author_email" not in comment
        assert "author_ip" not in comment
        assert comment["type"] == "comment"


def test_anonymous_edit_context_is_forbidden(shared_server: SandboxServer) -> None:
    response = wp(shared_server, "comments", context="edit")
    assert (response.status_code, response.json()) == (401, FORBIDDEN_CONTEXT)


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"author_email": "a@example.org"}, "author_email"),
        ({"status": "hold"}, "status"),
        ({"type": "pingback"}, "type"),
        ({"author": "3", "status": "all"}, "author, status"),
    ],
)
def test_anonymous_protected_parameters_are_not_permitted(
    shared_server: SandboxServer, params: dict[str, str], named: str
) -> None:
    response = wp(shared_server, "comments", **params)
    assert response.status_code == 401
    assert response.json() == {
        "code": "rest_forbidden_param",
        "message": f"Query parameter not permitted: {named}",
        "data": {"status": 401},
    }


def test_a_moderator_sees_emails_and_filters_by_author_email(
    shared_server: SandboxServer, shared_store: SandboxStore
) -> None:
    comments = blog_comments(shared_store)
    email = comments[0]["author_email"]
    response = wp(
        shared_server, "comments", moderator=True, context="edit", author_email=email, status="any"
    )
    assert response.status_code == 200, response.text
    expected = sorted(c["id"] for c in comments if c["author_email"] == email)
    assert sorted(c["id"] for c in response.json()) == expected
    first = response.json()[0]
    assert first["author_email"] == email
    assert list(first)[:6] == ["id", "post", "parent", "author", "author_email", "author_ip"]
    assert first["content"]["raw"] in first["content"]["rendered"]


def test_application_password_works_with_or_without_its_spaces(
    shared_server: SandboxServer,
) -> None:
    url = f"{shared_server.api_url}/wp/v2/comments"
    for password in (WP_PASSWORD, WP_PASSWORD.replace(" ", "")):
        response = requests.get(
            url, params={"context": "edit"}, auth=(WP_USER, password), timeout=30
        )
        assert response.status_code == 200


def test_a_wrong_application_password_is_refused(shared_server: SandboxServer) -> None:
    response = requests.get(
        f"{shared_server.api_url}/wp/v2/comments", auth=(WP_USER, "wrong password"), timeout=30
    )
    assert response.status_code == 401
    assert response.json() == {
        "code": "incorrect_password",
        "message": "The provided password is an invalid application password.",
        "data": {"status": 401},
    }


def test_woocommerce_keys_do_not_authenticate_wp_v2(
    shared_server: SandboxServer, store: SandboxStore, make_server: ServerFactory
) -> None:
    oauth = woo(shared_server, wp_api=True, version="wp/v2").get(
        "comments", params={"context": "edit"}
    )
    assert (oauth.status_code, oauth.json()) == (401, FORBIDDEN_CONTEXT)
    tls_server = make_server(store, tls=True)
    basic = requests.get(
        f"{tls_server.api_url}/wp/v2/comments",
        params={"context": "edit"},
        auth=(CK, CS),
        verify=tls_server.ca_bundle,
        timeout=30,
    )
    # WordPress reads the key as an Application Password username it does not know.
    assert (basic.status_code, basic.json()) == (401, UNKNOWN_USERNAME)


def test_single_comment_rules(shared_server: SandboxServer, shared_store: SandboxStore) -> None:
    comments = blog_comments(shared_store)
    approved = next(c for c in comments if c["status"] == "approved")
    held = next(c for c in comments if c["status"] == "hold")
    public = wp(shared_server, f"comments/{approved['id']}")
    assert public.status_code == 200
    assert "author_email" not in public.json()
    hidden = wp(shared_server, f"comments/{held['id']}")
    assert (hidden.status_code, hidden.json()["code"]) == (401, "rest_cannot_read")
    assert wp(shared_server, f"comments/{held['id']}", moderator=True).status_code == 200
    missing = wp(shared_server, "comments/999999")
    assert (missing.status_code, missing.json()["code"]) == (404, "rest_comment_invalid_id")


def test_replies_link_to_their_parent_and_parents_to_their_children(
    shared_server: SandboxServer, shared_store: SandboxStore
) -> None:
    reply = next(c for c in blog_comments(shared_store) if c["parent"])
    served = wp(shared_server, f"comments/{reply['id']}", moderator=True).json()
    assert served["_links"]["in-reply-to"][0]["href"].endswith(f"/wp/v2/comments/{reply['parent']}")
    parent = wp(shared_server, f"comments/{reply['parent']}", moderator=True).json()
    if reply["status"] in ("approved", "hold"):
        assert parent["_links"]["children"][0]["href"].endswith(
            f"comments?parent={reply['parent']}"
        )


def blog_comments(store: SandboxStore) -> list[dict[str, Any]]:
    """The blog's comments: the comments table holds reviews too (type "review")."""
    return [c for c in store.all("comments") if c["type"] == "comment"]
