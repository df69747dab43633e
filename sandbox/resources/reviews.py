"""Product reviews: WordPress comments of type "review", as WooCommerce keeps and serves them.

For the store, the server and the generator:
- shape: `review` builds a review exactly as real-product-review.json has it;
- state: `ReviewsMixin` (part of `SandboxStore`): shoppers review products, admins moderate;
  the product's average_rating and rating_count follow the approved, rated reviews;
- routes: `/wc/v3/products/reviews[/{id}]` (list, get, delete: trash, or gone with `force=true`)
  and the control routes `POST /sandbox/reviews` and `POST /sandbox/reviews/{id}/status`.
Listing default: `status=approved`; `status=all` is approved and held ones only (WP_Comment_Query's
`all`): spam and trash are listed only when asked for by name.

A review is a WordPress comment of type "review": each one is also in the comments table, so
`/wp/v2/comments?type=review` lists it (and the default `type=comment` leaves it out), and its
status is the same row's wherever it is changed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sandbox.arguments import Param, validate
from sandbox.control import ControlCall, ControlRoute, take
from sandbox.errors import EMAIL, SandboxError, invalid_param, not_one_of
from sandbox.formats import Json, avatar_urls, fmt, wc_dates, wpautop
from sandbox.listing import BY_ID, PAGING, Collection, Predicate, by, wp_comment_status
from sandbox.messages import Response
from sandbox.resource import Resource
from sandbox.resources.comments import COMMENT_STATUSES, comment
from sandbox.rest import DELETE_ARGS, Call, RestApi, Route, Served, link, require
from sandbox.state import StoreBase, clone, locked

INVALID_ID = ("woocommerce_rest_review_invalid_id", "Invalid review ID.")


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


class ReviewsMixin(StoreBase):
    """Reviews (with the products' ratings): creation and moderation."""

    @locked
    def add_review(
        self,
        *,
        product_id: int,
        email: str,
        name: str,
        rating: int,
        text: str,
        status: str = "hold",
        verified: bool = False,
    ) -> Json:
        """A shopper reviews a product (WordPress comment of type "review")."""
        product = self._data["products"].get(product_id)
        if product is None:
            raise SandboxError("woocommerce_rest_product_invalid_id", "Invalid product ID.", 404)
        if status not in COMMENT_STATUSES:
            raise not_one_of("status", COMMENT_STATUSES)
        if not isinstance(rating, int) or isinstance(rating, bool) or not 0 <= rating <= 5:
            raise invalid_param("rating", "rating must be between 0 (inclusive) and 5 (inclusive)")
        if not name or not EMAIL.match(email or ""):
            raise invalid_param(
                "reviewer_email" if name else "reviewer",
                "A review needs a reviewer name and a valid email.",
            )
        obj = review(
            id=self._next("comment"),
            created=self.now(),
            product_obj=product,
            status=status,
            reviewer=name,
            email=email,
            text=text,
            rating=rating,
            verified=verified,
        )
        self._data["reviews"][obj["id"]] = obj
        self._data["comments"][obj["id"]] = self._review_comment(obj, text)
        self._reviews_of_product.setdefault(product_id, []).append(obj["id"])
        self._rate(product_id)
        return self._out(obj)

    @locked
    def set_review_status(self, review_id: int, status: str) -> Json:
        """Approve, hold, spam or trash a review. No date changes (there is no modified date)."""
        review = self._find("reviews", review_id)
        if status not in COMMENT_STATUSES:
            raise not_one_of("status", COMMENT_STATUSES)
        review["status"] = status
        self._changed(review)
        mirror = self._data["comments"].get(review_id)
        if mirror is not None:
            mirror["status"] = status
            self._changed(mirror)
        self._rate(review["product_id"])
        return self._out(review)

    @locked
    def delete_review(self, review_id: int, *, force: bool) -> Json:
        """DELETE a review: to the trash, or gone with `force`. Answers the review before a forced
        delete (WooCommerce prepares it first), the trashed review otherwise."""
        review = self._find("reviews", review_id)
        if force:
            snapshot = clone(review)
            del self._data["reviews"][review_id]
            self._data["comments"].pop(review_id, None)
            self._reviews_of_product[review["product_id"]].remove(review_id)
            self._rate(review["product_id"])
            return snapshot
        if review["status"] == "trash":
            raise SandboxError(
                "woocommerce_rest_already_trashed", "The object has already been trashed.", 410
            )
        return self.set_review_status(review_id, "trash")

    def _review_comment(self, review: Json, text: str) -> Json:
        """The review as `/wp/v2/comments` serves it (type "review", on the product's post)."""
        email = review["reviewer_email"]
        return {
            **comment(
                id=review["id"],
                post=review["product_id"],
                parent=0,
                author=self.customer_id_by_email(email) or 0,
                name=review["reviewer"],
                email=email,
                created=datetime.fromisoformat(review["date_created_gmt"]).replace(tzinfo=UTC),
                text=text,
                status=review["status"],
                site_url=self.site_url,
                ip="203.0.113.1",
                user_agent="Mozilla/5.0 (X11; Linux x86_64) SandboxBrowser/1.0",
            ),
            "type": "review",
        }

    def _rate(self, product_id: int) -> None:
        """The product's average_rating/rating_count over its approved, rated reviews."""
        product = self._data["products"].get(product_id)
        if product is None:
            return
        reviews = (
            self._data["reviews"][rid] for rid in self._reviews_of_product.get(product_id, [])
        )
        ratings = [
            rv["rating"] for rv in reviews if rv["status"] == "approved" and rv["rating"] > 0
        ]
        product["rating_count"] = len(ratings)
        product["average_rating"] = fmt(Decimal(sum(ratings)) / len(ratings)) if ratings else "0.00"


# ---- listing and routes ----


def _review_filters(args: dict[str, Any]) -> list[Predicate]:
    found: list[Predicate] = [wp_comment_status(args["status"], approved_name="approved")]
    if args["product"]:
        products = set(args["product"])
        found.append(lambda r: r["product_id"] in products)
    if args["reviewer_email"]:
        email = args["reviewer_email"].lower()
        found.append(lambda r: r["reviewer_email"].lower() == email)
    return found


COLLECTION = Collection(
    "reviews",
    {
        **PAGING,
        "after": Param("date"),
        "before": Param("date"),
        "orderby": Param("enum", "date_gmt", ("date", "date_gmt", "id", "include", "product")),
        "product": Param("integers", ()),
        "status": Param("enum", "approved", ("all", "hold", "approved", "spam", "trash")),
        "reviewer_email": Param("email"),
    },
    {
        "date": by("date_created_gmt"),
        "date_gmt": by("date_created_gmt"),
        "id": BY_ID,
        "product": by("product_id"),
    },
    _review_filters,
    date_columns=("date_created", "date_created"),
    search_fields=("reviewer", "reviewer_email", "review"),
)


def _with_reviewer(store: StoreBase, obj: Json, extra: Json) -> Json:
    extra["reviewer_id"] = store.customer_id_by_email(obj["reviewer_email"])
    return obj


def _review_links(obj: Json, api_url: str, extra: Json) -> Json:
    wc = f"{api_url}/wc/v3"
    links = {
        "self": link(f"{wc}/products/reviews/{obj['id']}"),
        "collection": link(f"{wc}/products/reviews"),
        "up": link(f"{wc}/products/{obj['product_id']}"),
    }
    if extra.get("reviewer_id"):
        links["reviewer"] = link(f"{api_url}/wp/v2/users/{extra['reviewer_id']}", embeddable=True)
    return links


REVIEW = Served("reviews", _review_links, COLLECTION, prepare=_with_reviewer)


def _delete_review(api: RestApi, call: Call) -> Response:
    """DELETE products/reviews/{id}: the trashed review, or {deleted, previous} with force."""
    args = validate(DELETE_ARGS, call.params)
    require(call, "delete", exists=api.exists("reviews", call.ids[0]))
    store = api.store_as(ReviewsMixin)
    if args["force"]:
        previous = store.delete_review(call.ids[0], force=True)
        body = {"deleted": True, "previous": api.shape(REVIEW, previous, "edit")}
        return Response.json(200, body)
    return Response.json(
        200, api.shape(REVIEW, store.delete_review(call.ids[0], force=False), "edit")
    )


def _add_review(call: ControlCall) -> tuple[int, Any]:
    body = call.body
    review = call.store_as(ReviewsMixin).add_review(
        product_id=take(body, "product_id", "int", required=True),
        email=take(body, "email", "str", required=True),
        name=take(body, "name", "str", required=True),
        rating=take(body, "rating", "int", required=True),
        text=take(body, "text", "str", default=""),
        status=take(body, "status", "str", default="hold"),
        verified=take(body, "verified", "bool", default=False),
    )
    return 201, review


def _review_status(call: ControlCall) -> tuple[int, Any]:
    status = take(call.body, "status", "str", required=True)
    return 200, call.store_as(ReviewsMixin).set_review_status(call.ids[0], status)


RESOURCE = Resource(
    "reviews",
    INVALID_ID,
    listings=(COLLECTION,),
    rest=(
        Route("GET", "/wc/v3/products/reviews", lambda api, c: api.serve_list(c, REVIEW)),
        Route("GET", r"/wc/v3/products/reviews/(\d+)", lambda api, c: api.get(c, REVIEW)),
        Route("DELETE", r"/wc/v3/products/reviews/(\d+)", _delete_review),
    ),
    control=(
        ControlRoute(
            "POST",
            "/reviews",
            _add_review,
            '/reviews  {"product_id", "email", "name", "rating", "text", "status"?, "verified"?}',
        ),
        ControlRoute(
            "POST",
            r"/reviews/(\d+)/status",
            _review_status,
            '/reviews/{id}/status  {"status": "approved" | "hold" | "spam" | "trash"}',
        ),
    ),
)
