"""Blog comments: WordPress's `/wp/v2/comments`, with WordPress's access rules, and blog posts.

For the store, the server and the generator:
- shape: `comment` builds a comment exactly as wp-comment.json has it, plus the context=edit
  fields (`COMMENT_EDIT_ONLY`) that the view context hides;
- state: `CommentsMixin` (part of `SandboxStore`): blog posts to comment on, comments and replies,
  moderation;
- routes: `/wp/v2/comments[/{id}]` and the control routes `GET /sandbox/posts`,
  `POST /sandbox/comments` and `POST /sandbox/comments/{id}/status`.
Anyone may list approved comments; only a user who can moderate may ask for the edit context,
other statuses or types, or filter by author. Listing defaults: `status=approve&type=comment`,
where `all` means approved and held ones.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sandbox.arguments import Param, validate
from sandbox.control import ControlCall, ControlRoute, take
from sandbox.errors import EMAIL, SandboxError, invalid_param, not_one_of
from sandbox.formats import Json, avatar_urls, wc_dates, wpautop
from sandbox.listing import (
    BY_ID,
    PAGING,
    Collection,
    Predicate,
    by,
    outside,
    within,
    wp_comment_status,
)
from sandbox.messages import Response
from sandbox.resource import Resource
from sandbox.rest import ITEM_ARGS, Call, RestApi, Route, Served, link
from sandbox.state import StoreBase, clone, locked

INVALID_ID = ("rest_comment_invalid_id", "Invalid comment ID.")
COMMENT_STATUSES = ("approved", "hold", "spam", "trash")


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


class CommentsMixin(StoreBase):
    """Blog posts and their comments: creation and moderation."""

    @locked
    def add_post(self, title: str) -> int:
        """A published blog post that comments can be left on; returns its id."""
        pid = self._next("post")
        self._posts[pid] = {"id": pid, "title": title, "date_gmt": wc_dates(self.now())[1]}
        return pid

    @locked
    def post_ids(self) -> list[int]:
        return list(self._posts)

    @locked
    def add_comment(
        self,
        *,
        post_id: int,
        email: str,
        name: str,
        text: str,
        author: int = 0,
        parent: int = 0,
        status: str = "hold",
    ) -> Json:
        """Someone comments on a blog post (a reply when `parent` names a comment on that post)."""
        if post_id not in self._posts:
            raise SandboxError(
                "rest_comment_invalid_post_id",
                "Sorry, you are not allowed to create this comment without a post.",
                403,
            )
        if status not in COMMENT_STATUSES:
            raise not_one_of("status", COMMENT_STATUSES)
        if parent and self._data["comments"].get(parent, {}).get("post") != post_id:
            raise invalid_param("parent", f"parent {parent} is not a comment on post {post_id}.")
        if author and author not in self._data["customers"]:
            raise invalid_param("author", f"author {author} is not a user.")
        if not name or not EMAIL.match(email or ""):
            raise SandboxError(
                "rest_comment_author_data_required",
                "Creating a comment requires valid author name and email values.",
                400,
            )
        cid = self._next("comment")
        obj = comment(
            id=cid,
            post=post_id,
            parent=parent,
            author=author,
            name=name,
            email=email,
            created=self.now(),
            text=text,
            status=status,
            site_url=self.site_url,
            ip=f"203.0.113.{cid % 250 + 1}",
            user_agent="Mozilla/5.0 (X11; Linux x86_64) SandboxBrowser/1.0",
        )
        self._data["comments"][cid] = obj
        return self._out(obj)

    @locked
    def set_comment_status(self, comment_id: int, status: str) -> Json:
        """Approve, hold, spam or trash a comment (no date changes, as in WordPress)."""
        comment = self._find("comments", comment_id)
        if status not in COMMENT_STATUSES:
            raise not_one_of("status", COMMENT_STATUSES)
        comment["status"] = status
        self._changed(comment)
        review = self._data["reviews"].get(comment_id) if comment["type"] == "review" else None
        if review is not None:  # one WordPress row: the review's status is this status
            review["status"] = status
            self._changed(review)
        return self._out(comment)

    @locked
    def delete_comment(self, comment_id: int, *, force: bool) -> Json:
        """DELETE a comment: to the trash, or gone with `force` (a review comment takes its review
        with it). Answers the comment before a forced delete, the trashed one otherwise."""
        comment = self._find("comments", comment_id)
        if force:
            snapshot = clone(comment)
            del self._data["comments"][comment_id]
            review = self._data["reviews"].pop(comment_id, None)
            if review is not None:
                self._reviews_of_product[review["product_id"]].remove(comment_id)
            return snapshot
        if comment["status"] == "trash":
            raise SandboxError("rest_already_trashed", "The comment has already been trashed.", 410)
        return self.set_comment_status(comment_id, "trash")


# ---- listing and routes ----


def _comment_filters(args: dict[str, Any]) -> list[Predicate]:
    found: list[Predicate] = [wp_comment_status(args["status"], approved_name="approve")]
    comment_type = args["type"]
    found.append(lambda c: c["type"] == comment_type)
    for key, column in (("post", "post"), ("parent", "parent"), ("author", "author")):
        if args[key]:
            found.append(within(column, set(args[key])))
    for key, column in (("parent_exclude", "parent"), ("author_exclude", "author")):
        if args[key]:
            found.append(outside(column, set(args[key])))
    if args["author_email"]:
        email = args["author_email"].lower()
        found.append(lambda c: c["author_email"].lower() == email)
    return found


COLLECTION = Collection(
    "comments",
    {
        **PAGING,
        "after": Param("date"),
        "before": Param("date"),
        "orderby": Param(
            "enum",
            "date_gmt",
            ("date", "date_gmt", "id", "include", "post", "parent", "type"),
        ),
        "post": Param("integers", ()),
        "parent": Param("integers", ()),
        "parent_exclude": Param("integers", ()),
        "author": Param("integers", ()),
        "author_exclude": Param("integers", ()),
        "author_email": Param("email"),
        "status": Param("string", "approve"),
        "type": Param("string", "comment"),
    },
    {
        "date": by("date_gmt"),
        "date_gmt": by("date_gmt"),
        "id": BY_ID,
        "post": by("post"),
        "parent": by("parent"),
        "type": by("type"),
    },
    _comment_filters,
    date_columns=("date", "date"),
    search_fields=("author_name", "author_email"),
    page_beyond_end="rest_comment_invalid_page_number",
)


def _children(store: StoreBase) -> Json:
    """What a page's links need: the comments that have replies."""
    parents: set[int] = set()

    def visit(comment: Json) -> bool:
        if comment["status"] in ("approved", "hold"):  # get_children() counts these
            parents.add(comment["parent"])
        return False

    store.query("comments", where=visit)
    return {"with_children": parents}


