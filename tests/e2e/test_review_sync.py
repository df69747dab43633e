"""Product reviews earn [rules.review] points, end to end against the sandbox store: each status
change lands as exactly one entry, the customer's meta follows, a second sync appends nothing;
guests' reviews follow their account; caps hold when reviews arrive out of order."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from loyalty.config import Config
from rules.review import ReviewRules
from sandbox.server import SandboxServer
from sandbox.store import SandboxStore
from sync.summary import SyncSummary
from tests.e2e.activity import balance, entries_of, quarantined, with_rules
from tests.e2e.conftest import meta

Sync = Callable[..., SyncSummary]
ON = ReviewRules(enabled=True, points=10)


@pytest.fixture
def reviews_on(config: Config) -> Config:
    return with_rules(config, review=ON)


@pytest.mark.slow
def test_approve_spam_approve_trash_approve_delete_gives_an_exact_ledger_and_meta(
    sync: Sync, store: SandboxStore, reviews_on: Config, engine_for: Callable[[], Engine]
) -> None:
    alice = store.register_customer(email="alice.reviews@example.org")
    product = store.all("products")[0]["id"]
    review = store.add_review(
        product_id=product, email="Alice.Reviews@example.org", name="Alice", rating=5,
        text="Sturdy and warm.", status="hold",
    )  # fmt: skip
    ref = f"review:{review['id']}"
    engine = engine_for()
    expected: list[int] = []
    steps = [
        ("hold", []),
        ("approved", [10]),
        ("spam", [-10]),
        ("approved", [10]),
        ("trash", [-10]),
        ("approved", [10]),
        ("deleted", [-10]),
    ]
    for status, appended in steps:
        if status == "deleted":
            store.delete_review(review["id"], force=True)
        elif status != store.get("reviews", review["id"])["status"]:
            store.set_review_status(review["id"], status)
        first = sync(reviews_on)
        expected += appended
        assert entries_of(engine, ref) == expected, status
        assert first.sources["reviews"].entries == len(appended)
        assert first.sources["reviews"].net_points == sum(appended)
        held = sum(expected)
        assert balance(reviews_on, engine, wc_id=alice["id"]) == held
        assert meta(store, alice["id"]) in ((str(held),) if held or appended else (None, "0"))
        second = sync(reviews_on)
        assert second.entries_appended == 0, status
        assert entries_of(engine, ref) == expected


def test_once_per_product_the_earliest_approved_review_earns(
    sync: Sync, store: SandboxStore, reviews_on: Config, engine_for: Callable[[], Engine]
) -> None:
    product = store.all("products")[0]["id"]
    first, second = (
        store.add_review(product_id=product, email="twice@example.org", name="T", rating=4,
                         text="ok", status="approved")
        for _ in range(2)
    )  # fmt: skip
    sync(reviews_on)
    engine = engine_for()
    assert entries_of(engine, f"review:{first['id']}") == [10]
    assert entries_of(engine, f"review:{second['id']}") == []
    store.set_review_status(first["id"], "trash")  # the place goes to the next one
    sync(reviews_on)
    assert entries_of(engine, f"review:{first['id']}") == [10, -10]
    assert entries_of(engine, f"review:{second['id']}") == [10]
    assert balance(reviews_on, engine, email="twice@example.org") == 10


def test_a_guest_review_is_held_by_email_and_follows_the_account_that_registers(
    sync: Sync, store: SandboxStore, reviews_on: Config, engine_for: Callable[[], Engine]
) -> None:
    product = store.all("products")[0]["id"]
    review = store.add_review(
        product_id=product, email="Guest.Reviewer@example.org", name="G", rating=5, text="Nice",
        status="approved",
    )  # fmt: skip
    sync(reviews_on)
    engine = engine_for()
    assert balance(reviews_on, engine, email="guest.reviewer@example.org") == 10
    account = store.register_customer(email="guest.reviewer@example.org")
    assert sync(reviews_on).transfers == 1
    assert balance(reviews_on, engine, email="guest.reviewer@example.org") == 0
    assert balance(reviews_on, engine, wc_id=account["id"]) == 10
    assert meta(store, account["id"]) == "10"
    store.set_review_status(review["id"], "spam")  # the account, not the guest, gives it back
    sync(reviews_on)
    assert balance(reviews_on, engine, wc_id=account["id"]) == 0
    assert balance(reviews_on, engine, email="guest.reviewer@example.org") == 0
    assert meta(store, account["id"]) == "0"
    assert sync(reviews_on).entries_appended == 0


def test_the_daily_cap_holds_when_reviews_arrive_out_of_order_across_syncs(
    sync: Sync, store: SandboxStore, config: Config, engine_for: Callable[[], Engine]
) -> None:
    capped = with_rules(config, review=ReviewRules(enabled=True, points=10, max_per_day=1))
    products = [p["id"] for p in store.all("products")[:3]]
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=2)

    def review_at(hour: int, product: int, status: str) -> int:
        with store.clock_at(day + timedelta(hours=hour)):
            made = store.add_review(product_id=product, email="cap@example.org", name="C",
                                    rating=5, text="fine", status=status)  # fmt: skip
        return int(made["id"])

    late = review_at(15, products[0], "approved")
    early = review_at(9, products[1], "spam")  # created first in the day, approved later
    sync(capped)
    engine = engine_for()
    assert entries_of(engine, f"review:{late}") == [10]
    store.set_review_status(early, "approved")  # arrives in a later sync: it takes the place
    sync(capped)
    assert entries_of(engine, f"review:{early}") == [10]
    assert entries_of(engine, f"review:{late}") == [10, -10]
    middle = review_at(12, products[2], "approved")  # later than `early`: over the cap
    sync(capped)
    assert entries_of(engine, f"review:{middle}") == []
    store.set_review_status(early, "hold")  # frees the place for the next by date: `middle`
    sync(capped)
    assert entries_of(engine, f"review:{middle}") == [10]
    assert entries_of(engine, f"review:{late}") == [10, -10]
    assert balance(capped, engine, email="cap@example.org") == 10
    # a full resync gives the same ledger
    assert sync(capped, full=True).entries_appended == 0


def test_a_review_without_an_email_is_quarantined_and_the_others_earn(
    sync: Sync,
    store: SandboxStore,
    sandbox: SandboxServer,
    reviews_on: Config,
    engine_for: Callable[[], Engine],
) -> None:
    product = store.all("products")[0]["id"]
    broken = store.add_review(product_id=product, email="x@example.org", name="X", rating=5,
                              text="?", status="approved")  # fmt: skip
    fine = store.add_review(product_id=product, email="y@example.org", name="Y", rating=5,
                            text="!", status="approved")  # fmt: skip
    sandbox.overrides.patch("reviews", broken["id"], {"reviewer_email": ""})
    dateless = store.add_review(product_id=product, email="z@example.org", name="Z", rating=5,
                                text="?", status="approved")  # fmt: skip
    sandbox.overrides.patch("reviews", dateless["id"], {"date_created_gmt": "yesterday"})
    summary = sync(reviews_on)
    engine = engine_for()
    assert summary.quarantined == 2
    reasons = quarantined(engine, "reviews")
    assert "reviewer_email" in reasons[str(broken["id"])]
    assert "date_created_gmt" in reasons[str(dateless["id"])]
    assert entries_of(engine, f"review:{fine['id']}") == [10]
    assert entries_of(engine, f"review:{broken['id']}") == []


def test_a_dry_run_counts_review_points_and_writes_nothing(
    sync: Sync, store: SandboxStore, reviews_on: Config, engine_for: Callable[[], Engine]
) -> None:
    product = store.all("products")[0]["id"]
    review = store.add_review(product_id=product, email="dry@example.org", name="D", rating=5,
                              text="Fine", status="approved")  # fmt: skip
    dry = sync(reviews_on, dry_run=True)
    assert dry.as_dict()["sources"]["reviews"] == {"seen": 1, "entries": 1, "net_points": 10}
    assert any(
        change["source_ref"] == f"review:{review['id']}" for change in dry.as_dict()["changes"]
    )
    engine = engine_for()
    assert entries_of(engine, f"review:{review['id']}") == []
    real = sync(reviews_on)
    assert real.as_dict()["sources"]["reviews"] == {"seen": 1, "entries": 1, "net_points": 10}
    assert entries_of(engine, f"review:{review['id']}") == [10]


def test_a_guest_review_is_not_paid_twice_when_its_author_registers_while_reviews_are_off(
    sync: Sync, store: SandboxStore, config: Config, engine_for: Callable[[], Engine]
) -> None:
    """A guest earns 10 for a review, then registers during a run with reviews off: the merge
    moves the guest's 10 to the account as a balance, but the review's tracked row, moved only
    by the reviews source, stays on the guest. With reviews on again the review looked moved
    (guest -10, account +10) and the account held 20 (found by a review, 4 Dec). The guest's
    entries are the account's (`ledger.customers.heirs`): nothing moves twice."""
    on = with_rules(config, review=ReviewRules(enabled=True, points=10))
    off = with_rules(config, review=ReviewRules(enabled=False, points=10))
    product = store.all("products")[0]["id"]
    store.add_review(product_id=product, email="flip@example.org", name="F", rating=5,
                     text="Good", status="approved")  # fmt: skip
    sync(on)
    engine = engine_for()
    assert balance(on, engine, email="flip@example.org") == 10
    account = store.register_customer(email="flip@example.org")
    sync(off)  # one run with the source off: the guest's balance moves to the account
    assert balance(on, engine, wc_id=account["id"]) == 10
    sync(on)  # the source back on: one review, still 10 points in all, all on the account
    assert balance(on, engine, email="flip@example.org") == 0
    assert balance(on, engine, wc_id=account["id"]) == 10


