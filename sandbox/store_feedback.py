"""Product reviews and blog comments in the sandbox store, with WordPress's moderation.

For `SandboxStore` (as `FeedbackMixin`): shoppers review products (which keeps the product's
average_rating and rating_count in step) and comment on blog posts; admins moderate both.
"""

from __future__ import annotations

from decimal import Decimal

from sandbox import resources as r
from sandbox.resources import Json
from sandbox.store_base import StoreBase, clone, locked
from sandbox.store_errors import EMAIL, SandboxError, invalid_param, not_one_of

COMMENT_STATUSES = ("approved", "hold", "spam", "trash")


class FeedbackMixin(StoreBase):
    """Reviews (with product ratings) and comments: creation and moderation."""

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
        review = r.review(
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
        self._data["reviews"][review["id"]] = review
        self._reviews_of_product.setdefault(product_id, []).append(review["id"])
        self._rate(product_id)
        return clone(review)

    @locked
    def set_review_status(self, review_id: int, status: str) -> Json:
        """Approve, hold, spam or trash a review. No date changes (there is no modified date)."""
        review = self._find("reviews", review_id)
        if status not in COMMENT_STATUSES:
            raise not_one_of("status", COMMENT_STATUSES)
        review["status"] = status
        self._rate(review["product_id"])
        return clone(review)

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
        product["average_rating"] = (
            r.fmt(Decimal(sum(ratings)) / len(ratings)) if ratings else "0.00"
        )

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
        comment = r.comment(
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
        self._data["comments"][cid] = comment
        return clone(comment)

    @locked
    def set_comment_status(self, comment_id: int, status: str) -> Json:
        """Approve, hold, spam or trash a comment (no date changes, as in WordPress)."""
        comment = self._find("comments", comment_id)
        if status not in COMMENT_STATUSES:
            raise not_one_of("status", COMMENT_STATUSES)
        comment["status"] = status
        return clone(comment)
