"""`loyalty report status|sources|top|history|products`: the reports as a table, JSON or CSV.

`add_report_arguments` declares the options; `render_report` runs one report in an open session
and returns the text to print. JSON and CSV carry the same numbers as the table (the README lists
the JSON fields). The HTML export (`loyalty report html`) lives in `loyalty.report_html`.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from ledger.models import Customer
from ledger.types import MAX_BIGINT
from loyalty.arguments import plain_text
from loyalty.web.i18n import LANGUAGES
from reports.customers import top_customers
from reports.expiring import expiring_customers, expiring_total
from reports.history import history
from reports.period import Period, find_customer
from reports.products import product_customers
from reports.sources import points_sources
from reports.status import Granularity, points_status
from reports.tiers import tier_distribution, tier_moves

REPORTS = ("status", "sources", "top", "history", "products", "expiring", "tiers")


@dataclass(frozen=True)
class Rendered:
    """A report as plain data: JSON document, one flat table (for CSV and the terminal), notes."""

    document: dict[str, Any]
    headers: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    notes: tuple[str, ...] = ()


def add_report_arguments(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("report", choices=(*REPORTS, "html"), help="which report (html: a file)")
    sub.add_argument("--from", dest="start", type=_day, metavar="DATE", help="first UTC day")
    sub.add_argument("--to", dest="end", type=_day, metavar="DATE", help="last UTC day")
    sub.add_argument(
        "--customer", type=_who, metavar="ID", help="history, tiers: WooCommerce id or email"
    )
    sub.add_argument(
        "--exact",
        action="store_true",
        help="--customer is an email as the ledger holds it, character for character: picks one"
        " of several emails that read alike (an invisible mark in one), as the error listing"
        " them shows it (in a shell, $'ann\\u200f@example.com')",
    )
    sub.add_argument(
        "--limit",
        type=_positive,
        metavar="N",
        help="rows: top (default 10), history and html's history (50), sources' products (20),"
        " products, expiring and tiers (100)",
    )
    sub.add_argument("--cursor", metavar="C", help="history: the page after this cursor")
    sub.add_argument("--product", type=_positive, metavar="ID", help="products: one product")
    sub.add_argument(
        "--by", choices=[g.value for g in Granularity], help="status: periods (default month)"
    )
    sub.add_argument("--out", type=plain_text, metavar="FILE", help="html: the file to write")
    sub.add_argument("--lang", choices=LANGUAGES, help="html: the language (default: config)")
    formats = sub.add_mutually_exclusive_group()
    formats.add_argument("--json", action="store_true", help="print JSON")
    formats.add_argument("--csv", action="store_true", help="print CSV")


#: The options that only some reports take; any other report refuses them rather than print
#: figures that look filtered and are not.
APPLIES_TO = {
    "customer": ("history", "tiers"),
    "exact": ("history", "tiers"),
    "limit": ("sources", "top", "history", "products", "expiring", "tiers", "html"),
    "cursor": ("history",),
    "product": ("products",),
    "by": ("status",),
    "out": ("html",),
    "lang": ("html",),
    "json": REPORTS,
    "csv": REPORTS,
}


def check_options(args: argparse.Namespace) -> None:
    """ArgumentTypeError naming the first option given that `args.report` does not take."""
    for option, reports in APPLIES_TO.items():
        given = getattr(args, option, None)
        if given not in (None, False) and args.report not in reports:
            raise argparse.ArgumentTypeError(
                f"--{option} does not apply to the {args.report} report"
                f" (it applies to {', '.join(reports)})"
            )


def period_of(args: argparse.Namespace) -> Period:
    try:
        return Period(args.start, args.end)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def render_report(
    session: Session, store_id: int, args: argparse.Namespace, *, point_value: Decimal
) -> str:
    """Run the report `args.report` and format it as `args` asks (table, --json or --csv)."""
    builder = _BUILDERS[args.report]
    rendered = builder(session, store_id, period_of(args), args, point_value)
    if args.json:
        return json.dumps(rendered.document, indent=2, default=_json_default)
    if args.csv:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(rendered.headers)
        writer.writerows([[_csv_cell(cell) for cell in row] for row in rendered.rows])
        return out.getvalue().rstrip("\n")
    table = render_table([rendered.headers, *[[_plain(c) for c in r] for r in rendered.rows]])
    return "\n".join([table if rendered.rows else "(nothing in this range)", *rendered.notes])


def render_table(rows: Sequence[Sequence[str]]) -> str:
    """Aligned columns: numbers right, text left."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    numeric = [
        all(_is_number(row[i]) for row in rows[1:]) and len(rows) > 1 for i in range(len(widths))
    ]
    lines = []
    for row in rows:
        cells = [
            c.rjust(w) if numeric[i] else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


# --- the reports ----------------------------------------------------------------------------


def _status(
    session: Session, store_id: int, period: Period, args: argparse.Namespace, value: Decimal
) -> Rendered:
    report = points_status(
        session, store_id, period, point_value=value, granularity=Granularity(args.by or "month")
    )
    m = report.movements
    buckets = ("earned", "revoked", "redeemed", "expired", "adjusted", "transferred", "debt",
               "written_off", "pending")  # fmt: skip
    headers = ("period", "opening", *buckets, "closing", "liability")
    rows: list[tuple[Any, ...]] = []
    opening = report.opening
    for row in report.periods:
        moved = tuple(getattr(row.movements, b) for b in buckets)
        rows.append((row.start, opening, *moved, row.closing, row.closing * value))
        opening = row.closing
    total = tuple(getattr(m, b) for b in buckets)
    rows.append(("total", report.opening, *total, report.closing, report.liability))
    document = {
        "from": period.start,
        "to": period.end,
        "by": report.granularity.value,
        "opening": report.opening,
        **{b: getattr(m, b) for b in buckets},
        "closing": report.closing,
        "balanced": report.balanced,
        "pending_outstanding": report.pending_outstanding,
        "debt_outstanding": report.debt_outstanding,
        "below_zero": report.below_zero,
        "point_value": value,
        "liability": report.liability,
        "periods": [dict(zip(headers, r, strict=True)) for r in rows[:-1]],
    }
    terms = "".join(f" {'+' if adds else '-'} {value}" for adds, _, value in m.terms())
    equation = f"{report.opening}{terms} = {report.closing}"
    notes = (
        "\nopening + earned - revoked - redeemed - expired ± adjusted ± transferred ± debt"
        f" + written_off = closing\n{equation}"
        f"  {'balanced' if report.balanced else 'NOT BALANCED'}",
        f"outstanding {report.closing} points × {value} = {report.liability} liability;"
        f" {report.pending_outstanding} points pending",
        f"owed: {report.debt_outstanding} points of recorded debt;"
        f" balances below zero now: {report.below_zero} points",
    )
    return Rendered(document, headers, rows, notes)


#: The name shown for category 0: purchases whose categories the sync did not learn (no rule
#: needed them). JSON keeps null, as for any category without a known name.
_UNKNOWN_CATEGORY = "(not known)"


def _category_name(category_id: int, name: str) -> str:
    return name or (_UNKNOWN_CATEGORY if category_id == 0 else "")


def _sources(
    session: Session, store_id: int, period: Period, args: argparse.Namespace, value: Decimal
) -> Rendered:
    report = points_sources(session, store_id, period, product_limit=args.limit or 20)
    headers = ("section", "id", "name", "earned", "revoked", "points", "share")
    rows: list[tuple[Any, ...]] = [
        ("source", r.source.value, "", r.earned, r.revoked, r.net, r.share) for r in report.sources
    ]
    rows += [
        (
            "category",
            r.category_id,
            _category_name(r.category_id, r.name),
            "",
            "",
            r.points,
            r.share,
        )
        for r in report.categories
    ]
    rows += [("product", r.product_id, r.name, "", "", r.points, "") for r in report.products]
    document = {
        "from": period.start,
        "to": period.end,
        "total_earned": report.total_earned,
        "sources": [
            {"source": r.source.value, "earned": r.earned, "revoked": r.revoked,
             "points": r.net, "share": r.share}
            for r in report.sources
        ],
        "categories": [
            {"category_id": r.category_id, "name": r.name or None, "points": r.points,
             "share": r.share}
            for r in report.categories
        ],
        "products": [
            {"product_id": r.product_id, "name": r.name, "points": r.points}
            for r in report.products
        ],
    }  # fmt: skip
    return Rendered(document, headers, rows)


def _top(
    session: Session, store_id: int, period: Period, args: argparse.Namespace, value: Decimal
) -> Rendered:
    top = top_customers(session, store_id, period, limit=args.limit or 10)
    headers = ("rank", "customer_id", "email", "earned", "earning_orders", "balance", "lifetime")
    rows = [tuple(getattr(t, h) for h in headers) for t in top]
    document = {"from": period.start, "to": period.end, "customers": [
        dict(zip(headers, row, strict=True)) for row in rows
    ]}  # fmt: skip
    return Rendered(document, headers, rows)


def _customer(session: Session, store_id: int, args: argparse.Namespace) -> Customer | None:
    """The customer `--customer` names (`--exact`: the email as held), or None."""
    if not args.customer:
        return None
    return find_customer(session, store_id, args.customer, exact=args.exact)


def _history(
    session: Session, store_id: int, period: Period, args: argparse.Namespace, value: Decimal
) -> Rendered:
    customer = _customer(session, store_id, args)
    page = history(
        session, store_id, period, customer=customer, limit=args.limit or 50, cursor=args.cursor
    )
    headers = ("type", "entry_id", "date", "customer_id", "email", "source", "kind", "reference",
               "points", "balance", "note")  # fmt: skip
    rows = [
        (r.type, r.entry_id, r.occurred_at.strftime("%Y-%m-%d %H:%M"), r.customer_id, r.email,
         r.source, r.kind, r.reference, r.points, r.balance, r.note)
        for r in page.rows
    ]  # fmt: skip
    document = {
        "from": period.start,
        "to": period.end,
        "entries": [
            {**dict(zip(headers, row, strict=True)), "date": r.occurred_at.isoformat(),
             "event_id": r.event_id, "tier_from": r.tier_from, "tier_to": r.tier_to}
            for row, r in zip(rows, page.rows, strict=True)
        ],
        "next_cursor": page.next_cursor,
    }  # fmt: skip
    notes = (f"\nnext page: --cursor {page.next_cursor}",) if page.next_cursor else ()
    return Rendered(document, headers, rows, notes)


def _products(
    session: Session, store_id: int, period: Period, args: argparse.Namespace, value: Decimal
) -> Rendered:
    found = product_customers(
        session, store_id, period, product_id=args.product, limit=args.limit or 100
    )
    headers = ("product_id", "name", "customer_id", "email", "points", "purchases")
    rows = [tuple(getattr(r, h) for h in headers) for r in found]
    document = {"from": period.start, "to": period.end, "rows": [
        dict(zip(headers, row, strict=True)) for row in rows
    ]}  # fmt: skip
    return Rendered(document, headers, rows)


def _expiring(
    session: Session, store_id: int, period: Period, args: argparse.Namespace, value: Decimal
) -> Rendered:
    found = expiring_customers(session, store_id, period, limit=args.limit or 100)
    headers = ("date", "customer_id", "email", "points", "balance")
    rows = [(r.date, r.customer_id, r.email, r.points, r.balance) for r in found]
    total = expiring_total(session, store_id, period)
    document = {"from": period.start, "to": period.end, "customers": [
        dict(zip(headers, row, strict=True)) for row in rows
    ], "total": {"points": total.points, "customers": total.customers}}  # fmt: skip
    notes = (f"\n{total.points} points of {total.customers} customer(s) expire in this range",)
    return Rendered(document, headers, rows, notes)


def _tiers(
    session: Session, store_id: int, period: Period, args: argparse.Namespace, value: Decimal
) -> Rendered:
    customer = _customer(session, store_id, args)
    found = tier_moves(session, store_id, period, customer=customer, limit=args.limit or 100)
    headers = ("date", "customer_id", "email", "from", "to")
    rows = [
        (r.at.strftime("%Y-%m-%d %H:%M"), r.customer_id, r.email, r.before or "", r.after or "")
        for r in found
    ]
    held = tier_distribution(session, store_id, period)
    document = {
        "from": period.start,
        "to": period.end,
        "held": [{"tier": t.tier, "customers": t.customers} for t in held],
        "moves": [
            {**dict(zip(headers, row, strict=True)), "date": r.at.isoformat(),
             "from": r.before, "to": r.after}
            for row, r in zip(rows, found, strict=True)
        ],
    }  # fmt: skip
    notes = (
        "\nheld at the end of the range, by all customers: "
        + (", ".join(f"{t.tier or '(no tier)'} {t.customers}" for t in held) or "none"),
    )
    return Rendered(document, headers, rows, notes)


_Builder = Callable[[Session, int, Period, argparse.Namespace, Decimal], Rendered]
_BUILDERS: dict[str, _Builder] = {
    "status": _status,
    "sources": _sources,
    "top": _top,
    "history": _history,
    "products": _products,
    "expiring": _expiring,
    "tiers": _tiers,
}


# --- small helpers --------------------------------------------------------------------------


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def _who(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a WooCommerce customer id or an email, got ''")
    return text.strip()


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 1 <= value <= MAX_BIGINT:
        raise argparse.ArgumentTypeError(f"expected a number from 1 to {MAX_BIGINT}, got {text}")
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


#: What makes a spreadsheet read a cell as a formula (OWASP's "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> str:
    """A CSV cell: text from the store or an admin (an email, a note) that a spreadsheet would run
    as a formula is quoted with a leading apostrophe, shown and not run; numbers stay numbers."""
    text = _plain(value)
    if text.startswith(_FORMULA_START) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return text == ""
    return True
