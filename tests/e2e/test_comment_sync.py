"""Blog comments earn [rules.comment] points, end to end against the sandbox's WordPress side:
each status change lands as exactly one entry, the customer's meta follows, a second sync appends
nothing; a guest's comment follows the account; without WordPress credentials the source is off
in one line, with wrong ones it is reported once and the other sources still run."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from loyalty.config import Config
from rules.comment import CommentRules
from rules.review import ReviewRules
from sandbox.server import SandboxServer
from sandbox.store import SandboxStore
from sync.summary import SyncSummary
from tests.e2e.activity import balance, entries_of, with_rules, with_wordpress
from tests.e2e.conftest import meta

Sync = Callable[..., SyncSummary]
ON = CommentRules(enabled=True, points=5, max_per_day=3)


@pytest.fixture
def comments_on(config: Config) -> Config:
    return with_wordpress(with_rules(config, comment=ON))


@pytest.mark.slow
def test_approve_spam_approve_trash_approve_delete_gives_an_exact_ledger_and_meta(
    sync: Sync, store: SandboxStore, comments_on: Config, engine_for: Callable[[], Engine]
) -> None:
    bob = store.register_customer(email="bob.comments@example.org")
    post = store.post_ids()[0]
    comment = store.add_comment(
        post_id=post, email="bob.comments@example.org", name="Bob", text="Useful, thanks.",
        author=bob["id"], status="hold",
    )  # fmt: skip
    ref = f"comment:{comment['id']}"
    engine = engine_for()
    expected: list[int] = []
    for status, appended in [
        ("hold", []),
        ("approved", [5]),
        ("spam", [-5]),
        ("approved", [5]),
        ("trash", [-5]),
        ("approved", [5]),
        ("deleted", [-5]),
    ]:
        if status == "deleted":
            store.delete_comment(comment["id"], force=True)
        elif status != store.get("comments", comment["id"])["status"]:
            store.set_comment_status(comment["id"], status)
        first = sync(comments_on)
        expected += appended
        assert entries_of(engine, ref) == expected, status
        assert first.sources["comments"].entries == len(appended)
        assert first.sources["comments"].net_points == sum(appended)
        held = sum(expected)
        assert balance(comments_on, engine, wc_id=bob["id"]) == held
        assert meta(store, bob["id"]) in ((str(held),) if held or appended else (None, "0"))
        assert sync(comments_on).entries_appended == 0, status
        assert entries_of(engine, ref) == expected


def test_review_comments_are_never_counted_as_blog_comments(
    sync: Sync,
    store: SandboxStore,
    sandbox: SandboxServer,
    comments_on: Config,
    engine_for: Callable[[], Engine],
) -> None:
    both = with_rules(comments_on, review=ReviewRules(enabled=True, points=10))
    product = store.all("products")[0]["id"]
    review = store.add_review(product_id=product, email="r@example.org", name="R", rating=5,
                              text="Good", status="approved")  # fmt: skip
    sandbox.request_log.clear()
    summary = sync(both)
    # the run's requests count WordPress's too
    assert summary.requests == sandbox.request_log.count()
    assert sandbox.request_log.count(path_prefix="/wp-json/wp/v2/comments") >= 1
    engine = engine_for()
    assert entries_of(engine, f"review:{review['id']}") == [10]
    assert entries_of(engine, f"comment:{review['id']}") == []
    assert summary.sources["comments"].entries == 0


def test_a_guest_comment_is_held_by_email_and_follows_the_account_that_registers(
    sync: Sync, store: SandboxStore, comments_on: Config, engine_for: Callable[[], Engine]
) -> None:
    post = store.post_ids()[0]
    comment = store.add_comment(post_id=post, email="Guest.Writer@example.org", name="G",
                                text="First!", status="approved")  # fmt: skip
    sync(comments_on)
    engine = engine_for()
    assert balance(comments_on, engine, email="guest.writer@example.org") == 5
    account = store.register_customer(email="guest.writer@example.org")
    assert sync(comments_on).transfers == 1
    assert balance(comments_on, engine, wc_id=account["id"]) == 5
    assert meta(store, account["id"]) == "5"
    store.set_comment_status(comment["id"], "trash")
    sync(comments_on)
    assert balance(comments_on, engine, wc_id=account["id"]) == 0
    assert balance(comments_on, engine, email="guest.writer@example.org") == 0
    assert sync(comments_on).entries_appended == 0


def test_without_wordpress_credentials_comments_are_off_in_one_line_and_the_run_succeeds(
    sync: Sync, store: SandboxStore, config: Config, sandbox: SandboxServer
) -> None:
    post = store.post_ids()[0]
    store.add_comment(post_id=post, email="c@example.org", name="C", text="Hi", status="approved")
    sandbox.request_log.clear()
    summary = sync(with_rules(config, comment=ON))
    assert summary.ok
    assert summary.errors == []
    said = [w for w in summary.warnings if "comments" in w]
    assert len(said) == 1
    assert "[wordpress] username and app_password" in said[0]
    assert "comments" in summary.render()
    assert sandbox.request_log.count(path_prefix="/wp-json/wp/v2/") == 0
    assert summary.entries_appended > 0  # the orders went on


def test_wrong_wordpress_credentials_are_reported_once_and_the_other_sources_run(
    sync: Sync, store: SandboxStore, config: Config, engine_for: Callable[[], Engine]
) -> None:
    wrong = with_wordpress(with_rules(config, comment=ON), password="wrong pass word")
    product = store.all("products")[0]["id"]
    review = store.add_review(product_id=product, email="r@example.org", name="R", rating=5,
                              text="Good", status="approved")  # fmt: skip
    summary = sync(with_rules(wrong, review=ReviewRules(enabled=True)))
    assert not summary.ok
    said = [e for e in summary.errors if "comments" in e]
    assert len(said) == 1
    assert "401" in said[0]
    assert "[wordpress]" in said[0]
    assert "wrong pass word" not in summary.render()
    assert summary.sources_stopped == ["comments"]
    assert entries_of(engine_for(), f"review:{review['id']}") == [10]
    assert summary.customers_written > 0 or summary.entries_appended > 0


def test_the_daily_cap_holds_when_comments_arrive_out_of_order_across_syncs(
    sync: Sync, store: SandboxStore, comments_on: Config, engine_for: Callable[[], Engine]
) -> None:
    capped = with_rules(comments_on, comment=CommentRules(enabled=True, points=5, max_per_day=1))
    posts = store.post_ids()[:2]
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    with store.clock_at(day + timedelta(hours=14)):
        late = store.add_comment(post_id=posts[0], email="cap@example.org", name="C",
                                 text="later", status="approved")  # fmt: skip
    with store.clock_at(day + timedelta(hours=8)):
        early = store.add_comment(post_id=posts[1], email="cap@example.org", name="C",
                                  text="earlier", status="hold")  # fmt: skip
    sync(capped)
    engine = engine_for()
    assert entries_of(engine, f"comment:{late['id']}") == [5]
    store.set_comment_status(early["id"], "approved")
    sync(capped)
    assert entries_of(engine, f"comment:{early['id']}") == [5]
    assert entries_of(engine, f"comment:{late['id']}") == [5, -5]
    assert sync(capped, full=True).entries_appended == 0


def test_a_guest_comment_is_not_paid_twice_when_its_author_registers_in_a_run_without_credentials(
    sync: Sync, store: SandboxStore, config: Config, engine_for: Callable[[], Engine]
) -> None:
    """As for reviews: the guest registers during a cron run without the WordPress password
    (comments off in one line); the account held 10 for one 5-point comment."""
    rules = with_rules(config, comment=CommentRules(enabled=True, points=5))
    on = with_wordpress(rules)  # a cron run without $LOYALTY_WORDPRESS_APP_PASSWORD: `rules`
    post = store.post_ids()[0]
    store.add_comment(post_id=post, email="cron@example.org", name="C", text="Thanks",
                      status="approved")  # fmt: skip
    sync(on)
    engine = engine_for()
    assert balance(on, engine, email="cron@example.org") == 5
    account = store.register_customer(email="cron@example.org")
    assert sync(rules).ok  # comments off in one line, the run succeeds
    sync(on)
    assert balance(on, engine, email="cron@example.org") == 0
    assert balance(on, engine, wc_id=account["id"]) == 5


def test_a_comment_by_an_account_deleted_before_any_sync_saw_it_earns_for_its_email(
    sync: Sync, store: SandboxStore, comments_on: Config, engine_for: Callable[[], Engine]
) -> None:
    """WordPress keeps a deleted user's comments, still naming the user as `author`. A ledger
    that knew the account gives them to its email (README, Deleted accounts); one that never
    saw it (a fresh ledger, or an account registered and deleted between two syncs) gave them to
    an account row without an email, which the write-back then found deleted: the points stayed
    there, where nothing can hold or move them (found by the seeded soak)."""
    gone = store.register_customer(email="gone.writer@example.org")
    post = store.post_ids()[0]
    store.add_comment(post_id=post, email="gone.writer@example.org", name="Gone",
                      text="Thanks.", author=gone["id"], status="approved")  # fmt: skip
    store.delete_customer(gone["id"], force=True)
    sync(comments_on)
    engine = engine_for()
    assert balance(comments_on, engine, email="gone.writer@example.org") == 5
    assert balance(comments_on, engine, wc_id=gone["id"]) == 0
    assert sync(comments_on).entries_appended == 0
    again = store.register_customer(email="gone.writer@example.org")
    sync(comments_on)
    assert balance(comments_on, engine, wc_id=again["id"]) == 5
    assert meta(store, again["id"]) == "5"
    assert sync(comments_on, full=True).entries_appended == 0
