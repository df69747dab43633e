"""A full sync asks every listing it reads for the fields it reads (`_fields`), and nothing else
decides what it records: the ledger matches the independent oracle whatever the store trims."""

from __future__ import annotations

from collections.abc import Callable

from loyalty.config import Config
from rules.comment import CommentRules
from rules.review import ReviewRules
from sandbox.server import SandboxServer
from sync.activity_data import REVIEW_FIELDS
from sync.comments import COMMENT_FIELDS
from sync.order_data import CUSTOMER_FIELDS, ORDER_FIELDS, REFUND_FIELDS
from sync.summary import SyncSummary
from tests.e2e.activity import with_rules, with_wordpress

#: Each listing the sync reads, by path, and the fields it must ask for.
ASKED = {
    "/wp-json/wc/v3/orders": ORDER_FIELDS,
    "/wp-json/wc/v3/refunds": REFUND_FIELDS,
    "/wp-json/wc/v3/customers": CUSTOMER_FIELDS,
    "/wp-json/wc/v3/products/reviews": REVIEW_FIELDS,
    "/wp-json/wp/v2/comments": COMMENT_FIELDS,
}


def test_every_listing_read_is_asked_for_the_fields_the_sync_reads(
    sync: Callable[..., SyncSummary], config: Config, sandbox: SandboxServer
) -> None:
    rules = {"review": ReviewRules(enabled=True, points=10), "comment": CommentRules(enabled=True)}
    sandbox.request_log.clear()
    summary = sync(with_wordpress(with_rules(config, **rules)), full=True)
    assert summary.orders_seen > 0
    reads = sandbox.request_log.entries(method="GET")
    assert {r.path for r in reads} == set(ASKED)
    for record in reads:
        assert record.query.get("_fields") == ASKED[record.path], record.path