def test_one_review_served_with_a_text_id_is_quarantined_and_deletions_are_still_revoked(
    sync: Sync,
    store: SandboxStore,
    sandbox: SandboxServer,
    config: Config,
    engine_for: Callable[[], Engine],
) -> None:
    """A known review served with `"id": "17"` (a plugin's text id) is quarantined, naming `id`;
    it was not counted as listed, so it was asked for by id, and the answer, holding "17", stopped
    the reviews source ("the store ignored `include`") every run: deleted reviews kept their
    points (found by a review, 4 Dec). It is item 17, unusable: it keeps its points."""
    on = with_rules(config, review=ReviewRules(enabled=True, points=10))
    product = store.all("products")[0]["id"]
    odd, gone = (
        store.add_review(product_id=product, email=f"{name}@example.org", name=name, rating=5,
                         text="Good", status="approved")
        for name in ("odd", "gone")
    )  # fmt: skip
    sync(on)
    engine = engine_for()
    assert entries_of(engine, f"review:{gone['id']}") == [10]
    sandbox.overrides.patch("reviews", odd["id"], {"id": str(odd["id"])})  # a plugin's text id
    store.delete_review(gone["id"], force=True)

    summary = sync(on)

    assert "id" in quarantined(engine, "reviews")[f'id="{odd["id"]}"']
    assert entries_of(engine, f"review:{gone['id']}") == [10, -10], "the deletion is revoked"
    assert summary.sources_stopped == []
    assert summary.ok


