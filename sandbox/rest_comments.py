"""WordPress's `/wp/v2/comments[/{id}]`: public blog comments, with WordPress's access rules.

For `sandbox.rest_api`, which routes them here. Anyone may list approved comments; only a user
who can moderate may ask for the edit context, other statuses or types, or filter by author.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sandbox.arguments import validate
from sandbox.listed_collections import COLLECTIONS
from sandbox.messages import Response
from sandbox.rest_call import ITEM_ARGS, Call
from sandbox.store import SandboxError

if TYPE_CHECKING:
    from sandbox.rest_api import RestApi

_FORBIDDEN_CONTEXT = SandboxError(
    "rest_forbidden_context", "Sorry, you are not allowed to edit comments.", 401
)


def list_comments(api: RestApi, call: Call) -> Response:
    """GET comments: a page of comments, after WordPress's checks of the query for non-moderators."""
    args = validate(COLLECTIONS["comments"].params, call.params)
    if not call.identity.can_moderate:
        if args["context"] == "edit":
            raise _FORBIDDEN_CONTEXT
        forbidden = [
            name
            for name in ("author", "author_exclude", "author_email", "type", "status")
            if (name == "status" and args[name] != "approve")
            or (name == "type" and args[name] != "comment")
            or (name not in ("status", "type") and args[name])
        ]
        if forbidden:
            message = f"Query parameter not permitted: {', '.join(forbidden)}"
            raise SandboxError("rest_forbidden_param", message, 401)
    return api.serve_list(call, "comments", "comment")


def get_comment(api: RestApi, call: Call) -> Response:
    """GET comments/{id}: one comment; non-moderators see approved ones in the view context."""
    args = validate(ITEM_ARGS, call.params)
    comment = api.store.get("comments", call.ids[0])
    if not call.identity.can_moderate:
        if args["context"] == "edit":
            raise _FORBIDDEN_CONTEXT
        if comment["status"] != "approved":
            raise SandboxError(
                "rest_cannot_read", "Sorry, you are not allowed to read this comment.", 401
            )
    return Response.json(200, api.shape("comment", comment, args["context"]))
