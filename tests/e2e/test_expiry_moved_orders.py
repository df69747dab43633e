"""Expiry and orders moved between customers, after a third review (4 Dec): an inactivity key of
the briefly used form `expiry:inactive:{customer}:{date}` is read as today's; a partly expired order
moved keeps its entries' lines adding up (`loyalty verify`). Since stop 28 a reference held by
others than its owner is reconciled per holder: once any of an order's points expired, a move
moves none of them, and a later reduction is taken from the customer who had them, not from a
new owner; an order moved away and back with an expiry between leaves nobody in debt."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ledger.balances import BalanceDifference, verify_balances
from ledger.customers import account_customer, get_or_create_store
from ledger.debt import debt_state
from ledger.entries import NewEntry, append_entries
from ledger.kinds import SourceKind
from ledger.models import Balance, Customer, PointEntry
from ledger.rollup_checks import RollupDifference, verify_rollups
from ledger.session import session_scope
from loyalty.config import Config
from rules.expiry import ExpiryMode, ExpiryRules
from sandbox.server import SandboxServer
from sandbox.store import SandboxStore
from sync.expiry import run_expiry
from tests.e2e.test_expiry_reconcile import completed_order, dump, gift_shop, product_of

NOW = datetime(2025, 6, 1, tzinfo=UTC)
INACTIVE = ExpiryRules(enabled=True, mode=ExpiryMode.INACTIVITY, days=30)
PER_LOT = ExpiryRules(enabled=True, mode=ExpiryMode.PER_LOT, days=30)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _keys(session: Session, store_id: int) -> list[tuple[str, int]]:
    return [
        (k, p)
        for k, p in session.execute(
            select(PointEntry.idempotency_key, PointEntry.points)
            .where(PointEntry.store_id == store_id, PointEntry.kind == SourceKind.EXPIRY)
            .order_by(PointEntry.id)
        )
    ]


def test_inactivity_expiry_written_by_the_previous_release_is_corrected_on_upgrade(
    session: Session,
) -> None:
    """The release before 91f38de keyed an inactivity expiry `expiry:inactive:{customer}:{date}`
    (README said so). `_base_key` now reads it as `expiry:{customer}:inactive:{customer}:{date}`,
    a key nothing wants: the first run after the upgrade gives the expiry back (a correction)
    and expires it again under the new key. Nothing should be appended: it already expired."""
    store = get_or_create_store(session, "https://shop.example.com")
    alice = account_customer(session, store.id, 7, "alice@example.com")
    append_entries(
        session,
        store.id,
        [
            NewEntry(
                alice.id, 100, SourceKind.PURCHASE, "order:1", "order:1#1", at("2025-01-01T10:00")
            ),
            # what the previous release appended on 2025-01-31
            NewEntry(
                alice.id,
                -100,
                SourceKind.EXPIRY,
                "inactive",
                f"expiry:inactive:{alice.id}:2025-01-31",
                at("2025-01-31T00:00"),
            ),
        ],
        now=NOW,
    )
    before = _keys(session, store.id)

    run = run_expiry(session, store.id, INACTIVE, as_of=date(2025, 2, 10), now=NOW)

    assert verify_balances(session) == []
    assert (run.appended, _keys(session, store.id)) == (0, before)


# --- moves of expired orders ------------------------------------------------------------------


BOB = "bob@example.com"


@pytest.fixture
def store() -> SandboxStore:
    shop = gift_shop()
    shop.register_customer(email=BOB)
    return shop


def balance_of(engine: Engine, wc_id: int) -> tuple[int, int]:
    """(balance, recorded debt: taken from the customer's future points)."""
    with session_scope(engine) as session:
        cid = session.execute(select(Customer.id).where(Customer.wc_id == wc_id)).scalar_one()
        state = debt_state(session, cid)
        return state.balance, state.recorded


def test_an_expired_order_moved_and_cancelled_charges_the_new_owner_for_the_old_ones_expiry(
    config: Config, store: SandboxStore, sync: Callable, engine_for: Callable[[], Engine]
) -> None:
    """Alice's order earned 100 points 40 days ago; with 30-day expiry they expired at alice.
    The shop manager moves the order to Bob and cancels it (one edit, or two between syncs).
    Bob never received a point of it, yet the move gave him `target - expired` = 0 - 100 = -100:
    Bob owed 100 points that expired on Alice."""
    cfg = replace(config, expiry=ExpiryRules(enabled=True, days=30))
    order_id = completed_order(store, datetime.now(UTC).replace(microsecond=0) - timedelta(days=40))
    engine = engine_for()
    sync(cfg)
    bob = store.customer_id_by_email(BOB)
    store.update_order(order_id, {"customer_id": bob})
    store.set_order_status(order_id, "cancelled")
    sync(cfg)

    assert balance_of(engine, bob) == (0, 0), dump(engine)
    # taken from alice, who had them, as a cancel after expiry is when the order stays hers:
    # revoked all the same, and owed from her future points (README, expiry)
    assert balance_of(engine, store.customer_id_by_email("alice@example.com")) == (0, 100)
    assert verified(engine) == ([], [])


def test_an_expired_order_moved_then_refunded_charges_the_new_owner(
    config: Config, store: SandboxStore, sync: Callable, engine_for: Callable[[], Engine]
) -> None:
    """As above, but the refund comes a sync after the move: the move appends nothing (all
    expired), the order is now Bob's, and the refund revoked `target - held` = -100 from Bob,
    who never held any of its points (before 91f38de the move gave him 100 first)."""
    cfg = replace(config, expiry=ExpiryRules(enabled=True, days=30))
    order_id = completed_order(store, datetime.now(UTC).replace(microsecond=0) - timedelta(days=40))
    engine = engine_for()
    sync(cfg)
    bob = store.customer_id_by_email(BOB)
    store.update_order(order_id, {"customer_id": bob})
    sync(cfg)
    store.refund_order(order_id)
    sync(cfg)

    assert balance_of(engine, bob) == (0, 0), dump(engine)
    # taken from alice, who had them, as a cancel after expiry is when the order stays hers:
    # revoked all the same, and owed from her future points (README, expiry)
    assert balance_of(engine, store.customer_id_by_email("alice@example.com")) == (0, 100)
    assert verified(engine) == ([], [])


def verified(engine: Engine) -> tuple[list[BalanceDifference], list[RollupDifference]]:
    """What `loyalty verify` finds wrong: the balances, then the rollups."""
    with session_scope(engine) as session:
        return verify_balances(session), verify_rollups(session)


def spend(engine: Engine, config: Config, wc_id: int, points: int, when: datetime) -> None:
    """An admin adjustment of -points on the customer, dated `when` (uses the oldest lot)."""
    with session_scope(engine) as session:
        store_id = get_or_create_store(session, config.require_store().key).id
        cid = session.execute(select(Customer.id).where(Customer.wc_id == wc_id)).scalar_one()
        append_entries(
            session,
            store_id,
            [NewEntry(cid, -points, SourceKind.ADJUSTMENT, "adjust:1", "adjust:1", when)],
            now=datetime.now(UTC),
        )


def test_a_partly_expired_order_moved_leaves_purchase_entries_without_lines(
    config: Config, store: SandboxStore, sync: Callable, engine_for: Callable[[], Engine]
) -> None:
    """Alice's order X earned 100 points 40 days ago; 35 days ago she spent 50 of them (an
    adjustment here; a redemption alike). With 30-day expiry the other 50 expired. Today X is
    moved to Bob: the move appended alice -50 and bob +50 `order:X` as purchase entries with no
    lines, so `loyalty verify` (every purchase entry's lines add up to its points:
    `verify_rollups`) failed, and the per-product reports kept X's points on alice. (Since stop
    28 such a move moves nothing: all of X's points are past their expiry.)"""
    cfg = replace(config, expiry=ExpiryRules(enabled=True, days=30))
    now = datetime.now(UTC).replace(microsecond=0)
    x = completed_order(store, now - timedelta(days=40))
    engine = engine_for()
    sync(cfg)
    spend(
        engine,
        config,
        store.customer_id_by_email("alice@example.com"),
        50,
        now - timedelta(days=35),
    )
    sync(cfg)  # the expiry is corrected: 50 expired
    store.update_order(x, {"customer_id": store.customer_id_by_email(BOB)})
    sync(cfg)

    assert verified(engine) == ([], []), dump(engine)


def test_an_order_moved_away_and_back_with_an_expiry_between_leaves_nobody_in_debt(
    config: Config, store: SandboxStore, sync: Callable, engine_for: Callable[[], Engine]
) -> None:
    """Alice's order X earned 100 points 40 days ago; 35 days ago she spent 30 of them, the other
    70 expired. README: an expired order moved to another customer "moves only what is left of
    them: nothing comes back to the new owner, and the old one is not taken below what it had".
    Nothing is left, yet the move to Bob takes `held - expired` = 30 from alice (into debt) and
    gives Bob 30 (earned 40 days ago: they expire the next day). The next day they expire on Bob
    (`expired` is now 100 across both), and the order is moved back to alice: nothing moves.
    Alice, who spent 30 of her own points, owed 30 for good; without Bob's expiry in between
    the move back gave them back. Now the move moves nothing (all of X's points are past their
    expiry), so nothing is owed and nothing expires on Bob."""
    cfg = replace(config, expiry=ExpiryRules(enabled=True, days=30))
    now = datetime.now(UTC).replace(microsecond=0)
    alice = store.customer_id_by_email("alice@example.com")
    bob = store.customer_id_by_email(BOB)
    x = completed_order(store, now - timedelta(days=40))
    engine = engine_for()
    sync(cfg)
    spend(engine, config, alice, 30, now - timedelta(days=35))
    sync(cfg)  # 70 expired
    store.update_order(x, {"customer_id": bob})
    sync(cfg)
    assert (balance_of(engine, alice), balance_of(engine, bob)) == ((0, 0), (0, 0)), dump(engine)
    tomorrow = now + timedelta(days=1)
    with session_scope(engine) as session:
        store_id = get_or_create_store(session, config.require_store().key).id
        run_expiry(session, store_id, cfg.expiry, as_of=tomorrow.date(), now=tomorrow)
    store.update_order(x, {"customer_id": alice})
    sync(cfg)

    assert (balance_of(engine, alice), balance_of(engine, bob)) == ((0, 0), (0, 0)), dump(engine)


def test_an_expired_order_moved_away_and_back_charges_nobody(
    config: Config, store: SandboxStore, sync: Callable, engine_for: Callable[[], Engine]
) -> None:
    """Alice's order earned 100 points 40 days ago; they expired on her (30 days). The shop
    manager moves it to Bob by mistake (nothing moves: all expired), then back to alice.
    Bob never held a point of it and alice's expired points must not come back: both stay at
    (0, 0), nothing is appended. The move back took the reference's 100 from the previous
    owner named by the order, holding them or not: bob -100 (recorded as debt) and alice +100
    (found by a review of d10421c)."""
    cfg = replace(config, expiry=ExpiryRules(enabled=True, days=30))
    alice = store.customer_id_by_email("alice@example.com")
    bob = store.customer_id_by_email(BOB)
    order_id = completed_order(store, datetime.now(UTC).replace(microsecond=0) - timedelta(days=40))
    engine = engine_for()
    sync(cfg)
    store.update_order(order_id, {"customer_id": bob})
    sync(cfg)
    store.update_order(order_id, {"customer_id": alice})
    sync(cfg)

    assert (balance_of(engine, alice), balance_of(engine, bob)) == ((0, 0), (0, 0)), dump(engine)


# --- holders whose points went to another customer (a guest who registered) -----------------------

CAROL = "carol@example.com"


def guest_order(shop: SandboxStore, at: datetime) -> int:
    with shop.clock_at(at):
        order = shop.place_order(email=CAROL, items=[(product_of(shop), 100)])
        shop.set_order_status(order["id"], "completed")
    return int(order["id"])


def guest_state(engine: Engine) -> tuple[int, int]:
    """(balance, recorded debt) of the guest customer held by CAROL's email."""
    with session_scope(engine) as session:
        cid = session.execute(
            select(Customer.id).where(Customer.is_guest.is_(True), Customer.email == CAROL)
        ).scalar_one()
        state = debt_state(session, cid)
        return state.balance, state.recorded


def test_an_expired_guest_order_refunded_after_the_guest_registered_is_charged_to_the_account(
    config: Config, store: SandboxStore, sync: Callable, engine_for: Callable[[], Engine]
) -> None:
    """Carol's guest order earned 100 points 40 days ago; they expired on the guest. She
    registers: her orders go to the account, and what is left on the guest (nothing) moves as a
    balance, leaving the order's entries on the guest. The order is then refunded. The account
    is Carol: it is charged, as if the order had always been hers (revoked all the same, owed
    from her future points); the guest, whose points went to the account, is not."""
    cfg = replace(config, expiry=ExpiryRules(enabled=True, days=30))
    guest_order(store, datetime.now(UTC).replace(microsecond=0) - timedelta(days=40))
    engine = engine_for()
    sync(cfg)
    account = int(store.register_customer(email=CAROL)["id"])
    sync(cfg)
    order_id = int(store.all("orders")[-1]["id"])
    store.refund_order(order_id)
    sync(cfg)

    assert (balance_of(engine, account), guest_state(engine)) == ((0, 100), (0, 0)), dump(engine)
    assert verified(engine) == ([], [])


def test_a_guest_order_moved_to_another_customer_after_the_guest_registered_moves_once(
    config: Config, store: SandboxStore, sync: Callable, engine_for: Callable[[], Engine]
) -> None:
    """Carol's guest order earned 100 points; she registers, and the guest's 100 move to the
    account as a balance. The shop manager then gives the order to Bob: the account gives the
    100 (it holds them), Bob gets them. The order's entries on the guest are the account's."""
    guest_order(store, datetime.now(UTC).replace(microsecond=0) - timedelta(days=2))
    engine = engine_for()
    sync(config)
    account = int(store.register_customer(email=CAROL)["id"])
    sync(config)
    order_id = int(store.all("orders")[-1]["id"])
    bob = store.customer_id_by_email(BOB)
    store.update_order(order_id, {"customer_id": bob})
    sync(config)

    assert (balance_of(engine, account), guest_state(engine), balance_of(engine, bob)) == (
        (0, 0),
        (0, 0),
        (100, 0),
    ), dump(engine)
    assert sync(config).entries_appended == 0


def test_a_registered_guests_partly_expired_order_is_not_given_to_the_account_twice(
    config: Config, store: SandboxStore, sync: Callable, engine_for: Callable[[], Engine]
) -> None:
    """A guest's order earned 100 points 40 days ago; 40.00 of it was refunded 35 days ago, so 60
    expired (the expiry is corrected to 60). The refund is then deleted: the order earns 100
    again and the guest gets +40 today (they would expire tomorrow). The guest registers: the
    merge moves what is left on the guest, 40, to the account (transfer pair). So the person
    holds 40, on the account, and the guest nothing. The order is then edited (or listed again by
    a full sync): its decision is unchanged, nothing should be appended. The reference was "held
    by someone besides its owner" (the guest), so what was left moved from the guest to the
    account a second time: account 80, guest -40 as debt it can never pay (found by a review of
    d10421c). The guest's entries are the account's (`ledger.customers.heirs`)."""
    cfg = replace(config, expiry=ExpiryRules(enabled=True, days=30))
    now = datetime.now(UTC).replace(microsecond=0)
    order_id = guest_order(store, now - timedelta(days=40))
    engine = engine_for()
    sync(cfg)
    with store.clock_at(now - timedelta(days=35)):
        refund = store.refund_order(order_id, amount=Decimal("40.00"))
    sync(cfg, full=True)  # the refund is dated 35 days ago: the expiry is corrected to 60
    store.delete_refund(int(refund["id"]))
    store.touch_order(order_id)
    sync(cfg)  # +40 on the guest
    store.register_customer(email=CAROL)
    sync(cfg)  # the merge: guest -40, account +40 (transfer)
    store.touch_order(order_id)
    sync(cfg)

    account = store.customer_id_by_email(CAROL)
    assert (balance_of(engine, account), guest_state(engine)) == ((40, 0), (0, 0)), dump(engine)


def test_a_registered_guests_order_is_not_paid_twice_after_the_account_changes_its_email(
    config: Config, store: SandboxStore, sync: Callable, engine_for: Callable[[], Engine]
) -> None:
    """Carol's guest order earns 100 points (on the guest). She registers: the merge moves the
    guest's 100 to her account as a transfer pair (guest 0, account 100); the order's own entries
    stay on the guest. The shop manager links the order to her account (customer_id), which
    changes nothing. Carol then changes her account email (a full sync records it), and the order
    is edited. The order is worth 100 and Carol holds them: nothing should be appended.
    Counting the guest's entries as the live account of its email's (`heirs`, when every
    reference was reconciled per holder) moved them again: guest -100 (debt), account +200
    (found by a review). Only references some of whose points expired are reconciled so now."""
    now = datetime.now(UTC).replace(microsecond=0)
    order_id = guest_order(store, now - timedelta(days=2))
    engine = engine_for()
    sync(config)
    account = int(store.register_customer(email=CAROL)["id"])
    sync(config)
    store.update_order(order_id, {"customer_id": account})
    sync(config)
    assert (balance_of(engine, account), guest_state(engine)) == ((100, 0), (0, 0)), dump(engine)

    store.update_customer(account, {"email": "carol.new@example.com"})
    sync(config, full=True)  # the listing records the account's new email
    store.touch_order(order_id)
    sync(config)

    assert (balance_of(engine, account), guest_state(engine)) == ((100, 0), (0, 0)), dump(engine)
    assert verified(engine) == ([], [])


def test_a_registered_guests_refunded_order_leaves_no_points_after_the_account_changed_email(
    config: Config, store: SandboxStore, sync: Callable, engine_for: Callable[[], Engine]
) -> None:
    """As above, without the link: Carol's guest order (100 points) stays a guest order; she
    registers (guest -100, account +100 as a transfer), changes her account email, and the order
    is refunded. The order then resolves to the guest of its billing email again. Refunded, it
    carries nothing: nobody keeps its points and nobody owes them (before 9c51c26 the points
    followed the order to the guest, whose refund took them: account 0, guest 0; reconciled per
    holder, the account kept 100 and the guest was charged 100: found by a review)."""
    now = datetime.now(UTC).replace(microsecond=0)
    order_id = guest_order(store, now - timedelta(days=2))
    engine = engine_for()
    sync(config)
    account = int(store.register_customer(email=CAROL)["id"])
    sync(config)
    store.update_customer(account, {"email": "carol.new@example.com"})
    sync(config, full=True)  # the listing records the account's new email
    store.refund_order(order_id)
    sync(config)

    assert (balance_of(engine, account), guest_state(engine)) == ((0, 0), (0, 0)), dump(engine)


def test_a_registered_guests_order_expired_on_the_account_and_moved_charges_nobody(
    config: Config, store: SandboxStore, sync: Callable, engine_for: Callable[[], Engine]
) -> None:
    """Carol's guest order earned 100 points 20 days ago (30-day expiry). She registers today:
    the guest's 100 move to the account as a transfer pair, a lot of the account's dated today.
    31 days later that lot expires on the account (its expiry entry carries the transfer's
    reference, not the order's). The shop manager then gives the order to Bob. All of the
    order's points are past their expiry, on the customer they went to: README, "once any of an
    order's points expired, none of them moves ... the new owner gets nothing", as for an order
    that was always the account's. But the order's reference shows no expiry (it happened under
    `transfer:guest:N`: a transfer is a lot of its own, dated when it moved), so the move is a
    plain one: the account gives 100 it no longer has (recorded as debt) and Bob gets 100. Now
    a transfer carries the lots it took, as old as they were: the order's 100 expire on the
    account 30 days after the order, under the order's reference."""
    cfg = replace(config, expiry=ExpiryRules(enabled=True, days=30))
    now = datetime.now(UTC).replace(microsecond=0)
    order_id = guest_order(store, now - timedelta(days=20))
    engine = engine_for()
    sync(cfg)
    account = int(store.register_customer(email=CAROL)["id"])
    sync(cfg)
    assert (balance_of(engine, account), guest_state(engine)) == ((100, 0), (0, 0)), dump(engine)
    later = now + timedelta(days=31)
    with session_scope(engine) as session:
        store_id = get_or_create_store(session, cfg.require_store().key).id
        run_expiry(session, store_id, cfg.expiry, as_of=later.date(), now=later)
    assert balance_of(engine, account) == (0, 0), dump(engine)

    bob = store.customer_id_by_email(BOB)
    store.update_order(order_id, {"customer_id": bob})
    sync(cfg)

    assert (balance_of(engine, account), balance_of(engine, bob)) == ((0, 0), (0, 0)), dump(engine)


def test_a_guests_pending_points_are_released_from_the_guest_once_it_registered(
    sandbox: SandboxServer,
    config: Config,
    store: SandboxStore,
    sync: Callable,
    engine_for: Callable[[], Engine],
) -> None:
    """Carol's guest order earns 100 pending points (14-day window, ending in 5 minutes): they
    are the guest's pending points. She registers: the merge moves the guest's *balance* (0: its
    points are pending, outside the balance) and leaves the pending ones on the guest. The
    window ends: the order's 100 become available on the account, and its pending 100 must leave
    the customer that holds them, the guest. Counting the guest's `pending:order:N` entries as the
    account's (`heirs`, for every reference) put the -100 pending on the account: -100 pending
    there, 100 on the guest for good (found by a review)."""
    days = 14
    cfg = replace(config, points=replace(config.points, pending_days=days))
    now = datetime.now(UTC).replace(microsecond=0)
    guest_order(store, now - timedelta(days=days) + timedelta(minutes=5))
    engine = engine_for()
    sync(cfg)
    store.register_customer(email=CAROL)
    sync(cfg)
    sandbox.set_clock_skew(10 * 60)  # the window has ended
    sync(cfg)

    assert pending_of(engine, account_email=CAROL) == {"account": (100, 0), "guest": (0, 0)}, dump(
        engine
    )
    assert sync(cfg).entries_appended == 0


def pending_of(engine: Engine, account_email: str) -> dict[str, tuple[int, int]]:
    """(balance, pending) of the account and of the guest held by `account_email`."""
    with session_scope(engine) as session:
        rows = session.execute(
            select(Customer.is_guest, Balance.balance, Balance.pending)
            .join(Balance, Balance.customer_id == Customer.id)
            .where(Customer.email == account_email)
        )
        return {("guest" if g else "account"): (int(b), int(p)) for g, b, p in rows}


def test_a_registered_guests_pending_points_do_not_move_to_the_account_after_an_email_change(
    config: Config, store: SandboxStore, sync: Callable, engine_for: Callable[[], Engine]
) -> None:
    """Carol's guest order holds 100 pending points on the guest; she registers (the order is
    the account's, its pending points stay on the guest) and changes her account email: the order
    is the guest's again, its previous owner the account. The plain move took all the reference
    holds from the account, which never held them: -100 pending there, 200 on the guest, and the
    next sync undid it (found by a review). Pending points are reconciled per holder."""
    """Carol's guest order earns 100 pending points (14-day window): the guest's. She registers:
    the merge moves the guest's balance (0) and the order's tracked owner to the account; the
    pending points stay on the guest (README). Carol changes her account email; the full sync
    that records it lists the order too, a guest order billed to her old address, which
    resolves to the guest again. The pending points are already on the guest, the owner: nothing
    should move. But no one besides the owner holds the reference, so the plain path runs ("the
    previous owner gives all the reference holds", which assumes the previous owner received the
    other holders' points as a balance: false for pending points): the account gets -100 pending
    (written to its `loyalty_points_pending` meta) and the guest 200. The next sync of the same
    order state appends two more entries to undo it."""
    cfg = replace(config, points=replace(config.points, pending_days=14))
    now = datetime.now(UTC).replace(microsecond=0)
    guest_order(store, now - timedelta(days=1))
    engine = engine_for()
    sync(cfg)
    account = int(store.register_customer(email=CAROL)["id"])
    sync(cfg)
    store.update_customer(account, {"email": "carol.new@example.com"})
    sync(cfg, full=True)  # records the account's new email; the order is listed again

    account_row = pending_of(engine, "carol.new@example.com").get("account", (0, 0))
    assert account_row == (0, 0), dump(engine)
    assert pending_of(engine, CAROL) == {"guest": (0, 100)}, dump(engine)
    assert sync(cfg, full=True).entries_appended == 0


def test_an_expired_guest_orders_refund_is_not_undone_when_the_account_changes_its_email(
    config: Config, store: SandboxStore, sync: Callable, engine_for: Callable[[], Engine]
) -> None:
    """Carol's expired guest order is refunded by half after she registered (the account pays:
    200 -> 150). She changes her account email and the order is edited: nothing changes. Read
    from today's email, the guest held its points again: the reduction moved to the guest (a
    debt nobody pays) and the account got its 50 back (found by a review). The move is
    recorded (`customer_moves`)."""
    """Carol's guest order earned 100 points 40 days ago; they expired on the guest (30 days).
    She registers (nothing left to move) and the shop manager links the order to her account.
    Carol also has 200 points of her own (a recent order on the account). Half the old order is
    refunded: after expiry a refund revokes all the same, so the account goes 200 -> 150 (as
    test_an_expired_guest_order_refunded_after_the_guest_registered_is_charged_to_the_account
    has it, the guest's entries counted as the account's).

    Carol then changes her account email and the order is edited (nothing about its points).
    The order is worth what it was worth: nothing should be appended, and Carol keeps 150.
    `heirs` maps the guest by *today's* email, which no account holds any more, so the guest
    counts as itself: the reference is "held by others", `_per_holder` takes the 50 reduction
    from the guest (guest -50) and gives the account back its -50 (account +50). The refund's
    revocation moves onto a guest nobody will ever pay from, and Carol's spendable balance
    goes back to 200."""
    cfg = replace(config, expiry=ExpiryRules(enabled=True, days=30))
    now = datetime.now(UTC).replace(microsecond=0)
    old = guest_order(store, now - timedelta(days=40))
    engine = engine_for()
    sync(cfg)  # 100 on the guest, expired
    account = int(store.register_customer(email=CAROL)["id"])
    sync(cfg)
    store.update_order(old, {"customer_id": account})
    own = store.place_order(customer_id=account, items=[(product_of(store), 200)])
    store.set_order_status(own["id"], "completed")
    sync(cfg)
    assert (balance_of(engine, account), guest_state(engine)) == ((200, 0), (0, 0)), dump(engine)
    store.refund_order(old, amount=Decimal("50.00"))
    sync(cfg)
    assert (balance_of(engine, account), guest_state(engine)) == ((150, 0), (0, 0)), dump(engine)

    store.update_customer(account, {"email": "carol.new@example.com"})
    sync(cfg, full=True)  # the listing records the account's new email
    store.touch_order(old)
    summary = sync(cfg)

    assert (balance_of(engine, account), guest_state(engine)) == ((150, 0), (0, 0)), dump(engine)
    assert summary.entries_appended == 0


def carol_gone_from_her_address(
    store: SandboxStore, sync: Callable, cfg: Config, engine_for: Callable[[], Engine]
) -> tuple[int, Engine]:
    """Carol's guest order earned 100 points 40 days ago (expired on the guest with `cfg`); she
    registered as X (the guest, with nothing left, merges into X) and X changed its email (a full
    sync records it): her old address is free. The order's id and the ledger."""
    order_id = guest_order(store, datetime.now(UTC).replace(microsecond=0) - timedelta(days=40))
    engine = engine_for()
    sync(cfg)
    carol = int(store.register_customer(email=CAROL)["id"])
    sync(cfg)
    store.update_customer(carol, {"email": "carol.new@example.com"})
    sync(cfg, full=True)
    return order_id, engine


def test_an_expired_order_refunded_after_its_email_changed_hands_charges_nobody_new(
    config: Config, store: SandboxStore, sync: Callable, engine_for: Callable[[], Engine]
) -> None:
    """Carol's expired guest order; she registers as X, X changes its email, and a stranger
    registers Y with Carol's old address. The guest order, billed to it, is Y's now, and is
    refunded. Read from today's email, the guest's points were Y's: Y was charged 100 for an
    order whose points it never had (found by a review)."""
    """Carol's guest order earned 100 points 40 days ago; they expired on the guest. She
    registers as account X (the merge moves nothing: nothing left) and the order's tracked owner
    becomes X. X then changes its email, and a new person registers account Y with Carol's old
    address. The order (still a guest order billed to that address) now resolves to Y, and is
    refunded. README (expiry): a refund after such a move is taken "from whoever had them (as if
    the order had stayed theirs), never from a new owner who received none". Y never held a
    point of it; `heirs` counts the guest as Y (the live account of its email today, not the
    account its points went to), so `_per_holder` takes the whole 100 from Y: Y starts in debt."""
    cfg = replace(config, expiry=ExpiryRules(enabled=True, days=30))
    order_id, engine = carol_gone_from_her_address(store, sync, cfg, engine_for)
    newcomer = int(store.register_customer(email=CAROL)["id"])
    sync(cfg)
    store.refund_order(order_id)
    sync(cfg)

    assert balance_of(engine, newcomer) == (0, 0), dump(engine)
    assert verified(engine) == ([], [])


def test_a_newcomer_who_bought_as_a_guest_before_registering_is_not_charged_for_carols_order(
    config: Config, store: SandboxStore, sync: Callable, engine_for: Callable[[], Engine]
) -> None:
    """As test_an_expired_order_refunded_after_its_email_changed_hands_charges_nobody_new, but
    the newcomer first buys as a guest with Carol's old address (100 points, on the guest: no
    account has the address), then registers: the merge moves 100. The guest recorded one heir,
    which the move overwrote (Carol's X with the newcomer's Y), and every entry the guest ever
    had, Carol's expired order included, counted as Y's. Carol's old order is refunded: Y never
    had a point of it and must keep its own 100, no debt. Each move is recorded now
    (`customer_moves`), after the entries it took: Carol's are X's, the newcomer's Y's."""
    cfg = replace(config, expiry=ExpiryRules(enabled=True, days=30))
    carols_order, engine = carol_gone_from_her_address(store, sync, cfg, engine_for)
    bought = store.place_order(email=CAROL, items=[(product_of(store), 100)])  # the newcomer,
    store.set_order_status(bought["id"], "completed")  # as a guest: 100 on the guest
    sync(cfg)
    newcomer = int(store.register_customer(email=CAROL)["id"])
    sync(cfg)  # the guest merges into Y, moving 100
    assert balance_of(engine, newcomer) == (100, 0), dump(engine)

    store.refund_order(carols_order)
    sync(cfg)

    assert balance_of(engine, newcomer) == (100, 0), dump(engine)
    assert verified(engine) == ([], [])


def test_a_strangers_account_deleted_does_not_hand_carols_expired_order_back_to_the_guest(
    config: Config, store: SandboxStore, sync: Callable, engine_for: Callable[[], Engine]
) -> None:
    """Carol's expired guest order; she registers as X (the guest records X), X changes its
    email, a stranger registers Y with Carol's old address (the guest, moving nothing, keeps X)
    and buys 100 points on Y, then deletes Y: its 100 go to the guest of the address, and the
    move cleared the guest's one heir ("the target holds its own points from now on"), so
    Carol's expired entries on the guest counted as the guest's own again. Carol's order is
    refunded: its 100 are taken from the guest, i.e. from the stranger's 100. Carol had them
    (her guest's balance went to X): the stranger's 100 on the guest stay whole. Each move is
    recorded now (`customer_moves`): the guest's entries from before its move to X stay X's."""
    cfg = replace(config, expiry=ExpiryRules(enabled=True, days=30))
    carols_order, engine = carol_gone_from_her_address(store, sync, cfg, engine_for)
    stranger = int(store.register_customer(email=CAROL)["id"])
    bought = store.place_order(customer_id=stranger, items=[(product_of(store), 100)])
    store.set_order_status(bought["id"], "completed")
    sync(cfg)
    assert balance_of(engine, stranger) == (100, 0), dump(engine)
    store.delete_customer(stranger, force=True)
    sync(cfg)
    assert guest_state(engine) == (100, 0), dump(engine)  # the stranger's 100, on its email

    store.refund_order(carols_order)
    sync(cfg)

    assert guest_state(engine) == (100, 0), dump(engine)
    assert verified(engine) == ([], [])