def test_a_review_answered_by_id_without_a_usable_id_deletes_nothing_and_stops_nothing(
    sync: Sync,
    store: SandboxStore,
    sandbox: SandboxServer,
    config: Config,
    engine_for: Callable[[], Engine],
) -> None:
    """A review marked spam is asked for by id; the answer holds it with `"id": null`. It cannot
    be told from the others asked for, so none of those not found is taken for deleted this run
    (a warning says so), the item is quarantined, and the source goes on."""
    on = with_rules(config, review=ReviewRules(enabled=True, points=10))
    product = store.all("products")[0]["id"]
    review = store.add_review(product_id=product, email="nul@example.org", name="N", rating=5,
                              text="Good", status="approved")  # fmt: skip
    sync(on)
    store.set_review_status(review["id"], "spam")
    sandbox.overrides.patch("reviews", review["id"], {"id": None})

    summary = sync(on)

    engine = engine_for()
    assert summary.sources_stopped == []
    assert entries_of(engine, f"review:{review['id']}") == [10], "nothing is taken for deleted"
    assert any("not taken for deleted" in warning for warning in summary.warnings)
    assert summary.quarantined == 1


def test_a_review_served_with_a_status_that_is_not_one_is_quarantined_and_keeps_its_points(
    sync: Sync,
    store: SandboxStore,
    sandbox: SandboxServer,
    config: Config,
    engine_for: Callable[[], Engine],
) -> None:
    """README: a status that is not one is quarantined. Only empty or over-long statuses were:
    "bogus" was read as not live and the review's 10 points were revoked (found by a review)."""
    on = with_rules(config, review=ReviewRules(enabled=True, points=10))
    product = store.all("products")[0]["id"]
    review = store.add_review(product_id=product, email="st@example.org", name="S", rating=5,
                              text="Good", status="approved")  # fmt: skip
    sync(on)
    sandbox.overrides.patch("reviews", review["id"], {"status": "bogus"})  # a plugin's mangling

    summary = sync(on)

    engine = engine_for()
    assert summary.quarantined == 1
    assert "status" in quarantined(engine, "reviews")[str(review["id"])]
    assert entries_of(engine, f"review:{review['id']}") == [10], "a broken item changes nothing"


