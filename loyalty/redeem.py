"""`loyalty redeem` and `loyalty redemptions`: the admin's way to turn points into coupons.

Called by `loyalty.cli` with the parsed arguments, the loaded config and its print functions;
the work itself is `sync.redemptions.Redeemer`'s.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace

from sqlalchemy import Engine

from ledger.customers import get_or_create_store
from ledger.redemptions import PENDING, STATUSES, find_by_request, list_redemptions
from ledger.session import check_schema_current, create_engine_for, session_scope
from loyalty.config import Config
from loyalty.errors import ConfigError, StoreRejected
from loyalty.sync_settings import make_client
from rules import notes
from sync.client import StoreClient
from sync.context import wall_clock
from sync.customers import fetch_customer_email
from sync.redemptions import (
    Outcome,
    Redeemer,
    RedemptionRefused,
    RedemptionSettings,
    Request,
    claim_seconds,
)

EXIT_OK, EXIT_FAILED = 0, 1
Out = Callable[[str], None]
Fail = Callable[[str], int]


def redeem_command(args: argparse.Namespace, config: Config, out: Out, fail: Fail) -> int:
    request = Request(wc_customer_id=args.customer, email="", tier=args.tier, points=args.points)
    require_redemption(config)
    with _ledger(config) as (engine, store_id):
        client, redeemer = _redeemer(config, engine, store_id)
        try:
            if args.dry_run:
                with session_scope(engine, readonly=True) as session:
                    quote = redeemer.quote(session, args.customer, request)
                balance = redeemer.balance(args.customer)
                out(
                    f"dry run: customer {args.customer} would redeem {quote.points} points for a"
                    f" {quote.amount:.2f} coupon, leaving {balance - quote.points} points;"
                    " nothing was written"
                )
                return EXIT_OK
            outcome = _redeem(engine, client, redeemer, request)
        except RedemptionRefused as refused:
            return fail(f"customer {args.customer} cannot redeem: {refused.reason}")
    return _report(args, outcome, out, fail)


def _cancel(args: argparse.Namespace, config: Config, out: Out, fail: Fail) -> int:
    with _ledger(config) as (engine, store_id):
        _, redeemer = _redeemer(config, engine, store_id)
        try:
            outcome = redeemer.cancel(args.cancel)
        except RedemptionRefused as refused:
            return fail(f"redemption {args.cancel} was not cancelled: {refused.reason}")
        except LookupError:
            return fail(f"there is no redemption {args.cancel} in this ledger")
    if args.json:
        out(json.dumps(outcome.as_json(), indent=2))
    else:
        out(
            f"redemption {outcome.redemption_id} cancelled: {outcome.points} points returned,"
            f" balance now {outcome.balance}"
        )
    return EXIT_OK


def redeem_once(config: Config, engine: Engine, store_id: int, request: Request) -> Outcome:
    """One admin redemption, as `loyalty redeem` makes it: refused (RedemptionRefused, nothing
    written, no request sent) when the customer cannot redeem, else recorded and issued. For the
    dashboard's admin action. A StoreError when the store would not give the customer's email
    (nothing written)."""
    require_redemption(config)
    client, redeemer = _redeemer(config, engine, store_id)
    try:
        return _redeem(engine, client, redeemer, request)
    finally:
        client.close()


def require_redemption(config: Config) -> None:
    """ConfigError unless the config makes something redeemable."""
    if not config.redemption.enabled:
        raise ConfigError(
            "nothing is redeemable: set [redemption] tiers or points_per_unit"
            f" in {config.source or 'the config'} (see config.example.toml)"
        )


def _redeemer(config: Config, engine: Engine, store_id: int) -> tuple[StoreClient, Redeemer]:
    store = config.require_store()
    client = make_client(store)
    redeemer = Redeemer(
        client,
        lambda: session_scope(engine),
        store_id,
        RedemptionSettings(
            config.redemption,
            claim_seconds(store.timeout, store.max_retry_seconds),
            expiry=config.expiry,
        ),
        now=wall_clock,
    )
    return client, redeemer


def _redeem(engine: Engine, client: StoreClient, redeemer: Redeemer, request: Request) -> Outcome:
    with session_scope(engine, readonly=True) as session:  # refuse before any request
        key = request.request_key
        replay = bool(key) and find_by_request(session, redeemer.store_id, key) is not None
        if not replay:
            redeemer.quote(session, request.wc_customer_id, request)
    if replay:
        # the same form sent again (a double click): where its redemption stands. Quoted
        # first, it was refused for the points the first send had spent, saying nothing was
        # written (found by a review, 4 Dec)
        return redeemer.redeem(request)
    email = _email(client, request.wc_customer_id)
    return redeemer.redeem(replace(request, email=email))


def redemptions_command(args: argparse.Namespace, config: Config, out: Out, fail: Fail) -> int:
    if args.cancel is not None:
        return _cancel(args, config, out, fail)
    with _ledger(config) as (engine, store_id), session_scope(engine, readonly=True) as session:
        statuses = (PENDING,) if args.pending else STATUSES
        rows = list_redemptions(session, store_id, statuses=statuses)
        listed = [
            {
                "redemption_id": r.id,
                "customer_id": wc_id,
                "status": r.status,
                "points": r.points,
                "amount": r.amount,
                "code": r.code,
                "channel": r.channel,
                "created": r.created_at.isoformat(),
                "expires": r.expires_at.isoformat(),
                "used_order_id": r.used_order_id,
                "refunded_order_id": r.refunded_order_id,
                "reason": r.reason,
            }
            for r, wc_id in rows
        ]
    if args.json:
        out(json.dumps(listed, indent=2))
        return EXIT_OK
    if not listed:
        out("no pending redemptions" if args.pending else "no redemptions yet")
        return EXIT_OK
    table: list[tuple[str, ...]] = [
        ("id", "customer", "status", "points", "amount", "code", "created", "note")
    ]
    for item in listed:
        table.append(
            (
                str(item["redemption_id"]),
                str(item["customer_id"] or "guest"),
                str(item["status"]),
                str(item["points"]),
                str(item["amount"]),
                str(item["code"]),
                str(item["created"])[:16].replace("T", " "),
                str(item["reason"] or ""),
            )
        )
    out(_table(table))
    return EXIT_OK


def _report(args: argparse.Namespace, outcome: Outcome, out: Out, fail: Fail) -> int:
    if outcome.status == "refused":
        return fail(
            f"the store refused the coupon of redemption {outcome.redemption_id}:"
            f" {outcome.reason}; the {outcome.points} points were returned"
        )
    if outcome.status == PENDING:
        return fail(
            f"redemption {outcome.redemption_id} is recorded ({outcome.points} points) but its"
            f" coupon {outcome.code} could not be created yet ({outcome.reason});"
            " the next `loyalty sync` finishes it"
        )
    if args.json:
        data = outcome.as_json()
        data.pop("status")
        out(json.dumps(data, indent=2))
        return EXIT_OK
    out(
        f"coupon {outcome.code}: {outcome.amount:.2f} off for customer {args.customer}, expires"
        f" {outcome.expires:%Y-%m-%d %H:%M} UTC (redemption {outcome.redemption_id},"
        f" {outcome.points} points); balance now {outcome.balance}"
    )
    return EXIT_OK


def _email(client: StoreClient, wc_id: int) -> str:
    try:
        email = fetch_customer_email(client, wc_id)
    except StoreRejected as error:
        if error.status in (400, 404):
            raise RedemptionRefused(notes.REFUSED_NO_STORE_CUSTOMER(customer=wc_id)) from None
        raise
    if email is None:
        raise RedemptionRefused(notes.REFUSED_NO_STORE_EMAIL(customer=wc_id))
    return email


@contextmanager
def _ledger(config: Config) -> Iterator[tuple[Engine, int]]:
    engine = create_engine_for(config.database.url)
    try:
        check_schema_current(engine)
        with session_scope(engine) as session:
            store_id = get_or_create_store(session, config.require_store().key).id
        yield engine, store_id
    finally:
        engine.dispose()


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
