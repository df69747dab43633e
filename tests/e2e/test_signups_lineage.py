"""A signup earns once a balance, whatever moves later (found by a review, 4 Dec): the account whose
signup a balance carries is handed on with it, and a guest merged again hands on only what it
gathered since."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from sqlalchemy import Engine

from loyalty.config import Config
from sandbox.server import SandboxServer
from sandbox.store import SandboxStore
from sync.summary import SyncSummary
from tests.e2e.conftest import balances_of
from tests.e2e.test_signups import POINTS, earned_and_deleted, signup_notes

Sync = Callable[..., SyncSummary]
EMAIL = "cycle@example.org"


@pytest.fixture
def signups(config: Config) -> Config:
    return replace(config, rules=replace(config.rules, signup_points=POINTS))


def _first_deleted_second_registered(
    sync: Sync, signups: Config, store: SandboxStore, sandbox: SandboxServer, engine: Engine
) -> tuple[int, int]:
    """first (EMAIL) earns its signup and is deleted: its 60 points go to the guest of EMAIL;
    second registers with EMAIL: the guest's 60 move to it, and it earns no second signup."""
    first = earned_and_deleted(sync, signups, store, sandbox, engine)
    second = store.register_customer(email=EMAIL)["id"]
    sync(signups)
    return first, second


def test_an_account_that_received_an_earlier_signup_does_not_earn_its_own_after_the_guest_moves_on(
    sync: Sync,
    signups: Config,
    store: SandboxStore,
    sandbox: SandboxServer,
    engine_for: Callable[[], Engine],
) -> None:
    """`second` received `first`'s points, signup points among them, through the guest of EMAIL
    (the guest's heir: second). second changes its email; new guest orders billed to EMAIL
    give the guest points again, and `third` registers with EMAIL: the guest's new points move to
    third, which overwrote the guest's one heir with third. The lineage second came from was
    lost: the next whole customers listing decided second's signup again and paid it 50 more
    (first's 50 it holds, and its own)."""
    engine = engine_for()
    _, second = _first_deleted_second_registered(sync, signups, store, sandbox, engine)
    assert signup_notes(engine, second) == []
    store.update_customer(second, {"email": "second.new@example.org"})
    sync(signups, full=True)  # the listing records second's new email
    product = store.all("products")[0]["id"]
    store.place_order(email=EMAIL, items=[(product, 3)], status="completed")
    sync(signups)  # the guest of EMAIL earns again
    store.register_customer(email=EMAIL)
    sync(signups)  # the guest's new points move to third

    sync(signups, full=True)  # every account listed again

    assert signup_notes(engine, second) == [], "second holds first's signup points already"
    held = {r.customer_id: r.balance for r in balances_of(signups, engine)}
    assert held[second] == POINTS + 10


def test_a_whole_listing_does_not_take_back_and_give_again_a_signup_every_time(
    sync: Sync,
    signups: Config,
    store: SandboxStore,
    sandbox: SandboxServer,
    engine_for: Callable[[], Engine],
) -> None:
    """second changes its email, and third registers with EMAIL: the guest of EMAIL, empty and
    merged before into second, kept second as its heir (a move of nothing), so on_accounts (and
    `resync --recalculate`) give third its signup. Each later whole listing merges the empty guest
    into third again; the signups' owner-move hook counts the guest's past (first's signup) as
    third's and takes the signup back, and on_accounts then gives it again: -50 and +50 appended
    on every whole listing, for ever."""
    engine = engine_for()
    _, second = _first_deleted_second_registered(sync, signups, store, sandbox, engine)
    store.update_customer(second, {"email": "second.new@example.org"})
    sync(signups, full=True)
    third = store.register_customer(email=EMAIL)["id"]
    sync(signups)
    assert [p for p, _ in signup_notes(engine, third)] == [POINTS]

    again = sync(signups, full=True)

    assert [p for p, _ in signup_notes(engine, third)] == [POINTS], signup_notes(engine, third)
    assert again.entries_appended == 0


def test_the_account_that_took_over_the_email_earns_its_signup_when_first_s_points_went_elsewhere(
    sync: Sync,
    signups: Config,
    store: SandboxStore,
    sandbox: SandboxServer,
    engine_for: Callable[[], Engine],
) -> None:
    """As above: first's points (its signup among them) went to second, and second keeps them
    under its new email. third, registered later with EMAIL, gets only the guest's new points
    (3); the guest's overwritten heir made the lineage of third's points reach first, and third
    is refused a signup for points it never received."""
    engine = engine_for()
    _, second = _first_deleted_second_registered(sync, signups, store, sandbox, engine)
    store.update_customer(second, {"email": "second.new@example.org"})
    sync(signups, full=True)
    product = store.all("products")[0]["id"]
    store.place_order(email=EMAIL, items=[(product, 3)], status="completed")
    sync(signups)
    third = store.register_customer(email=EMAIL)["id"]

    sync(signups)

    assert [p for p, _ in signup_notes(engine, third)] == [POINTS], signup_notes(engine, third)