def test_a_review_dated_in_the_year_2999_does_not_hide_the_reviews_written_after_it(
    sync: Sync,
    store: SandboxStore,
    sandbox: SandboxServer,
    config: Config,
    engine_for: Callable[[], Engine],
) -> None:
    """The newest creation date seen was the listing's start (less the overlap): one review
    dated 2999 by a plugin made every run ask for reviews created after 2999, and with
    `rescan_days = 0` a review written since earned nothing until the day's reconciliation
    (found by a review). The position never passes the window's end."""
    on = with_rules(config, review=ReviewRules(enabled=True, points=10))
    product = store.all("products")[0]["id"]
    future = store.add_review(product_id=product, email="f@example.org", name="F", rating=5,
                              text="Good", status="approved")  # fmt: skip
    sandbox.overrides.patch("reviews", future["id"], {"date_created_gmt": "2999-01-01T00:00:00"})
    sync(on, rescan_days=0)  # the first run lists everything (and reconciles)
    later = store.add_review(product_id=product, email="l@example.org", name="L", rating=5,
                             text="Good", status="approved")  # fmt: skip

    sync(on, rescan_days=0)  # a regular run, its reconciliation not due for a day

    assert entries_of(engine_for(), f"review:{later['id']}") == [10]


def test_a_review_written_after_its_author_changed_the_account_email_earns_on_the_account_by_the_check(
    sync: Sync, store: SandboxStore, config: Config, engine_for: Callable[[], Engine]
) -> None:
    """Reviews are owned by `reviewer_email`; the customers listing brought only new ids, so an
    account whose email changed kept the old one, and its review went to a guest nobody's meta
    shows (found by a review). Every `reconcile_every_hours` all accounts are listed again: the
    account takes its new email, and the guest's points move to it."""
    on = with_rules(config, review=ReviewRules(enabled=True, points=10))
    account = store.register_customer(email="old.address@example.org")
    sync(on)
    store.update_customer(account["id"], {"email": "new.address@example.org"})
    product = store.all("products")[0]["id"]
    store.add_review(product_id=product, email="new.address@example.org", name="N", rating=5,
                     text="Good", status="approved")  # fmt: skip

    sync(on, reconcile_every_hours=0)  # the day's check

    engine = engine_for()
    assert balance(on, engine, email="new.address@example.org") == 0, "no stray guest"
    assert balance(on, engine, wc_id=account["id"]) == 10
