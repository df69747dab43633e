"""The `loyalty` command line, for shop admins and cron jobs.

`main(argv)` parses, runs one command and returns the exit code: 0 success, 1 failed (one clear
line on stderr, no traceback), 2 bad usage or configuration. Everything printed passes through the
log redactor, so a secret that slipped into an error message still comes out as `***`.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import socket
import sys
import textwrap
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, NoReturn

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.admin import adjust
from ledger.balances import BalanceDifference, list_balances, verify_balances
from ledger.customers import account_known, get_or_create_store
from ledger.errors import LedgerError, SyncAlreadyRunning
from ledger.models import Customer, PointEntry, QuarantinedItem
from ledger.quarantine import quarantined_items
from ledger.rollup_checks import RollupDifference, verify_rollups
from ledger.session import (
    check_database_exists,
    check_schema_current,
    create_engine_for,
    database_errors,
    session_scope,
)
from ledger.stamps import verify_stamps
from ledger.types import MAX_BIGINT, storable_text
from loyalty.arguments import plain_text
from loyalty.config import ENV_CONFIG, Config, find_config_path, is_host, load_config
from loyalty.errors import ConfigError, LoyaltyError, SyncError
from loyalty.log import configure_logging, redact, terminal_safe
from loyalty.report_cli import add_report_arguments, check_options, period_of, render_report
from reports.expiring import warning_window
from reports.history import BadCursor
from reports.period import AmbiguousCustomer, UnknownCustomer
from sync.comments import NO_CREDENTIALS

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

log = logging.getLogger("loyalty.cli")
Handler = Callable[[argparse.Namespace], int]


def main(argv: list[str] | None = None) -> int:
    """Run the `loyalty` command line with `argv` (default: sys.argv[1:]); returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # argparse: --help is 0, a usage error is 2 (already printed)
        return stop.code if isinstance(stop.code, int) else EXIT_USAGE
    configure_logging(verbose=args.verbose)
    handler: Handler = args.handler
    try:
        return handler(args)
    except ConfigError as error:
        return _fail(str(error), EXIT_USAGE)
    except (LoyaltyError, LedgerError, SyncError) as error:  # SchemaBehind, StoreUnavailable, ...
        return _fail(str(error))  # ...: the message says it all
    except KeyboardInterrupt:
        return _fail("interrupted", EXIT_INTERRUPTED)
    except BrokenPipeError:  # the reader went away (`| head`): the rest goes nowhere, silently
        _discard_stdout()
        return EXIT_FAILED
    except Exception as error:  # the last line of defence: one line, the traceback under -v
        log.debug("traceback of the internal error", exc_info=True)
        hint = "" if args.verbose else " (rerun with -v for the traceback)"
        return _fail(f"internal error: {type(error).__name__}: {error}{hint}")


# --- the parser ---------------------------------------------------------------------------------

DESCRIPTION = """\
Loyalty points for a WooCommerce shop: sync orders from the store, keep an exact, append-only
points ledger, and write balances back to customer meta."""

EPILOG = f"""\
configuration: --config FILE, else ${ENV_CONFIG}, else ./loyalty.toml (every key is documented
in config.example.toml). Secrets may come from the environment instead of the file.

exit codes: 0 success, 1 failed, 2 bad usage or configuration.

examples:
  loyalty check                      validate loyalty.toml and show what it configures
  loyalty db upgrade                 create or migrate the ledger database
  loyalty sync                       fetch what changed in the store and award points
  loyalty balances --json            every customer's balance as JSON"""

