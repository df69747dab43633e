"""Expiry decisions, as tables: movements and a day in, expired lots and the next expiry out."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from rules.expiry import (
    Expiry,
    ExpiryMode,
    ExpiryRules,
    Movement,
    expiries_due,
    is_warned,
    next_expiry,
    transfer_lots,
)

PER_LOT = ExpiryRules(enabled=True, mode=ExpiryMode.PER_LOT, days=30, warn_days=7)
INACTIVE = ExpiryRules(enabled=True, mode=ExpiryMode.INACTIVITY, days=30, warn_days=7)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def earn(points: int, ref: str, when: str) -> Movement:
    return Movement(points, ref, at(when), activity=True)


def spend(points: int, ref: str, when: str) -> Movement:
    return Movement(-points, ref, at(when), activity=True)


def revoke(points: int, ref: str, when: str) -> Movement:
    return Movement(-points, ref, at(when))


def give_back(points: int, ref: str, when: str) -> Movement:
    return Movement(points, ref, at(when), gives_back=True)


D = date.fromisoformat


@pytest.mark.parametrize(
    ("rules", "moves", "as_of", "expected"),
    [
        # off: nothing ever expires
        (ExpiryRules(), [earn(100, "order:1", "2025-01-01T10:00")], D("2026-01-01"), []),
        # per lot: a lot expires at 00:00 UTC of earned day + days, not a second earlier
        (PER_LOT, [earn(100, "order:1", "2025-01-01T23:59:59")], D("2025-01-30"), []),
        (
            PER_LOT,
            [earn(100, "order:1", "2025-01-01T23:59:59")],
            D("2025-01-31"),
            [Expiry("order:1", 100, D("2025-01-31"))],
        ),
        (PER_LOT, [earn(100, "order:1", "2025-01-02T00:00:00")], D("2025-01-31"), []),
        # spending uses the oldest lot first
        (
            PER_LOT,
            [
                earn(100, "order:1", "2025-01-01T10:00"),
                earn(50, "order:2", "2025-01-20T10:00"),
                spend(120, "redemption:1", "2025-01-25T10:00"),
            ],
            D("2025-02-19"),
            [Expiry("order:2", 30, D("2025-02-19"))],
        ),
        # a movement after as_of is not known on as_of
        (
            PER_LOT,
            [earn(100, "order:1", "2025-01-01T10:00"), spend(100, "r:1", "2025-02-05T10:00")],
            D("2025-01-31"),
            [Expiry("order:1", 100, D("2025-01-31"))],
        ),
        # cancel and re-complete: the re-awarded points keep the order's earn day
        (
            PER_LOT,
            [
                earn(100, "order:1", "2025-01-01T10:00"),
                revoke(100, "order:1", "2025-01-25T10:00"),
                earn(100, "order:1", "2025-01-26T10:00"),
            ],
            D("2025-01-31"),
            [Expiry("order:1", 100, D("2025-01-31"))],
        ),
        # re-awarded after the lot already expired: it expires the day after it arrived
        (
            PER_LOT,
            [
                earn(100, "order:1", "2025-01-01T10:00"),
                revoke(100, "order:1", "2025-01-25T10:00"),
                earn(100, "order:1", "2025-03-01T10:00"),
            ],
            D("2025-03-02"),
            [Expiry("order:1", 100, D("2025-03-02"))],
        ),
        # a revoke beyond every lot is debt, paid from the next lot first
        (
            PER_LOT,
            [
                earn(100, "order:1", "2025-01-01T10:00"),
                spend(100, "r:1", "2025-01-02T10:00"),
                revoke(100, "order:1", "2025-01-03T10:00"),
                earn(150, "order:2", "2025-01-04T10:00"),
            ],
            D("2025-02-03"),
            [Expiry("order:2", 50, D("2025-02-03"))],
        ),
        # points debt (net_against_future): the recorded debt (+) pays what the revoke left
        # owing, it is no lot; its repayment (-) takes the next lot's points, as spending does
        (
            PER_LOT,
            [
                earn(100, "order:1", "2025-01-01T10:00"),
                spend(100, "r:1", "2025-01-02T10:00"),
                revoke(100, "order:1", "2025-01-03T10:00"),
                Movement(100, "debt:1", at("2025-01-03T10:00")),
                earn(150, "order:2", "2025-01-04T10:00"),
                Movement(-100, "debt:1", at("2025-01-04T10:00")),
            ],
            D("2025-02-03"),
            [Expiry("order:2", 50, D("2025-02-03"))],
        ),
        # expiry entries already in the ledger are re-derived, not consumed twice
        (
            PER_LOT,
            [
                earn(100, "order:1", "2025-01-01T10:00"),
                Movement(-100, "order:1", at("2025-01-31T00:00"), is_expiry=True),
            ],
            D("2025-02-10"),
            [Expiry("order:1", 100, D("2025-01-31"))],
        ),
        # inactivity: the whole balance expires days after the last earning or redeeming
        (
            INACTIVE,
            [earn(100, "order:1", "2025-01-01T10:00"), earn(50, "order:2", "2025-01-20T23:59")],
            D("2025-02-18"),
            [],
        ),
        (
            INACTIVE,
            [earn(100, "order:1", "2025-01-01T10:00"), earn(50, "order:2", "2025-01-20T23:59")],
            D("2025-02-19"),
            [Expiry("inactive", 150, D("2025-02-19"))],
        ),
        # a revoke is no activity: it does not restart the clock
        (
            INACTIVE,
            [earn(100, "order:1", "2025-01-01T10:00"), revoke(40, "order:1", "2025-01-20T10:00")],
            D("2025-01-31"),
            [Expiry("inactive", 60, D("2025-01-31"))],
        ),
        # redeeming is activity; a second quiet spell expires what was earned since
        (
            INACTIVE,
            [
                earn(100, "order:1", "2025-01-01T10:00"),
                spend(40, "r:1", "2025-01-20T10:00"),
                earn(10, "order:2", "2025-03-01T10:00"),
            ],
            D("2025-04-01"),
            [Expiry("inactive", 60, D("2025-02-19")), Expiry("inactive", 10, D("2025-03-31"))],
        ),
    ],
)
def test_expiries_due(
    rules: ExpiryRules, moves: list[Movement], as_of: date, expected: list[Expiry]
) -> None:
    assert expiries_due(moves, rules, as_of) == expected


@pytest.mark.parametrize(
    ("moves", "as_of", "expected"),
    [
        # a coupon's points given back are as old as the lot its redemption took (a review,
        # 4 Dec: a lot of their own, dated the day they came back, kept them 30 more days)
        (
            [
                earn(100, "order:1", "2025-01-01T10:00"),
                spend(100, "redemption:1", "2025-01-10T10:00"),
                give_back(100, "redemption:1", "2025-01-20T10:00"),
            ],
            D("2025-02-15"),
            [Expiry("redemption:1", 100, D("2025-01-31"))],
        ),
        # taken from two lots: each piece keeps its own age; what the debt covered is a lot of
        # the day the points were spent
        (
            [
                earn(60, "order:1", "2025-01-01T10:00"),
                earn(40, "order:2", "2025-01-05T10:00"),
                spend(120, "redemption:1", "2025-01-10T10:00"),
                give_back(120, "redemption:1", "2025-01-20T10:00"),
            ],
            D("2025-02-15"),
            [
                Expiry("redemption:1", 60, D("2025-01-31")),
                Expiry("redemption:1", 40, D("2025-02-04")),
            ],
        ),
        # back after the lot's day: it expires the day after it came back, not on a past day
        (
            [
                earn(100, "order:1", "2025-01-01T10:00"),
                spend(100, "redemption:1", "2025-01-10T10:00"),
                give_back(100, "redemption:1", "2025-02-05T10:00"),
            ],
            D("2025-02-15"),
            [Expiry("redemption:1", 100, D("2025-02-06"))],
        ),
        # another reference's points are a lot of their own, as before
        (
            [
                earn(100, "order:1", "2025-01-01T10:00"),
                spend(100, "redemption:1", "2025-01-10T10:00"),
                earn(100, "order:2", "2025-01-20T10:00"),
            ],
            D("2025-02-15"),
            [],
        ),
    ],
)
def test_points_given_back_keep_the_age_of_the_lots_their_spending_took(
    moves: list[Movement], as_of: date, expected: list[Expiry]
) -> None:
    assert expiries_due(moves, PER_LOT, as_of) == expected


def transfer(points: int, key: str, when: str) -> Movement:
    """One entry of a transfer pair (`transfer:guest:1#1`: the source's, `#2`: the receiver's)."""
    return Movement(points, key.partition("#")[0], at(when), key=key)


def expired(points: int, ref: str, day: str) -> Movement:
    """An expiry entry the ledger holds: `points` of the lot `ref` at 00:00 UTC of `day`."""
    return Movement(-points, ref, at(day), is_expiry=True, key=f"expiry:1:{ref}:{day}")


GUEST, ACCOUNT, AGAIN = 1, 2, 3
MOVED = {"transfer:guest:1#2": (GUEST, "transfer:guest:1#1")}


@pytest.mark.parametrize(
    ("movements", "sources", "expected"),
    [
        # a guest's order, 20 days old when she registered, expires on the account 30 days after
        # the order, under its reference (as a lot of its own: 30 days after the move, under the
        # transfer's, and a later move of the order did not see that its points had expired)
        (
            {
                GUEST: [
                    earn(100, "order:1", "2025-01-01T10:00"),
                    transfer(-100, "transfer:guest:1#1", "2025-01-21T10:00"),
                ],
                ACCOUNT: [transfer(100, "transfer:guest:1#2", "2025-01-21T10:00")],
            },
            MOVED,
            {GUEST: [], ACCOUNT: [Expiry("order:1", 100, D("2025-01-31"))]},
        ),
        # what was left of each lot, each at its age
        (
            {
                GUEST: [
                    earn(60, "order:1", "2025-01-01T10:00"),
                    earn(40, "order:2", "2025-01-10T10:00"),
                    spend(30, "redemption:1", "2025-01-12T10:00"),
                    transfer(-70, "transfer:guest:1#1", "2025-01-21T10:00"),
                ],
                ACCOUNT: [transfer(70, "transfer:guest:1#2", "2025-01-21T10:00")],
            },
            MOVED,
            {
                GUEST: [],
                ACCOUNT: [
                    Expiry("order:1", 30, D("2025-01-31")),
                    Expiry("order:2", 40, D("2025-02-09")),
                ],
            },
        ),
        # a lot past its expiry that no expiry entry took yet when it moved: in the balance
        # moved, it expires on the receiver on its own day, once (it expired on the guest, who
        # owed it, and the account kept it as a lot dated the day it moved, for 30 more days)
        (
            {
                GUEST: [
                    earn(100, "order:1", "2024-12-01T10:00"),
                    earn(40, "order:2", "2025-01-01T10:00"),
                    transfer(-140, "transfer:guest:1#1", "2025-01-05T10:00"),
                ],
                ACCOUNT: [transfer(140, "transfer:guest:1#2", "2025-01-05T10:00")],
            },
            MOVED,
            {
                GUEST: [],
                ACCOUNT: [
                    Expiry("order:1", 100, D("2024-12-31")),
                    Expiry("order:2", 40, D("2025-01-31")),
                ],
            },
        ),
        # the same expiry recorded before the move: it stays the guest's, the balance moved
        # (40) carries only what was left
        (
            {
                GUEST: [
                    earn(100, "order:1", "2024-12-01T10:00"),
                    expired(60, "order:1", "2024-12-31"),  # and 40 of it not yet
                    earn(40, "order:2", "2025-01-01T10:00"),
                    transfer(-80, "transfer:guest:1#1", "2025-01-05T10:00"),
                ],
                ACCOUNT: [transfer(80, "transfer:guest:1#2", "2025-01-05T10:00")],
            },
            MOVED,
            {
                GUEST: [Expiry("order:1", 60, D("2024-12-31"))],
                ACCOUNT: [
                    Expiry("order:1", 40, D("2024-12-31")),
                    Expiry("order:2", 40, D("2025-01-31")),
                ],
            },
        ),
        # carried on: the account deleted (its points to its email's guest, which registers
        # again), the order's lot keeps its age
        (
            {
                GUEST: [
                    earn(100, "order:1", "2025-01-01T10:00"),
                    transfer(-100, "transfer:guest:1#1", "2025-01-05T10:00"),
                ],
                ACCOUNT: [
                    transfer(100, "transfer:guest:1#2", "2025-01-05T10:00"),
                    transfer(-100, "transfer:deleted:2#1", "2025-01-10T10:00"),
                ],
                AGAIN: [transfer(100, "transfer:deleted:2#2", "2025-01-10T10:00")],
            },
            MOVED | {"transfer:deleted:2#2": (ACCOUNT, "transfer:deleted:2#1")},
            {GUEST: [], ACCOUNT: [], AGAIN: [Expiry("order:1", 100, D("2025-01-31"))]},
        ),
        # the ledger places a transfer out after exactly the entries recorded before it: an
        # order dated before the move but recorded after it is the guest's own, after the move
        (
            {
                GUEST: [
                    earn(100, "order:2", "2025-01-10T10:00"),
                    transfer(-100, "transfer:guest:1#1", "2025-01-21T10:00"),
                    earn(100, "order:1", "2025-01-01T10:00"),
                ],
                ACCOUNT: [transfer(100, "transfer:guest:1#2", "2025-01-21T10:00")],
            },
            MOVED,
            {
                GUEST: [Expiry("order:1", 100, D("2025-01-31"))],
                ACCOUNT: [Expiry("order:2", 100, D("2025-02-09"))],
            },
        ),
        # and one recorded before it but dated after it (the store's clock a little ahead, past
        # midnight) is in what it moved: the transfer read as of that day carries its lot (read
        # as of the transfer's day, it stopped there, carried nothing: a lot of its own)
        (
            {
                GUEST: [
                    earn(100, "order:1", "2025-01-01T10:00"),
                    earn(50, "order:2", "2025-01-22T00:10"),
                    transfer(-150, "transfer:guest:1#1", "2025-01-21T23:59"),
                ],
                ACCOUNT: [transfer(150, "transfer:guest:1#2", "2025-01-21T23:59")],
            },
            MOVED,
            {
                GUEST: [],
                ACCOUNT: [
                    Expiry("order:1", 100, D("2025-01-31")),
                    Expiry("order:2", 50, D("2025-02-21")),
                ],
            },
        ),
        # a transfer whose source is not known carries nothing: a lot of its own
        (
            {ACCOUNT: [transfer(100, "transfer:guest:1#2", "2025-01-05T10:00")]},
            MOVED,
            {ACCOUNT: [Expiry("transfer:guest:1", 100, D("2025-02-04"))]},
        ),
    ],
)
def test_a_transfer_carries_the_lots_it_took_as_old_as_they_were(
    movements: dict[int, list[Movement]],
    sources: dict[str, tuple[int, str]],
    expected: dict[int, list[Expiry]],
) -> None:
    carried = transfer_lots(movements, sources, PER_LOT)

    found = {c: expiries_due(moves, PER_LOT, D("2025-03-01")) for c, moves in carried.items()}
    assert found == expected


def test_a_loop_of_transfers_carries_nothing_and_ends() -> None:
    """Two transfers named as each other's source (no ledger writes this): answered, with lots
    of their own."""
    movements = {
        GUEST: [transfer(100, "transfer:x:1#2", "2025-01-05T10:00")],
        ACCOUNT: [transfer(100, "transfer:x:2#2", "2025-01-05T10:00")],
    }
    sources = {
        "transfer:x:1#2": (ACCOUNT, "transfer:x:2#2"),
        "transfer:x:2#2": (GUEST, "transfer:x:1#2"),
    }

    carried = transfer_lots(movements, sources, PER_LOT)

    assert [m.carries for moves in carried.values() for m in moves] == [(), ()]


def test_inactivity_carries_no_lots() -> None:
    movements = {ACCOUNT: [transfer(100, "transfer:guest:1#2", "2025-01-05T10:00")]}
    assert transfer_lots(movements, MOVED, INACTIVE) == movements


def test_expiry_keys_are_one_per_lot_per_date() -> None:
    assert Expiry("order:1", 5, D("2025-01-31")).key == "expiry:order:1:2025-01-31"
    assert Expiry("order:1", 5, D("2025-01-31")).at == at("2025-01-31T00:00")


@pytest.mark.parametrize(
    ("rules", "moves", "as_of", "expected", "warned"),
    [
        (ExpiryRules(), [earn(100, "order:1", "2025-01-01T10:00")], D("2025-01-02"), None, False),
        (
            PER_LOT,
            [earn(100, "order:1", "2025-01-01T10:00"), earn(7, "order:2", "2025-01-01T11:00")],
            D("2025-01-23"),
            (107, D("2025-01-31")),
            False,
        ),
        (
            PER_LOT,
            [earn(100, "order:1", "2025-01-01T10:00"), earn(7, "order:2", "2025-01-05T11:00")],
            D("2025-01-24"),
            (100, D("2025-01-31")),
            True,
        ),
        (PER_LOT, [earn(100, "o:1", "2025-01-01T10:00")], D("2025-01-31"), None, False),
        (
            INACTIVE,
            [earn(100, "order:1", "2025-01-01T10:00"), spend(30, "r:1", "2025-01-10T10:00")],
            D("2025-02-02"),
            (70, D("2025-02-09")),
            True,
        ),
    ],
)
def test_next_expiry_and_warning(
    rules: ExpiryRules,
    moves: list[Movement],
    as_of: date,
    expected: tuple[int, date] | None,
    warned: bool,
) -> None:
    upcoming = next_expiry(moves, rules, as_of)
    assert upcoming == expected
    assert is_warned(upcoming, rules, as_of) is warned


def moved(points: int, key: str, when: str, *, out: bool) -> Movement:
    """A transfer's entry as the ledger reads it: on its source (`out`) or on its receiver,
    whatever its sign; points coming in are activity."""
    return Movement(
        points, key.partition("#")[0], at(when), activity=points > 0, key=key, transfer_out=out
    )


REFUNDED_AFTER_EXPIRY = [  # 100 earned, expiry recorded (100), a refund of 40 dated before it
    earn(100, "order:1", "2025-01-01T10:00"),
    revoke(40, "order:1", "2025-01-20T10:00"),
]


@pytest.mark.parametrize(
    ("rules", "movements", "expected"),
    [
        # inactivity: overdue since 31 Jan, unrecorded when the balance moved on 5 Feb: it
        # expires once, on the account, dated 31 Jan (the guest owes nothing)
        (
            INACTIVE,
            {
                GUEST: [
                    earn(100, "order:1", "2025-01-01T10:00"),
                    moved(-100, "transfer:guest:1#1", "2025-02-05T10:00", out=True),
                ],
                ACCOUNT: [moved(100, "transfer:guest:1#2", "2025-02-05T10:00", out=False)],
            },
            {GUEST: [], ACCOUNT: [Expiry("inactive", 100, D("2025-01-31"))]},
        ),
        # an expiry recorded before the move took 40 too many: the balance moved was -40 (debt
        # to the account); the guest's expiry stays as recorded, the account gets the 40 back
        (
            PER_LOT,
            {
                GUEST: [
                    *REFUNDED_AFTER_EXPIRY,
                    expired(100, "order:1", "2025-01-31"),
                    moved(40, "transfer:guest:1#1", "2025-02-05T10:00", out=True),
                ],
                ACCOUNT: [moved(-40, "transfer:guest:1#2", "2025-02-05T10:00", out=False)],
            },
            {
                GUEST: [Expiry("order:1", 100, D("2025-01-31"))],
                ACCOUNT: [Expiry("order:1", -40, D("2025-01-31"))],
            },
        ),
        (
            INACTIVE,
            {
                GUEST: [
                    *REFUNDED_AFTER_EXPIRY,
                    expired(100, "inactive", "2025-01-31"),
                    moved(40, "transfer:guest:1#1", "2025-02-05T10:00", out=True),
                ],
                ACCOUNT: [moved(-40, "transfer:guest:1#2", "2025-02-05T10:00", out=False)],
            },
            {
                GUEST: [Expiry("inactive", 100, D("2025-01-31"))],
                ACCOUNT: [Expiry("inactive", -40, D("2025-01-31"))],
            },
        ),
        # per lot: 100 left of the guest's order:2, due on 1 Feb, unrecorded, then a refund of
        # the order (150) into debt: the balance moved is -50, the due lot and the debt of 150. The lot
        # expires once, on the account, and pays no debt there (the account's own 20): the
        # guest ends at 0. Before, the move took only 50 of the lot, the other 100 expired on
        # the guest (-100 on a customer whose balance moved) and the 50 paid the account's
        # debt: expired points came back to life (the differential test, tests/rules/
        # test_expiry_oracle.py, seed 98)
        (
            PER_LOT,
            {
                GUEST: [
                    earn(100, "order:1", "2025-01-01T10:00"),
                    earn(150, "order:2", "2025-01-02T10:00"),
                    spend(150, "redemption:1", "2025-01-03T10:00"),
                    revoke(150, "order:2", "2025-02-02T10:00"),
                    moved(50, "transfer:guest:1#1", "2025-02-05T10:00", out=True),
                ],
                ACCOUNT: [
                    earn(20, "order:3", "2025-01-10T10:00"),
                    revoke(40, "order:3", "2025-01-11T10:00"),
                    moved(-50, "transfer:guest:1#2", "2025-02-05T10:00", out=False),
                ],
            },
            {GUEST: [], ACCOUNT: [Expiry("order:2", 100, D("2025-02-01"))]},
        ),
        # inactivity: overdue since 31 Jan, unrecorded, then a refund of 40 (or 140, into debt)
        # after the deadline: the balance moved, 60 (-40), holds the 100 overdue and the debt.
        # They expire once, on the account, which gets the debt; the guest ends at 0. Before,
        # the move took 60 (none) of them: 40 (100) expired on the guest, owed for points it
        # had given away
        *(
            (
                INACTIVE,
                {
                    GUEST: [
                        earn(100, "order:1", "2025-01-01T10:00"),
                        revoke(refund, "order:1", "2025-02-02T10:00"),
                        moved(refund - 100, "transfer:guest:1#1", "2025-02-05T10:00", out=True),
                    ],
                    ACCOUNT: [
                        moved(100 - refund, "transfer:guest:1#2", "2025-02-05T10:00", out=False)
                    ],
                },
                {GUEST: [], ACCOUNT: [Expiry("inactive", 100, D("2025-01-31"))]},
            )
            for refund in (40, 140)
        ),
    ],
)
def test_a_balance_moved_takes_its_unrecorded_and_overtaken_expiries_to_the_receiver(
    rules: ExpiryRules,
    movements: dict[int, list[Movement]],
    expected: dict[int, list[Expiry]],
) -> None:
    carried = transfer_lots(movements, MOVED, rules)
    found = {who: expiries_due(moves, rules, D("2025-03-31")) for who, moves in carried.items()}
    assert found == expected


CHAIN = {**MOVED, "transfer:deleted:2#2": (ACCOUNT, "transfer:deleted:2#1")}


@pytest.mark.parametrize("rules", [PER_LOT, INACTIVE], ids=["per_lot", "inactivity"])
def test_points_given_back_for_an_overtaken_expiry_follow_the_balance_when_it_moves_on(
    rules: ExpiryRules,
) -> None:
    """A chain: the guest's expiry took 40 too many (a refund dated before it, synced after the
    run), its balance moved to the account as debt (-40), and the account, deleted before any
    run gave the 40 back there, moved its balance (the debt in it) on to its email's holder. The
    40 are given back there, where the debt went. Before, only the days an expiry was recorded on
    were read: the account had none, so its move carried nothing back, and the 40 came back to
    the deleted account (whose balance had moved) while its heir kept the debt (found by
    tests/sync/test_expiry_oracle.py, chains, seeds 9 and 23)."""
    lot = "order:1" if rules.mode is ExpiryMode.PER_LOT else "inactive"
    movements = {
        GUEST: [
            *REFUNDED_AFTER_EXPIRY,
            expired(100, lot, "2025-01-31"),
            moved(40, "transfer:guest:1#1", "2025-02-05T10:00", out=True),
        ],
        ACCOUNT: [
            moved(-40, "transfer:guest:1#2", "2025-02-05T10:00", out=False),
            moved(40, "transfer:deleted:2#1", "2025-02-06T10:00", out=True),
        ],
        AGAIN: [moved(-40, "transfer:deleted:2#2", "2025-02-06T10:00", out=False)],
    }

    carried = transfer_lots(movements, CHAIN, rules)

    found = {who: expiries_due(moves, rules, D("2025-03-31")) for who, moves in carried.items()}
    assert found == {
        GUEST: [Expiry(lot, 100, D("2025-01-31"))],
        ACCOUNT: [],
        AGAIN: [Expiry(lot, -40, D("2025-01-31"))],
    }
    # its note names the guest, where they expired, not the account they went through
    assert found[AGAIN][0].came_from == ("transfer:guest:1",)


def test_a_coupon_moved_with_the_balance_gives_back_the_lots_its_redemption_took() -> None:
    """The guest redeemed 100 of an order due on 31 Jan and registered; the coupon lapsed on
    the account on 20 Jan. Its points are the lot the redemption took, expiring on 31 Jan on the
    account. Before, they came back as a lot of the redemption's own, dated the day it was
    redeemed (10 Jan): they lived until 9 Feb, 9 days past the order's (found by
    tests/sync/test_expiry_oracle.py, chains, seed 3)."""
    movements = {
        GUEST: [
            earn(100, "order:1", "2025-01-01T10:00"),
            earn(20, "order:2", "2025-01-05T10:00"),
            spend(100, "redemption:1", "2025-01-10T10:00"),
            moved(-20, "transfer:guest:1#1", "2025-01-15T10:00", out=True),
        ],
        ACCOUNT: [
            moved(20, "transfer:guest:1#2", "2025-01-15T10:00", out=False),
            give_back(100, "redemption:1", "2025-01-20T10:00"),
        ],
    }

    carried = transfer_lots(movements, MOVED, PER_LOT)

    found = {who: expiries_due(moves, PER_LOT, D("2025-03-31")) for who, moves in carried.items()}
    assert found == {
        GUEST: [],
        ACCOUNT: [
            Expiry("redemption:1", 100, D("2025-01-31")),
            Expiry("order:2", 20, D("2025-02-04")),
        ],
    }