def _links(comment: Json, api_url: str, extra: Json) -> Json:
    return _comment_links(comment, f"{api_url}/wp/v2", extra)


def _comment_links(comment: Json, wp: str, extra: Json) -> Json:
    links: Json = {
        "self": link(f"{wp}/comments/{comment['id']}"),
        "collection": link(f"{wp}/comments"),
    }
    if comment["author"]:
        links["author"] = link(f"{wp}/users/{comment['author']}", embeddable=True)
    links["up"] = link(f"{wp}/posts/{comment['post']}", embeddable=True, post_type="post")
    if comment["parent"]:
        links["in-reply-to"] = link(f"{wp}/comments/{comment['parent']}", embeddable=True)
    if comment["id"] in extra.get("with_children", ()):
        links["children"] = link(f"{wp}/comments?parent={comment['id']}", embeddable=True)
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


COMMENT = Served("comments", _links, COLLECTION, view=_comment_context, shared=_children)


_FORBIDDEN_CONTEXT = SandboxError(
    "rest_forbidden_context", "Sorry, you are not allowed to edit comments.", 401
)


def _list_comments(api: RestApi, call: Call) -> Response:
    """GET comments: a page of comments, after WordPress's checks of the query for non-moderators."""
    args = validate(COLLECTION.params, call.params)
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
    return api.serve_list(call, COMMENT, public=True)


def _get_comment(api: RestApi, call: Call) -> Response:
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
    return Response.json(200, api.shape(COMMENT, comment, args["context"]))


def _delete_comment(api: RestApi, call: Call) -> Response:
    """DELETE comments/{id}: the trashed comment, or {deleted, previous} with force; only a
    moderator may (WordPress checks edit_comment)."""
    args = validate({"force": Param("boolean", False), "password": Param("string")}, call.params)
    comment = api.store.get("comments", call.ids[0])
    if not call.identity.can_moderate:
        raise SandboxError(
            "rest_cannot_delete", "Sorry, you are not allowed to delete this comment.", 401
        )
    store = api.store_as(CommentsMixin)
    if args["force"]:
        previous = store.delete_comment(comment["id"], force=True)
        return Response.json(
            200, {"deleted": True, "previous": api.shape(COMMENT, previous, "edit")}
        )
    return Response.json(
        200, api.shape(COMMENT, store.delete_comment(comment["id"], force=False), "edit")
    )


def _add_comment(call: ControlCall) -> tuple[int, Any]:
    body = call.body
    comment = call.store_as(CommentsMixin).add_comment(
        post_id=take(body, "post_id", "int", required=True),
        email=take(body, "email", "str", required=True),
        name=take(body, "name", "str", required=True),
        text=take(body, "text", "str", default=""),
        author=take(body, "author", "int", default=0),
        parent=take(body, "parent", "int", default=0),
        status=take(body, "status", "str", default="hold"),
    )
    return 201, comment


def _comment_status(call: ControlCall) -> tuple[int, Any]:
    status = take(call.body, "status", "str", required=True)
    return 200, call.store_as(CommentsMixin).set_comment_status(call.ids[0], status)


def _posts(call: ControlCall) -> tuple[int, Any]:
    return 200, {"post_ids": call.store_as(CommentsMixin).post_ids()}


RESOURCE = Resource(
    "comments",
    INVALID_ID,
    listings=(COLLECTION,),
    rest=(
        Route("GET", "/wp/v2/comments", _list_comments),
        Route("GET", r"/wp/v2/comments/(\d+)", _get_comment),
        Route("DELETE", r"/wp/v2/comments/(\d+)", _delete_comment),
    ),
    control=(
        ControlRoute("GET", "/posts", _posts, "/posts  blog post ids comments can go on"),
        ControlRoute(
            "POST",
            "/comments",
            _add_comment,
            '/comments  {"post_id", "email", "name", "text", "author"?, "parent"?, "status"?}',
        ),
        ControlRoute(
            "POST",
            r"/comments/(\d+)/status",
            _comment_status,
            '/comments/{id}/status  {"status": ...}',
        ),
    ),
)