COMMANDS: list[tuple[str, str, str, str]] = [
    # name, one-line help, description, examples
    (
        "check",
        "validate the configuration and print a summary (secrets masked)",
        "Load and validate the configuration, then print what it configures: store, database,"
        " rule versions, meta keys. Secrets are shown as *** or (not set).",
        "loyalty check\n  loyalty --config /etc/loyalty/shop.toml check",
    ),
    (
        "db",
        "create or migrate the ledger database, or show its revision",
        "Manage the ledger database schema (the URL comes from [database] url or"
        " $LOYALTY_DATABASE_URL).",
        "loyalty db upgrade\n  loyalty db current",
    ),
    (
        "sync",
        "fetch changes from the store, award points, write balances back",
        "Fetch orders changed since the last sync (with an overlap window), decide their points"
        " under the rule set in force when each was created, append the differences to the"
        " ledger and write balances back to customer meta. Safe to rerun: replays change nothing.",
        "loyalty sync\n  loyalty sync --dry-run\n  loyalty sync --full --json\n"
        "  loyalty sync --customer 42          re-read one account's orders",
    ),
    (
        "resync",
        "award what a source missed (signups since a date), or recalculate after a rule change",
        "Decide again the items of one source since a date, which a regular sync does not"
        " revisit. --signups --since DATE gives [rules.signup] points to every account registered"
        " on or after DATE (UTC), including accounts that existed before signup points were"
        " turned on (a regular sync only rewards accounts registered after that), and from then"
        " on counts such accounts as earning, so later syncs (--full too) keep their points. It"
        " lists customers by registration date, newest first, and stops at the first one"
        " registered before DATE; then balances are written back. Each account earns once:"
        " running it again appends nothing. --recalculate decides again, under the rules in force"
        " now, what every enabled source already awarded: orders (not under the rule set in force"
        " when each was created; at the tier each earned at) with their first-order bonuses,"
        " reviews, blog comments and signups (of one account with --customer; created or"
        " registered on or after --since). Orders are read again from the store by id; the rest"
        " is decided from the ledger. It prints per customer and in total the points and the"
        " money liability that change and, without --dry-run, appends the differences, marked"
        " with the rule set's version. Safe to repeat; killed, run it again with the same options"
        " to finish.",
        "loyalty resync --signups --since 2024-01-01\n"
        "  loyalty resync --signups --since 2024-06-01T12:00:00 --dry-run\n"
        "  loyalty resync --signups --since 2024-01-01 --json\n"
        "  loyalty resync --recalculate --dry-run\n"
        "  loyalty resync --recalculate --since 2025-01-01 --customer 42 --json",
    ),
    (
        "verify",
        "prove every cached balance and report rollup equals the sum of its entries",
        "Recompute every customer's balance and lifetime points from the append-only entries and"
        " compare them with the cached balances (of the configured store, or of every store"
        " without one); recompute the reports' daily rollups and per-product lines the same way."
        " Exits 1 and lists what differs.",
        "loyalty verify",
    ),
    (
        "balances",
        "list every customer's balance and lifetime points",
        "List the cached balance and lifetime points of every customer of the configured store,"
        " highest balance first. Guests (orders without an account) show as 'guest'.",
        "loyalty balances\n  loyalty balances --json > balances.json",
    ),
    (
        "quarantine",
        "list source items the sync set aside as malformed (from every source)",
        "List the items the sync could not use, from every source (orders, refunds, customers,"
        " ...): source, item id or ref, why, when first and last seen, and how often. The rest"
        " of each sync went on without them; an item that comes back well-formed is processed"
        " and its record resolved. --all includes resolved ones.",
        "loyalty quarantine\n  loyalty quarantine --json --all",
    ),
    (
        "adjust",
        "add or remove points for one customer by hand, with a reason",
        "Append a manual adjustment entry for a WooCommerce customer (by account id). The reason"
        " is kept in the ledger. Points may be negative to take points away; never 0. An account"
        " the ledger does not know yet (no sync has seen it) is asked of the store first: an id"
        " the store does not have is refused.",
        'loyalty adjust --customer 42 --points 100 --reason "goodwill: late delivery"\n'
        '  loyalty adjust --customer 42 --points -50 --reason "double award, order 1042"',
    ),
    (
        "redeem",
        "turn a customer's points into a store coupon",
        "Redeem points of a WooCommerce customer (by account id) for a coupon in the store: a"
        " [redemption] tier by name, or a number of points at the configured rate. The debit is"
        " recorded before the coupon is created, and the coupon is created exactly once, even"
        " if this command is interrupted (the next `loyalty sync` finishes it). Exits 1, writing"
        " nothing, when the customer has too few points, saying how many are missing.",
        "loyalty redeem --customer 42 --tier 10-off\n"
        "  loyalty redeem --customer 42 --points 1500 --dry-run\n"
        "  loyalty redeem --customer 42 --tier 40-off --json",
    ),
    (
        "redemptions",
        "list redemptions (or only the unfinished ones)",
        "List the store's redemptions, newest first: status (pending, issued, used, refused,"
        " expired, deleted), customer, points, amount, code. Pending ones are finished by the"
        " next `loyalty sync`; the note says why one is still pending (the store unreachable,"
        " or its coupon not the one asked for). `--cancel ID` ends one the store will never"
        " finish, returning its points, when the store has no coupon for it.",
        "loyalty redemptions --pending\n  loyalty redemptions --json\n"
        "  loyalty redemptions --cancel 17",
    ),
    (
        "report",
        "Points Status, Sources, Top Earning Customers, History, per product, expiring points,"
        " tier moves",
        "Print a report of the configured store over a range of UTC days (default: all time):"
        " status (the balance equation and the liability, by month, week or day), sources"
        " (points by source, purchases by category and product), top (customers ranked by"
        " points earned in the range), history (entries newest first with the running balance,"
        " a page at a time), products (which customers earned on which product) or expiring"
        " (customers whose next expiry falls in the range; by default from today to today +"
        " [expiry] warn_days) or tiers (customers' moves between [[tiers]], newest first)."
        " Tables on a terminal; --json and --csv carry the same numbers.",
        "loyalty report status --from 2024-01-01 --to 2024-03-31 --by month\n"
        "  loyalty report top --limit 50 --csv > top.csv\n"
        "  loyalty report history --customer 42 --limit 20\n"
        "  loyalty report products --product 118 --json\n"
        "  loyalty report expiring --json\n"
        "  loyalty report html --out report.html --lang fr",
    ),
    (
        "dashboard",
        "serve the reports and admin actions as a web page (loopback by default)",
        "Serve the four reports with charts, date filters, a customer search, the recent sync"
        " runs and, when [dashboard] admin_token is set, admin actions (full resync, manual"
        " adjustment). Binds to [dashboard] host and port (127.0.0.1:8788) unless told otherwise.",
        "loyalty dashboard\n  loyalty dashboard --port 9000",
    ),
    (
        "expire",
        "expire points that are due (per lot or after inactivity), as [expiry] says",
        "Append an expiry entry for every lot (or, in inactivity mode, every quiet balance) due on"
        " or before --as-of (default: today, UTC). One entry per lot per expiry date, so running"
        " it again appends nothing. Prints per customer and in total what expired, and the"
        " customers whose next expiry is within [expiry] warn_days.",
        "loyalty expire --dry-run\n  loyalty expire --as-of 2025-06-30 --json",
    ),
    (
        "sandbox",
        "run the local WooCommerce-compatible test store (see: loyalty sandbox --help)",
        "",
        "",
    ),
]


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree; each subcommand's --help describes it and shows examples."""
    parser = argparse.ArgumentParser(
        prog="loyalty",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", metavar="FILE", help="the config file (default: see below)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging, tracebacks")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for name, summary, description, examples in COMMANDS:
        if name == "sandbox":
            _add_sandbox(commands, summary)
            continue
        sub = commands.add_parser(
            name,
            parents=[_common_options()],
            help=summary,
            description=textwrap.fill(description, width=88),
            epilog=f"examples:\n  {examples}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        _ARGUMENTS[name](sub)
    return parser


def _common_options() -> argparse.ArgumentParser:
    """--config and -v again after the command (`loyalty check --config x.toml`), so that cron
    lines read naturally; SUPPRESS keeps them from overwriting a value given before the command."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS, help="config file")
    common.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="debug logging"
    )
    return common


def _add_sandbox(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], summary: str
) -> None:
    # No option prefix and no --help of its own: every argument after `sandbox`, --help included,
    # goes to the sandbox's own parser untouched.
    sub = commands.add_parser("sandbox", help=summary, add_help=False, prefix_chars="\0")
    sub.add_argument("sandbox_args", nargs=argparse.REMAINDER)
    sub.set_defaults(handler=_sandbox)


def _check_arguments(sub: argparse.ArgumentParser) -> None:
    sub.set_defaults(handler=_check)


def _db_arguments(sub: argparse.ArgumentParser) -> None:
    actions = sub.add_subparsers(title="actions", metavar="ACTION", required=True)
    for name, handler, summary in (
        ("upgrade", _db_upgrade, "create or migrate the database to this version's schema"),
        ("current", _db_current, "print the database's revision and the newest one"),
    ):
        action = actions.add_parser(
            name, parents=[_common_options()], help=summary, description=summary
        )
        action.set_defaults(handler=handler)


def _sync_arguments(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--full", action="store_true", help="re-read everything, not only changes")
    sub.add_argument(
        "--customer", type=_customer_id, metavar="ID", help="resync only this WooCommerce account"
    )
    sub.add_argument("--dry-run", action="store_true", help="decide and report, write nothing")
    sub.add_argument("--json", action="store_true", help="print the summary as JSON")
    sub.set_defaults(handler=_sync)


def _resync_arguments(sub: argparse.ArgumentParser) -> None:
    what = sub.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "--signups",
        action="store_true",
        help="the signups source: award [rules.signup] points to accounts registered since DATE",
    )
    what.add_argument(
        "--recalculate",
        action="store_true",
        help="decide past orders, bonuses, reviews, comments and signups again under today's rules",
    )
    sub.add_argument(
        "--since",
        type=_moment,
        metavar="DATE",
        help="from this day (YYYY-MM-DD, from 00:00 UTC) or moment (YYYY-MM-DDTHH:MM:SS, UTC) on"
        " (required with --signups; with --recalculate: items created on or after that day)",
    )
    sub.add_argument(
        "--customer", type=_customer_id, metavar="ID", help="--recalculate: one WooCommerce account"
    )
    sub.add_argument("--dry-run", action="store_true", help="decide and report, write nothing")
    sub.add_argument("--json", action="store_true", help="print the summary as JSON")
    sub.set_defaults(handler=_resync)


def _moment(text: str) -> datetime:
    """A day (its start) or a date-time, in UTC; not in the future."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a date YYYY-MM-DD or a date-time YYYY-MM-DDTHH:MM:SS (UTC), got {text!r}"
        ) from None
    try:
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is before year 1 in UTC
        raise argparse.ArgumentTypeError(f"{text} is before the year 1 in UTC") from None
    if value > datetime.now(UTC):
        raise argparse.ArgumentTypeError(f"{text} is in the future")
    return value


def _verify_arguments(sub: argparse.ArgumentParser) -> None:
    sub.set_defaults(handler=_verify)


def _balances_arguments(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    sub.set_defaults(handler=_balances)


def _quarantine_arguments(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    sub.add_argument("--all", action="store_true", help="include resolved items")
    sub.set_defaults(handler=_quarantine)


def _adjust_arguments(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--customer", required=True, type=_customer_id, metavar="ID", help="WooCommerce customer id"
    )
    sub.add_argument(
        "--points", required=True, type=_nonzero_int, metavar="N", help="+/- points, never 0"
    )
    sub.add_argument(
        "--reason", required=True, type=_reason, metavar="TEXT", help="why, kept in the ledger"
    )
    sub.set_defaults(handler=_adjust)


def _redeem_arguments(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--customer", required=True, type=_customer_id, metavar="ID", help="WooCommerce customer id"
    )
    what = sub.add_mutually_exclusive_group(required=True)
    what.add_argument("--tier", metavar="NAME", help="a tier of [redemption] tiers")
    what.add_argument("--points", type=_positive_int, metavar="N", help="points, at the rate")
    sub.add_argument("--dry-run", action="store_true", help="say what it would do, write nothing")
    sub.add_argument("--json", action="store_true", help="print the result as JSON")
    sub.set_defaults(handler=_redeem)


def _redemptions_arguments(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--pending", action="store_true", help="only the unfinished ones")
    sub.add_argument(
        "--cancel",
        type=_positive_id,
        metavar="ID",
        help="end a pending redemption the store will not finish, returning its points (only"
        " when the store has no coupon for it)",
    )
    sub.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    sub.set_defaults(handler=_redemptions)


def _dashboard_arguments(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--host", type=_host, metavar="HOST", help="address to bind (default: from config)"
    )
    sub.add_argument("--port", type=_port, metavar="PORT", help="port (default: from config)")
    sub.set_defaults(handler=_dashboard)


def _host(text: str) -> str:
    """An address to listen on, as `[dashboard] host` takes it (brackets of IPv6 dropped)."""
    if not is_host(plain_text(text)):
        raise argparse.ArgumentTypeError(
            f"expected a host name or an IP address, without a scheme or port, got {text!r}"
        )
    return text.strip("[]")


def _port(text: str) -> int:
    value = _integer(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 1 to 65535, got {text}")
    return value


def _report_arguments(sub: argparse.ArgumentParser) -> None:
    add_report_arguments(sub)
    sub.set_defaults(handler=_report)


def _expire_arguments(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--dry-run", action="store_true", help="decide and report, write nothing")
    sub.add_argument(
        "--as-of",
        type=_day,
        metavar="DATE",
        help="expire what is due on this day (YYYY-MM-DD; default today, UTC); a future day"
        " only with --dry-run, to see what would expire then",
    )
    sub.add_argument("--json", action="store_true", help="print the result as JSON")
    sub.set_defaults(handler=_expire)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from None


_ARGUMENTS: dict[str, Callable[[argparse.ArgumentParser], None]] = {
    "check": _check_arguments,
    "db": _db_arguments,
    "sync": _sync_arguments,
    "resync": _resync_arguments,
    "verify": _verify_arguments,
    "balances": _balances_arguments,
    "quarantine": _quarantine_arguments,
    "adjust": _adjust_arguments,
    "redeem": _redeem_arguments,
    "redemptions": _redemptions_arguments,
    "report": _report_arguments,
    "dashboard": _dashboard_arguments,
    "expire": _expire_arguments,
}


def _customer_id(text: str) -> int:
    return _ranged_id(text, "a WooCommerce customer id")


def _positive_id(text: str) -> int:
    return _ranged_id(text, "an id")


def _ranged_id(text: str, what: str) -> int:
    value = _integer(text)
    if not 1 <= value <= MAX_BIGINT:
        raise argparse.ArgumentTypeError(f"expected {what} from 1 to {MAX_BIGINT}, got {text}")
    return value


def _nonzero_int(text: str) -> int:
    value = _integer(text)
    if value == 0:
        raise argparse.ArgumentTypeError("expected a non-zero whole number of points, got 0")
    return value


def _positive_int(text: str) -> int:
    value = _integer(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of points >= 1, got {text}")
    return value


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def _reason(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a non-empty reason")
    if not storable_text(text, lines=True):
        raise argparse.ArgumentTypeError("the reason holds a control character (NUL, …)")
    return text.strip()


# --- the commands -------------------------------------------------------------------------------


def _check(args: argparse.Namespace) -> int:
    _print(render_summary(_load(args)))
    return EXIT_OK


def _db_upgrade(args: argparse.Namespace) -> int:
    from ledger.migrate import upgrade  # Alembic: only for the `db` commands

    config = _load(args)
    with _database_errors(config):
        revision = upgrade(config.database.url)
    _print(f"{config.database.url_for_display}: at revision {revision} (head)")
    return EXIT_OK


def _db_current(args: argparse.Namespace) -> int:
    from ledger.migrate import current_revision, head_revision

    config = _load(args)
    engine = create_engine_for(config.database.url)
    try:
        with _database_errors(config):
            current = current_revision(engine)
    finally:
        engine.dispose()
    head = head_revision()
    note = "" if current == head else "  (behind: run `loyalty db upgrade`)"
    _print(f"current: {current or '(empty: no ledger schema)'}{note}\nhead:    {head}")
    return EXIT_OK


def _sync(args: argparse.Namespace) -> int:
    return _run_sync(args, full=args.full, customer=args.customer)


def _resync(args: argparse.Namespace) -> int:
    from sync.source import Backfill

    if args.recalculate:
        return _recalculate(args)
    if args.since is None:
        return _fail("resync --signups needs --since DATE", EXIT_USAGE)
    if args.customer is not None:
        return _fail("--customer goes with --recalculate only", EXIT_USAGE)
    config = _load(args)
    if config.rules.signup_points <= 0:
        return _fail(
            "signup points are off ([rules.signup] points = 0): set them first, then resync",
            EXIT_USAGE,
        )
    return _run_sync(args, backfill=Backfill("signups", args.since))


def _run_sync(args: argparse.Namespace, **options: Any) -> int:
    """A sync run (`sync`, `resync`) with the common options: --dry-run, --json, the progress,
    a sync already running (skipped, exit 0), the summary, and exit 1 when it is not ok."""
    from loyalty.sync_settings import sync_settings
    from sync.service import make_progress, run_sync  # the sync pulls in HTTP clients: lazily

    config = _load(args)
    settings = sync_settings(config)
    progress = make_progress(enabled=sys.stderr.isatty())
    try:
        with _database_errors(config):
            summary = run_sync(settings, dry_run=args.dry_run, progress=progress, **options)
    except SyncAlreadyRunning as running:  # not a failure: that sync picks up the same changes
        since = running.since.isoformat() if running.since else None
        _print(json.dumps({"skipped": str(running), "since": since}) if args.json else str(running))
        return EXIT_OK
    _print(json.dumps(summary.as_dict(), indent=2) if args.json else summary.render())
    if not summary.ok:  # a source stopped, or the store does not show the ledger yet: cron must see
        return _fail(summary.failure())
    return EXIT_OK


def _recalculate(args: argparse.Namespace) -> int:
    from loyalty.sync_settings import sync_settings
    from sync.recalculate import run_recalculation
    from sync.service import make_progress

    config = _load(args)
    config.require_store()
    try:
        with _database_errors(config):
            run = run_recalculation(
                sync_settings(config),
                point_value=config.points.point_value,
                since=args.since.date() if args.since else None,
                customer=args.customer,
                dry_run=args.dry_run,
                progress=make_progress(enabled=sys.stderr.isatty()),
            )
    except SyncAlreadyRunning as running:
        return _fail(f"{running}; run the recalculation when it is done")
    if args.json:
        _print(json.dumps(run.as_dict(), indent=2))
        return EXIT_OK
    table = [("customer", "email", "points", "liability")]
    for change in run.customers:
        who = str(change.customer_id) if change.customer_id is not None else "(guest)"
        table.append(
            (who, change.email or "", f"{change.points:+d}", str(run.liability(change.points)))
        )
    if len(table) > 1:
        _print(_render_table(table))
    verb = "would change" if run.dry_run else "changed"
    resumed = " (finishing an interrupted run)" if run.resumed else ""
    decided = ", ".join(f"{count:,} {source}" for source, count in run.decided.items())
    _print(
        f"recalculated under rule set {run.version}{resumed} ({decided or 'nothing'} decided"
        f" again): {verb} {run.total:+d} points, {run.liability(run.total)} of liability, for"
        f" {_plural(len(run.customers), 'customer')}"
    )
    return EXIT_OK


def _verify(args: argparse.Namespace) -> int:
    config = _load(args)
    with _open_ledger(config, require_store=False, readonly=True) as (session, store_id):
        differences = verify_balances(session, store_id)
        rollups = verify_rollups(session, store_id)
        stamps = verify_stamps(session, store_id)
        customers = _count(session, Customer, store_id)
        entries = _count(session, PointEntry, store_id)
    if stamps:
        _print("\n".join(stamps))
        return _fail(f"{len(stamps)} stamp card(s) differ from the stamps of their orders")
    if not differences and not rollups:
        counted = f"{_plural(customers, 'customer')}, {_plural(entries, 'entry', 'entries')}"
        _print(f"verified {counted}: balances equal their entries, and so do the report rollups")
        return EXIT_OK
    _print("\n".join([*map(_describe_difference, differences), *map(_describe_rollup, rollups)]))
    if not differences:
        return _fail(
            f"{len(rollups)} report rollup row(s) differ from the entries they sum"
            f" ({_plural(entries, 'entry', 'entries')} checked)"
        )
    return _fail(
        f"cached points differ from the sum of the entries for {len(differences)} of"
        f" {_plural(customers, 'customer')} ({_plural(entries, 'entry', 'entries')} checked)"
    )


def _balances(args: argparse.Namespace) -> int:
    config = _load(args)
    with _open_ledger(config, require_store=True, readonly=True) as (session, store_id):
        assert store_id is not None  # require_store=True
        rows = list_balances(session, store_id)
    if args.json:
        fields = ("customer_id", "email", "balance", "lifetime")
        _print(json.dumps([{f: getattr(row, f) for f in fields} for row in rows], indent=2))
        return EXIT_OK
    table = [("customer", "email", "balance", "lifetime")]
    for row in rows:
        customer = "guest" if row.customer_id is None else str(row.customer_id)
        table.append((customer, row.email or "", str(row.balance), str(row.lifetime)))
    _print(_render_table(table) if rows else "no balances yet")
    return EXIT_OK


def _quarantine(args: argparse.Namespace) -> int:
    config = _load(args)
    with _open_ledger(config, require_store=True, readonly=True) as (session, store_id):
        assert store_id is not None  # require_store=True
        rows = [
            _quarantine_row(item)
            for item in quarantined_items(session, store_id, include_resolved=args.all)
        ]
    if args.json:
        _print(json.dumps(rows, indent=2))
        return EXIT_OK
    if not rows:
        _print("nothing in quarantine" if not args.all else "nothing was ever quarantined")
        return EXIT_OK
    table = [("source", "item", "seen", "first seen", "last seen", "status", "reason")]
    for row in rows:
        status = "resolved" if row["resolved_at"] else "open"
        table.append(
            (
                row["source"],
                row["item"],
                f"{row['count']}x",
                row["first_seen"],
                row["last_seen"],
                status,
                _shorten(row["reason"], 100),
            )
        )
    _print(_render_table(table, numeric=()))
    return EXIT_OK


def _quarantine_row(item: QuarantinedItem) -> dict[str, Any]:
    def when(moment: datetime | None) -> str | None:
        return moment.strftime("%Y-%m-%d %H:%M:%SZ") if moment else None

    return {
        "source": item.resource,
        "item": item.item_ref,
        "reason": item.error,
        "field": item.field,
        "count": item.count,
        "first_seen": when(item.first_seen),
        "last_seen": when(item.last_seen),
        "resolved_at": when(item.resolved_at),
        "raw": _json_or_text(item.payload),
        "raw_size": item.raw_size,
    }


def _json_or_text(payload: str) -> Any:
    """A stored item as JSON again; a payload cut at the size bound stays text."""
    try:
        return json.loads(payload)
    except ValueError:
        return payload


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _adjust(args: argparse.Namespace) -> int:
    from ledger.debt import debt_state
    from loyalty.accounts import require_store_account  # pulls in the HTTP client: lazily
    from sync.debt import settle_debts

    config = _load(args)
    with _open_ledger(config, require_store=True, readonly=True) as (session, store_id):
        assert store_id is not None  # require_store=True
        known = account_known(session, store_id, args.customer)
    if not known:  # a new customer, or a mistyped id: the store says which (loyalty.accounts)
        require_store_account(config.require_store(), args.customer)
    with _open_ledger(config, require_store=True) as (session, store_id):
        assert store_id is not None  # require_store=True
        now = datetime.now(UTC)
        entry = adjust(session, store_id, args.customer, args.points, args.reason, now=now)
        entry_id = entry.id
        # a negative adjustment may leave the balance below zero: [points] debt says what then
        state = debt_state(session, entry.customer_id)
        settled = settle_debts(session, store_id, config.points.debt, now=now, states=[state])
    _print(f"adjusted customer {args.customer} by {args.points:+d} points (entry {entry_id})")
    for settlement in settled:
        _print(f"  {settlement.kind.value}: {settlement.points:+d} ({settlement.note})")
    return EXIT_OK


def _redeem(args: argparse.Namespace) -> int:
    from loyalty.redeem import redeem_command  # pulls in the HTTP client: lazily

    return redeem_command(args, _load(args), _print, _fail)


def _redemptions(args: argparse.Namespace) -> int:
    from loyalty.redeem import redemptions_command

    return redemptions_command(args, _load(args), _print, _fail)


def _report(args: argparse.Namespace) -> int:
    try:
        check_options(args)
    except argparse.ArgumentTypeError as error:
        return _fail(str(error), EXIT_USAGE)
    config = _load(args)
    if args.report == "html":
        return _report_html(args, config)
    if args.report == "expiring" and args.start is None and args.end is None:
        # by default the customers to warn: next expiry from today to today + warn_days
        window = warning_window(datetime.now(UTC).date(), config.expiry.warn_days)
        args.start, args.end = window.start, window.end
    with _open_ledger(config, require_store=True, readonly=True) as (session, store_id):
        assert store_id is not None  # require_store=True
        try:
            text = render_report(session, store_id, args, point_value=config.points.point_value)
        except AmbiguousCustomer as error:
            return _fail(f"{error}; to pick one, give its email as listed with --exact", EXIT_USAGE)
        except (UnknownCustomer, BadCursor, argparse.ArgumentTypeError) as error:
            return _fail(str(error), EXIT_USAGE)
    _print(text)
    return EXIT_OK


def _report_html(args: argparse.Namespace, config: Config) -> int:
    from loyalty.web.page import PageInput, gather, render  # Jinja and Babel: only for this

    if not args.out:
        return _fail("report html needs --out FILE", EXIT_USAGE)
    lang = args.lang or config.dashboard.default_language
    with _open_ledger(config, require_store=True, readonly=True) as (session, store_id):
        assert store_id is not None  # require_store=True
        try:
            page = PageInput(
                period=period_of(args),
                history_limit=args.limit or 50,
                warn_days=config.expiry.warn_days,
            )
        except argparse.ArgumentTypeError as error:
            return _fail(str(error), EXIT_USAGE)
        data = gather(session, store_id, page, point_value=config.points.point_value)
        html = render(
            data,
            page,
            lang=lang,
            currency=config.dashboard.currency,
            standalone=True,
            store=config.require_store().key,
        )
    out = Path(args.out)
    try:
        out.write_text(html, encoding="utf-8")
    except OSError as error:
        return _fail(f"cannot write {out}: {error.strerror or error}")
    _print(f"wrote {out.resolve()} ({lang}); open it in any browser, no network needed")
    return EXIT_OK


#: uvicorn's loggers without handlers of their own, propagating to ours (secrets redacted, terminal
#: controls escaped), whatever configured them before in this process.
_UVICORN_LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "loggers": {
        name: {"handlers": [], "propagate": True}
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
    },
}


def _dashboard(args: argparse.Namespace) -> int:
    import uvicorn  # the web server: only for this command

    from loyalty.web.dashboard import allowed_hosts, create_app

    config = _load(args)
    settings = config.dashboard
    host, port = args.host or settings.host, args.port or settings.port
    engine = create_engine_for(config.database.url)
    try:
        with _database_errors(config):
            check_schema_current(engine)
            app = create_app(config, engine, served_on=host)
        admin = "on" if settings.admin_token else "off (no [dashboard] admin_token)"
        try:  # said before the server tries, which would only exit with status 3
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            socket.create_server((host, port), family=family).close()
        except OSError as error:
            return _fail(
                f"cannot listen on {host}:{port}: {error.strerror or error}"
                " (another dashboard running? --port picks another)"
            )
        names = ", ".join(sorted(allowed_hosts(settings, host)))
        _print(f"dashboard on http://{host}:{port}/ (admin actions {admin}); Ctrl-C stops it")
        _print(f"it answers to the host names {names} ([dashboard] allowed_hosts adds more)")
        uvicorn.run(app, host=host, port=port, log_level="warning", log_config=_UVICORN_LOGGING)
    finally:
        engine.dispose()
    return EXIT_OK


def _expire(args: argparse.Namespace) -> int:
    from sync.expiry import run_expiry
    from sync.progress import make_progress

    config = _load(args)
    if not config.expiry.enabled:
        return _fail("expiry is off: set [expiry] enabled = true to expire points", EXIT_USAGE)
    now = datetime.now(UTC)
    as_of = args.as_of or now.date()
    if as_of > now.date() and not args.dry_run:
        return _fail(
            f"--as-of {as_of} is in the future: its points would expire before their time, for"
            " good; add --dry-run to see what would expire then",
            EXIT_USAGE,
        )
    progress = make_progress(enabled=sys.stderr.isatty() and not args.json)
    with _open_ledger(config, require_store=True) as (session, store_id):
        assert store_id is not None  # require_store=True
        run = run_expiry(
            session,
            store_id,
            config.expiry,
            as_of=as_of,
            now=now,
            dry_run=args.dry_run,
            progress=progress,
        )
    if args.json:
        _print(json.dumps(run.as_dict(), indent=2))
        return EXIT_OK
    table = [("customer", "email", "expired", "next expiry", "warned")]
    for row in run.customers:
        who = "guest" if row.wc_id is None else str(row.wc_id)
        upcoming = f"{row.next_points} on {row.next_date}" if row.next_date else ""
        table.append(
            (who, row.email or "", str(row.expired), upcoming, "yes" if row.warned else "")
        )
    if run.customers:
        _print(_render_table(table))
    verb = "would expire" if args.dry_run else "expired"
    _print(
        f"{verb} {run.expired_points} points of"
        f" {_plural(sum(1 for c in run.customers if c.expired), 'customer')} as of {as_of}"
        f" ({_plural(run.appended, 'entry', 'entries')} appended,"
        f" {sum(1 for c in run.customers if c.warned)} warned)"
    )
    return EXIT_OK


def _sandbox(args: argparse.Namespace) -> int:
    from sandbox.cli import main as sandbox_main  # the sandbox is a test tool: import on demand

    try:
        return sandbox_main(list(args.sandbox_args))
    except SystemExit as stop:  # its argparse (--help, a usage error), or what stopped it
        if isinstance(stop.code, str):  # an unreadable --state file, a port taken: its message
            return _fail(stop.code)
        return stop.code if isinstance(stop.code, int) else EXIT_USAGE


# --- shared helpers -----------------------------------------------------------------------------


def _load(args: argparse.Namespace) -> Config:
    return load_config(find_config_path(args.config))


@contextmanager
def _open_ledger(
    config: Config, *, require_store: bool, readonly: bool = False
) -> Iterator[tuple[Session, int | None]]:
    """Open the ledger the same way for every command: schema checked, store looked up.

    Yields a session and the configured store's id (None when no store is configured and
    `require_store` is false: the command then covers every store). `SchemaBehind` says to run
    `loyalty db upgrade`; an unusable database is one clear DatabaseUnusable line.
    """
    store_key = config.require_store().key if require_store or config.store else None
    engine = create_engine_for(config.database.url)
    try:
        with _database_errors(config):
            check_database_exists(engine)
            check_schema_current(engine)
            with session_scope(engine, readonly=readonly) as session:
                store_id = get_or_create_store(session, store_key).id if store_key else None
                yield session, store_id
    finally:
        engine.dispose()


@contextmanager
def _database_errors(config: Config) -> Iterator[None]:
    with database_errors(config.database.url):
        yield


def _count(session: Session, model: type[Customer] | type[PointEntry], store_id: int | None) -> int:
    query = select(func.count()).select_from(model)
    if store_id is not None:
        query = query.where(model.store_id == store_id)
    return int(session.execute(query).scalar_one())


def _describe_difference(d: BalanceDifference) -> str:
    who = f"wc customer {d.wc_id}" if d.wc_id is not None else f"guest {d.email or '?'}"
    return (
        f"customer {d.customer_id} ({who}): balance cached {_or_missing(d.cached_balance)},"
        f" entries {d.entries_balance}; lifetime cached {_or_missing(d.cached_lifetime)},"
        f" entries {d.entries_lifetime}"
        + (
            f"; pending cached {_or_missing(d.cached_pending)}, entries {d.entries_pending}"
            if d.cached_pending != d.entries_pending
            else ""
        )
    )


def _describe_rollup(d: RollupDifference) -> str:
    key = ", ".join(str(part) for part in d.key)
    return f"{d.table} of store {d.store_id} ({key}): stored {d.rollup}, entries give {d.entries}"


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else many or one + 's'}"


def _or_missing(value: int | None) -> str:
    return "(no row)" if value is None else str(value)


def _render_table(rows: Sequence[tuple[str, ...]], numeric: Collection[int] = (2, 3)) -> str:
    """Columns padded to their widest cell; `numeric` columns (by default balance and lifetime)
    align right."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = zip(row, widths, strict=True)
        padded = [c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(cells)]
        lines.append("  ".join(padded).rstrip())
    return "\n".join(lines)


def render_summary(config: Config) -> str:
    """What `loyalty check` prints: the configuration at a glance, every secret masked."""
    lines = [f"config:     {config.source or '(no file: defaults)'}"]
    store = config.store
    if store is None:
        lines.append("store:      (not configured: sync and adjust need a [store] table)")
    else:
        tls = f"CA {store.verify_tls}" if isinstance(store.verify_tls, str) else "verified"
        tls = tls if store.verify_tls is not False else "NOT verified"
        lines += [
            f"store:      {store.url} (ledger key {store.key})",
            f"            consumer key {_masked(bool(store.consumer_key))},"
            f" consumer secret {_masked(bool(store.consumer_secret))}",
            f"            timeout {store.timeout:g}s, {store.per_page} per page, concurrency"
            f" {store.concurrency}, {store.max_requests_per_second:g} requests/s, retries up to"
            f" {store.max_retry_seconds:g}s, TLS {tls}",
        ]
    wordpress = config.wordpress
    lines.append(
        f"wordpress:  {wordpress.url or '(no url)'}, user {wordpress.username or '(not set)'},"
        f" application password {_masked(bool(wordpress.app_password))}"
    )
    lines.append(f"database:   {config.database.url_for_display}")
    worker, sync, points = config.worker, config.sync, config.points
    lines += [
        f"worker:     {worker.broker_url_for_display}, sync every {worker.sync_every_minutes} min",
        f"sync:       overlap {sync.overlap_minutes} min,"
        f" reconcile every {sync.reconcile_every_hours:g} h,"
        f" reviews and comments rescanned {sync.rescan_days} days back",
        f"points:     meta keys {points.balance_meta_key} (balance),"
        f" {points.lifetime_meta_key} (lifetime); 1 point = {points.point_value}",
    ]
    lines += _rules_summary(config)
    return "\n".join(lines)


def _rules_summary(config: Config) -> list[str]:
    rules = config.rules
    lines = ["rules:      purchase rule versions (oldest first):"]
    for version in rules.purchase.versions:
        lines.append(
            f"              {version.version}: from {version.effective_from},"
            f" {version.points_per_unit} per unit, rounding {version.rounding.value},"
            f" earns when {', '.join(sorted(version.earn_statuses))}"
        )
    lines.append(f"            first order bonus {rules.first_order_points} points")
    signup = f"{rules.signup_points} points" if rules.signup_points else "off"
    lines.append(f"            signup points {signup}")
    flags = {
        "review points": rules.review.enabled,
        "comment points": rules.comment.enabled,
        "redemption": config.redemption.enabled,
        "expiry": config.expiry.enabled,
    }
    lines.append(
        "            " + ", ".join(f"{k} {'on' if v else 'off'}" for k, v in flags.items())
    )
    review, comment = rules.review, rules.comment
    if review.enabled:
        lines.append(
            f"            reviews: {review.points} points, once per product,"
            f" {'verified owners only' if review.verified_only else 'verified or not'},"
            f" at least {review.min_length} characters, {_cap(review.max_per_day)}"
        )
    if comment.enabled:
        lines.append(
            f"            comments: {comment.points} points, once per post,"
            f" replies {'count' if comment.replies else 'do not count'},"
            f" at least {comment.min_length} characters, {_cap(comment.max_per_day)}"
        )
        wordpress = config.wordpress
        if not (wordpress.username and wordpress.app_password):
            lines.append(f"            {NO_CREDENTIALS}")
    return lines


def _cap(per_day: int) -> str:
    return f"at most {per_day} a day" if per_day else "no daily cap"


def _masked(is_set: bool) -> str:
    return "***" if is_set else "(not set)"


def _discard_stdout() -> None:
    """Point standard output at the null device, so that the interpreter's last flush does not fail
    on the closed pipe too (Python's own advice for SIGPIPE)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real file behind sys.stdout (a test's capture)
        pass


def _print(text: str) -> None:
    print(terminal_safe(redact(text)))  # store text: its escape sequences shown, not run


def _fail(message: str, code: int = EXIT_FAILED) -> int:
    print(f"loyalty: error: {terminal_safe(redact(message))}", file=sys.stderr)
    return code


def run() -> NoReturn:
    """The `loyalty` program (its console script, `python -m loyalty.cli`): `main`, then exit.

    On the way out the interpreter's last collections would walk every object the process ever
    made (SQLAlchemy's, the ledger's models, a sync's caches): about 0.3 s of CPU after a sync,
    for memory the operating system takes back anyway. Everything alive is frozen first
    (`gc.freeze`), so they skip it; files, logs and the standard streams are still flushed and
    closed as usual (by `atexit` and the interpreter), and a sync disposes of its own engine.
    """
    code = main()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    run()
