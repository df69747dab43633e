"""The report page: the four sections (status, sources, top customers, history), the life of a
point (points expiring soon, tiers held and moves), their charts and tables, rendered with Jinja2
in one language. Used by `loyalty report html` (one self-contained
file: CSS inline, charts inline SVG, no network) and by the dashboard (CSS served, no inline).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session

from ledger.kinds import SourceKind
from ledger.models import Customer
from loyalty.web.charts import Series, bars_chart, columns_chart
from loyalty.web.i18n import Formats, translations
from reports.customers import TopCustomer, top_customers
from reports.expiring import (
    ExpiringCustomer,
    ExpiringTotal,
    expiring_customers,
    expiring_total,
    warning_window,
)
from reports.history import HistoryPage, HistoryRow, history
from reports.period import Period, shown_email
from reports.runs import RunRow, recent_runs
from reports.sources import SourcesReport, points_sources
from reports.status import Granularity, StatusReport, points_status
from reports.tiers import TierCount, TierMoveRow, tier_distribution, tier_moves
from rules import notes

HERE = Path(__file__).parent
CSS = HERE / "static" / "dashboard.css"
BUCKET_KEYS = (
    "earned",
    "revoked",
    "redeemed",
    "expired",
    "adjusted",
    "transferred",
    "debt",
    "written_off",
)


@dataclass(frozen=True)
class PageInput:
    """What one page shows: the range, one customer's history or the store's, a page of it."""

    period: Period = field(default_factory=Period)
    customer: Customer | None = None
    matches: tuple[Customer, ...] = ()  # a search that matched several customers: none shown
    cursor: str | None = None
    top_limit: int = 10
    history_limit: int = 25
    life_limit: int = 10  # rows of points expiring soon and of recent tier moves
    today: date | None = None  # the first day of "expiring soon" (None: today, UTC)
    warn_days: int = 0  # `[expiry] warn_days`: how far "expiring soon" looks

    def expiring_window(self) -> Period:
        """The days of "points expiring soon", as `loyalty report expiring` takes them."""
        return warning_window(self.today or datetime.now(UTC).date(), self.warn_days)


@dataclass(frozen=True)
class PageData:
    status: StatusReport
    sources: SourcesReport
    top: list[TopCustomer]
    history: HistoryPage
    runs: list[RunRow]
    expiring: list[ExpiringCustomer]
    expiring_total: ExpiringTotal
    tiers: list[TierCount]
    tier_moves: list[TierMoveRow]


def gather(session: Session, store_id: int, page: PageInput, *, point_value: Decimal) -> PageData:
    """Every figure of the page, from the reports (read-only)."""
    span = (page.period.end or date.max) - (page.period.start or date.min)
    granularity = Granularity.DAY if span.days <= 62 else Granularity.MONTH
    return PageData(
        status=points_status(
            session, store_id, page.period, point_value=point_value, granularity=granularity
        ),
        sources=points_sources(session, store_id, page.period),
        top=top_customers(session, store_id, page.period, limit=page.top_limit),
        history=history(
            session,
            store_id,
            page.period,
            customer=page.customer,
            limit=page.history_limit,
            cursor=page.cursor,
        ),
        runs=recent_runs(session, store_id, limit=10),
        expiring=expiring_customers(
            session, store_id, page.expiring_window(), limit=page.life_limit
        ),
        expiring_total=expiring_total(session, store_id, page.expiring_window()),
        tiers=tier_distribution(session, store_id, page.period),
        tier_moves=tier_moves(session, store_id, page.period, limit=page.life_limit),
    )


def environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
    )


_ENV = environment()


def render(
    data: PageData,
    page: PageInput,
    *,
    lang: str,
    currency: str,
    standalone: bool,
    store: str,
    admin: bool = False,
    redeem: bool = False,
    request_id: str = "",
    notice: str = "",
) -> str:
    """The page as HTML in `lang`; `standalone` inlines the CSS (the file export)."""
    fmt = Formats(lang, currency)
    catalog = translations(lang)
    gettext: Callable[[str], str] = catalog.gettext
    env = _ENV.overlay()
    env.install_gettext_translations(catalog, newstyle=True)  # type: ignore[attr-defined]
    template = env.get_template("page.html")
    return template.render(
        data=data,
        page=page,
        fmt=fmt,
        lang=lang,
        dir="rtl" if fmt.rtl else "ltr",
        standalone=standalone,
        css=CSS.read_text() if standalone else "",
        store=store,
        admin=admin,
        redeem=redeem,
        request_id=request_id,
        notice=notice,
        charts=_charts(data, fmt, gettext),
        labels=_labels(gettext),
        note=partial(_note, gettext, catalog.pgettext),
        period_label=_period_label(page.period, fmt, gettext),
        shown_email=shown_email,
        expiring_label=_period_label(page.expiring_window(), fmt, gettext),
    )


def _note(
    gettext: Callable[[str], str], pgettext: Callable[[str, str], object], row: HistoryRow
) -> str:
    """An entry's note in the page's language (`rules.notes`), statuses and rounding modes too;
    an admin's adjustment keeps the admin's own words, which a template could only mistake for
    one of its own."""
    if row.kind == SourceKind.ADJUSTMENT.value:
        return row.note
    return notes.translate(row.note, gettext, pgettext)


def _labels(_: Callable[[str], str]) -> dict[str, str]:
    return {
        "earned": _("Earned"),
        "revoked": _("Revoked"),
        "redeemed": _("Redeemed"),
        "expired": _("Expired"),
        "adjusted": _("Adjusted"),
        "transferred": _("Transferred"),
        "debt": _("Debt"),
        "written_off": _("Written off"),
        "pending": _("Pending"),
        "purchase": _("Purchases"),
        "review": _("Reviews"),
        "comment": _("Comments"),
        "signup": _("Signups"),
        "bonus": _("Bonuses"),
        "adjustment": _("Adjustments"),
        "transfer": _("Transfers"),
        "redemption": _("Redemptions"),
        "expiry": _("Expiry"),
        "first_order": _("First order bonus"),
        "tier_move": _("Tier move"),
        "no_tier": _("No tier"),
        "run_succeeded": _("Succeeded"),
        "run_failed": _("Failed"),
        "run_running": _("Running"),
        "run_abandoned": _("Abandoned"),
    }


def _charts(data: PageData, fmt: Formats, _: Callable[[str], str]) -> dict[str, Any]:
    labels = _labels(_)
    periods = data.status.periods
    day_format = (lambda d: fmt.day(d)) if data.status.granularity is Granularity.DAY else None
    names = [day_format(p.start) if day_format else fmt.month(p.start) for p in periods]
    sign = {"revoked": -1, "redeemed": -1, "expired": -1}
    series = [
        Series(key, labels[key], [sign.get(key, 1) * getattr(p.movements, key) for p in periods])
        for key in BUCKET_KEYS
    ]
    empty = _("Nothing in this range")
    return {
        "status": columns_chart(
            names,
            series,
            title=_("Points over time by kind"),
            rtl=fmt.rtl,
            empty=empty,
            shown=fmt.number,
        ),
        "sources": bars_chart(
            [
                (labels[r.source.value], r.earned, fmt.number(r.earned))
                for r in data.sources.sources
            ],
            title=_("Points by source"),
            rtl=fmt.rtl,
            empty=empty,
        ),
        "top": bars_chart(
            [(t.email or str(t.customer_id), t.earned, fmt.number(t.earned)) for t in data.top],
            title=_("Top earning customers"),
            rtl=fmt.rtl,
            empty=empty,
        ),
    }


def _period_label(period: Period, fmt: Formats, _: Callable[[str], str]) -> str:
    if period.start is None and period.end is None:
        return _("All time")
    start = fmt.day(period.start) if period.start else "…"
    end = fmt.day(period.end) if period.end else "…"
    return f"{start} – {end}"
