"""The comments source: blog comments (`wp/v2/comments`) earn `[rules.comment]` points.

An approved comment of type `comment` earns once per post per customer (replies when `replies`),
within the daily cap; review comments (type `review`) are the reviews source's and are never
listed here. The owner is the account when `author` > 0, else the account with the
`author_email`, else a guest held by it, as for guest orders. Reading `author_email` needs
`context=edit`, hence a WordPress user who can moderate comments and its Application Password
(`[wordpress]`), sent as HTTP Basic: WooCommerce keys do not work on `wp/v2`. How changes are
found: `sync.activity`.
"""

from __future__ import annotations

import base64
from typing import Any

from ledger.kinds import SourceKind
from ledger.models import TrackedActivity
from rules.activity import text_length
from rules.comment import COMMENT_REASON, Comment, CommentRules, comment_points
from sync.activity import ActivitySource, ActivitySpec, deciding, kept, schedule
from sync.activity_data import MAX_STATUS, Activity, email_of, status_of
from sync.client import StoreClient
from sync.context import SyncContext
from sync.errors import InvalidSourceData
from sync.fields import gmt, integer, member, obj_at, text
from sync.redaction import register_secret

NAME = "comments"
#: The one line `loyalty check` and every sync say when the source is on without credentials.
NO_CREDENTIALS = (
    "comments: off: [rules.comment] is enabled but [wordpress] username and app_password are not"
    " both set (blog comments are read with a WordPress Application Password)"
)


def comments_source(ctx: SyncContext) -> ActivitySource | None:
    """The registry's factory: on when `[rules.comment] enabled` and WordPress credentials are
    set; without them, off with one line in the summary (no error)."""
    if not ctx.settings.comment.enabled:
        return None
    wordpress = ctx.settings.wordpress
    if wordpress is None:
        ctx.warn(NO_CREDENTIALS)
        return None
    user, password = wordpress.consumer_key, wordpress.consumer_secret
    for secret in (password, password.replace(" ", "")):
        register_secret(secret)
    register_secret(base64.b64encode(f"{user}:{password}".encode()).decode())
    client = StoreClient(wordpress)
    ctx.clients.append(client)
    return ActivitySource.register(
        ctx, comment_spec(ctx.settings.comment), client, schedule(ctx.settings)
    )


def comment_spec(rules: CommentRules) -> ActivitySpec:
    """The comments source under these rules."""
    return ActivitySpec(
        name=NAME,
        reason=COMMENT_REASON,
        kind=SourceKind.COMMENT,
        endpoint="comments",
        decide=deciding(comment_points, rules, _as_comment),
        parse=parse_comment,
        params={"type": "comment", "context": "edit", "_fields": COMMENT_FIELDS},
        keep=lambda item: item.type == "comment",
        rules=rules,
    )


def _as_comment(row: TrackedActivity) -> Comment:
    """A tracked comment as `rules.comment` sees it (the sync keeps the text's length)."""
    return Comment(comment_id=row.item_id, post_id=row.subject, parent=row.parent, **kept(row))


#: What `parse_comment` reads, asked for with `_fields` (see `sync.order_data.ORDER_FIELDS`).
COMMENT_FIELDS = "id,post,parent,type,status,author,author_email,date_gmt,content"


def parse_comment(raw: Any) -> Activity:
    """One item of `GET wp/v2/comments?context=edit`. The owner is the account when `author` > 0,
    else `author_email` (which only the edit context shows)."""
    obj = obj_at(raw, "")
    author = integer(member(obj, "author", ""), "author", minimum=0)
    email = email_of(obj, "author_email")
    if not author and not email:
        raise InvalidSourceData(
            "author_email: a guest's comment needs its email to find its owner, got none"
            " (is the listing asked for with context=edit?)",
            field="author_email",
        )
    content = obj_at(member(obj, "content", ""), "content")
    # `raw` (edit context) is what was typed; `rendered` has WordPress's paragraphs around it.
    body = content.get("raw", content.get("rendered"))
    return Activity(
        item_id=integer(member(obj, "id", ""), "id", minimum=1),
        subject=integer(member(obj, "post", ""), "post", minimum=0),
        status=status_of(obj),
        created_at=gmt(member(obj, "date_gmt", ""), "date_gmt"),
        text_length=text_length(text(body, "content.raw")),
        account=author,
        email=email,
        parent=integer(member(obj, "parent", ""), "parent", minimum=0),
        type=text(member(obj, "type", ""), "type", allow_empty=False)[:MAX_STATUS],
    )
