"""`loyalty dashboard`: the four reports as a web page, with date filters, a customer search that
leads to that customer's history, the recent sync runs, and admin actions behind a token.

A Starlette app served by uvicorn, on loopback by default. Every response carries security headers
(a CSP with no inline script and no inline style, no framing, no sniffing, no referrer). Charts are
server-rendered SVG, so the page runs no script at all. Admin actions (a resync, full or of one
customer; a manual adjustment with a reason; a redemption, as `loyalty redeem` makes it) need
`[dashboard] admin_token`, compared in constant time; with no token configured they are off and
every admin request is refused.
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger.admin import InvalidAdjustment, adjust
from ledger.customers import account_known, get_or_create_store
from ledger.errors import ConcurrentAppend, DatabaseUnusable, PointsOutOfRange, SyncAlreadyRunning
from ledger.models import Customer
from ledger.session import session_scope
from ledger.types import MAX_BIGINT
from loyalty.config import Config, DashboardConfig
from loyalty.errors import ConfigError, UnknownAccount
from loyalty.web.i18n import negotiate, translations
from loyalty.web.page import PageInput, gather, render
from reports.history import BadCursor
from reports.period import (
    AmbiguousCustomer,
    Period,
    UnknownCustomer,
    find_customer,
    within_reach,
)
from rules import notes
from sync.errors import StoreError
from sync.redaction import redact

Gettext = Callable[[str], str]
#: An admin action once admitted: the page's language, its gettext and the posted form.
AdminAction = Callable[[str, Gettext, dict[str, str]], Awaitable[Response]]

log = logging.getLogger("loyalty.dashboard")
STATIC = Path(__file__).parent / "static"
MAX_FORM_BYTES = 8192

SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self';"
        " frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cache-control": "no-store",
}

#: A resync of a WooCommerce account id, or of everyone (None); answers None when the run did all
#: it set out to do, else the one line saying why not (`SyncSummary.failure`).
Resync = Callable[[int | None], str | None]


@dataclass(frozen=True)
class Redeemed:
    """How a redemption asked for from the dashboard went."""

    status: str  # issued, pending (no coupon yet: the next sync), refused (by the store),
    # declined, unanswered
    reason: str = ""  # why declined (nothing written) or refused


#: A redemption for a WooCommerce account id, by tier name or by points (exactly one of the two).
#: (customer, tier, points, the form's one-time request id or "")
Redeem = Callable[[int, str | None, int | None, str], Redeemed]
#: A form's request id: what `secrets.token_urlsafe` draws, within bounds.
REQUEST_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
DECLINED = "declined"  # not redeemable (too few points, unknown tier, redemption off)
UNANSWERED = "unanswered"  # the store would not give the customer's email: nothing written


class SecurityHeaders:
    """ASGI middleware: the security headers on every HTTP response, static files included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.decode().lower() not in SECURITY_HEADERS]  # fmt: skip
                headers += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


class HostCheck:
    """ASGI middleware: requests naming a host the dashboard is not served under are refused
    (400). Reading the pages needs no token, so a web page the admin visits could rebind its
    own name to 127.0.0.1 and read every customer's email and balance as its own (DNS
    rebinding; found by a review, 4 Dec). Starlette's `TrustedHostMiddleware` would do, but it
    reads the name before the first `:`, which an IPv6 address (`[::1]:8788`) breaks."""

    def __init__(self, app: ASGIApp, allowed: frozenset[str]) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _host_name(scope) not in self.allowed:
            names = ", ".join(sorted(self.allowed))
            message = (
                f"This dashboard answers to {names} only: add the name it is reached under to"
                " [dashboard] allowed_hosts."
            )
            await PlainTextResponse(message, 400)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _host_name(scope: Scope) -> str:
    """The host the request names (its `Host` header, without the port), lowercased."""
    for key, value in scope.get("headers", ()):
        if key == b"host":
            host = value.decode("latin-1").strip().lower()
            if host.startswith("["):  # [::1]:8788
                return host[1 : host.find("]")] if "]" in host else host
            return host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return ""


#: The names of this machine's loopback, which the dashboard always answers to.
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
#: Addresses that listen on every interface: they name no host a request could name.
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})  # noqa: S104 - names, not a bind


def allowed_hosts(settings: DashboardConfig, served_on: str) -> frozenset[str]:
    """What the dashboard answers to: the loopback names, the host it listens on (unless it
    listens on every interface), and `[dashboard] allowed_hosts` (a proxy's public name)."""
    own = {served_on.strip("[]").lower()} - WILDCARD_HOSTS
    return LOOPBACK_NAMES | own | {name.lower() for name in settings.allowed_hosts}


def create_app(
    config: Config,
    engine: Engine,
    *,
    served_on: str | None = None,
    resync: Resync | None = None,
    redeem: Redeem | None = None,
    today: Callable[[], date] | None = None,
    account_check: Callable[[int], None] | None = None,
) -> ASGIApp:
    """The dashboard of the configured store. `served_on`: the host it listens on, which with
    the loopback names and `[dashboard] allowed_hosts` is what requests may name (`HostCheck`;
    None: any, for an app the tests call directly). `resync` runs a full sync (default:
    `run_sync`), `redeem` a redemption (default: `loyalty.redeem.redeem_once`), `today` the first
    day of "points expiring soon" (default: today, UTC), `account_check` asks the store whether
    it has an account the ledger does not know before it is adjusted (default:
    `loyalty.accounts.require_store_account`; raises UnknownAccount)."""
    store_key = config.require_store().key
    check_account = account_check or _default_account_check(config)
    with session_scope(engine) as session:
        store_id = get_or_create_store(session, store_key).id
    settings = config.dashboard
    token = settings.admin_token.reveal()

    def language(request: Request) -> str:
        return negotiate(
            request.query_params.get("lang"),
            request.headers.get("accept-language"),
            settings.default_language,
        )

    def home(request: Request) -> Response:
        lang = language(request)
        _ = translations(lang).gettext
        notices: list[str] = []
        period = _period(request, notices, _)
        notice = _done_notice(request.query_params.get("done", ""), _)
        with session_scope(engine, readonly=True) as session:
            customer, matches = _customer(session, store_id, request, notices, _)
            page = PageInput(
                period=period,
                customer=customer,
                matches=matches,
                cursor=request.query_params.get("cursor"),
                today=today() if today else None,
                warn_days=config.expiry.warn_days,
            )
            try:
                data = gather(session, store_id, page, point_value=config.points.point_value)
            except BadCursor:
                notices.append(_("That page link is not valid; showing the newest entries."))
                page = replace(page, cursor=None)
                data = gather(session, store_id, page, point_value=config.points.point_value)
            html = render(
                data,
                page,
                lang=lang,
                currency=settings.currency,
                standalone=False,
                store=store_key,
                admin=bool(token),
                redeem=config.redemption.enabled,
                request_id=secrets.token_urlsafe(16),
                notice=" ".join([*notices, notice]).strip(),
            )
        return HTMLResponse(html, headers={"content-language": lang, "vary": "Accept-Language"})

    def admin(action: AdminAction) -> Callable[[Request], Awaitable[Response]]:
        """An admin endpoint: the page's language, the posted form, and the token checked (in
        constant time; no token configured, actions off) before `action` runs."""

        async def endpoint(request: Request) -> Response:
            lang = language(request)
            _ = translations(lang).gettext
            try:
                form = await _form(request)
            except BadForm as bad:
                if bad.status == 413:
                    message = _("The form is too large: shorten the reason and send it again.")
                else:
                    message = _("The form was not sent as UTF-8: nothing was written.")
                return PlainTextResponse(message, bad.status)
            refused = _refusal(form, token, _)
            return refused if refused is not None else await action(lang, _, form)

        return endpoint

    async def admin_adjust(lang: str, _: Gettext, form: dict[str, str]) -> Response:
        try:
            customer = _customer_id(form.get("customer", ""))
            points = _whole(form.get("points", ""))
        except ValueError:
            return PlainTextResponse(_("Customer and points must be whole numbers."), 400)
        if _bad_request_id(form):
            return PlainTextResponse(_("The form's request id is not valid: reload the page."), 400)
        reason = form.get("reason", "").strip()
        with session_scope(engine, readonly=True) as session:
            known = account_known(session, store_id, customer)
        try:
            if not known:  # a new customer, or a mistyped id: the store says which
                await run_in_threadpool(check_account, customer)
            with session_scope(engine) as session:
                adjust(
                    session,
                    store_id,
                    customer,
                    points,
                    reason,
                    now=datetime.now(UTC),
                    request_id=_request_id(form),
                )
        except (InvalidAdjustment, PointsOutOfRange, UnknownAccount) as error:
            return PlainTextResponse(notes.translate(str(error), _), 400)
        except ConcurrentAppend:  # the same form sent at once for another customer (a 500 before)
            message = _("This form was sent twice at once: reload the page and check the history.")
            return PlainTextResponse(message, 409)
        log.info("dashboard: adjusted customer %s by %+d points", customer, points)
        query = urlencode({"lang": lang, "customer": customer, "done": "adjusted"})
        return RedirectResponse(f"/?{query}#history", status_code=303)

    async def admin_resync(lang: str, _: Gettext, form: dict[str, str]) -> Response:
        wanted = form.get("customer", "").strip()
        try:
            customer = _customer_id(wanted) if wanted else None
        except ValueError:
            return PlainTextResponse(_("Customer and points must be whole numbers."), 400)
        runner = resync or _default_resync(config, engine)
        try:
            failure = await run_in_threadpool(runner, customer)
        except SyncAlreadyRunning:  # the worker's sync, say: it picks up the same changes
            message = _("A sync of this store is already running: try again when it has ended.")
            return PlainTextResponse(message, 409)
        except (StoreError, DatabaseUnusable) as error:  # each was a bare 500
            message = _("The resync could not run:")
            return PlainTextResponse(f"{message} {redact(str(error))}", 502)
        if failure is not None:  # a source stopped, balances not written: "finished" misled
            message = _("The resync ran but did not do everything:")
            reason = notes.translate(redact(failure), _)  # the store's own error stays as is
            return PlainTextResponse(f"{message} {reason}", 502)
        log.info("dashboard: resync of %s", f"customer {customer}" if customer else "everyone")
        return RedirectResponse(f"/?{urlencode({'lang': lang, 'done': 'resynced'})}#runs", 303)

    async def admin_redeem(lang: str, _: Gettext, form: dict[str, str]) -> Response:
        tier = form.get("tier", "").strip() or None
        try:
            customer = _customer_id(form.get("customer", ""))
            points = _whole(form["points"]) if form.get("points", "").strip() else None
        except ValueError:
            return PlainTextResponse(_("Customer and points must be whole numbers."), 400)
        if (tier is None) == (points is None):
            return PlainTextResponse(_("Give either a tier or a number of points."), 400)
        if _bad_request_id(form):
            return PlainTextResponse(_("The form's request id is not valid: reload the page."), 400)
        runner = redeem or _default_redeem(config, engine, store_id)
        done = await run_in_threadpool(runner, customer, tier, points, _request_id(form) or "")
        if done.status == DECLINED:  # in the page's language (`rules.notes`)
            return PlainTextResponse(notes.translate(done.reason, _), 400)
        if done.status == UNANSWERED:
            message = _("The store did not answer for this customer: nothing was written.")
            return PlainTextResponse(f"{message} ({done.reason})", 502)
        if done.status == "refused":
            message = _("The store refused the coupon; the points were returned.")
            return PlainTextResponse(f"{message} ({done.reason})", 502)
        log.info("dashboard: redemption for customer %s: %s", customer, done.status)
        notice = "redeemed" if done.status == "issued" else "redeem-pending"
        query = urlencode({"lang": lang, "customer": customer, "done": notice})
        return RedirectResponse(f"/?{query}#history", status_code=303)

    routes = [
        Route("/", home),
        Route("/admin/adjust", admin(admin_adjust), methods=["POST"]),
        Route("/admin/redeem", admin(admin_redeem), methods=["POST"]),
        Route("/admin/resync", admin(admin_resync), methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app: ASGIApp = Starlette(routes=routes)
    if served_on is not None:
        app = HostCheck(app, allowed_hosts(settings, served_on))
    return SecurityHeaders(app)


def _request_id(form: dict[str, str]) -> str | None:
    """The form's one-time request id (each page load draws one), or None for a form without
    one: a resubmitted form (a double click, a reload, a proxy resending a slow request) then
    asks for what it asked the first time, which is done once."""
    value = form.get("request_id", "").strip()
    return value or None


def _bad_request_id(form: dict[str, str]) -> bool:
    value = _request_id(form)
    return value is not None and REQUEST_ID.fullmatch(value) is None


def _whole(text: str) -> int:
    """A form's whole number, within what the ledger holds (ValueError otherwise)."""
    value = int(text)
    if abs(value) > MAX_BIGINT:
        raise ValueError(f"{text} is beyond what the ledger holds")
    return value


def _customer_id(text: str) -> int:
    """A form's customer id: a whole number from 1 to what the ledger holds (ValueError otherwise)."""
    value = _whole(text)
    if value < 1:
        raise ValueError(f"{text} is not a customer id")
    return value


def _default_resync(config: Config, engine: Engine) -> Resync:
    def run(customer: int | None) -> str | None:
        from loyalty.sync_settings import sync_settings
        from sync.service import run_sync  # the sync pulls in HTTP clients: only when asked

        settings = sync_settings(config)
        summary = run_sync(settings, full=customer is None, engine=engine, customer=customer)
        return None if summary.ok else summary.failure()

    return run


def _default_account_check(config: Config) -> Callable[[int], None]:
    def check(customer: int) -> None:
        # It talks to the store: its modules load only when an unknown account is adjusted.
        from loyalty.accounts import require_store_account

        require_store_account(config.require_store(), customer)

    return check


def _default_redeem(config: Config, engine: Engine, store_id: int) -> Redeem:
    def run(customer: int, tier: str | None, points: int | None, request_id: str) -> Redeemed:
        # The redemption talks to the store: its modules load only when one is asked for.
        from loyalty.redeem import redeem_once
        from sync.redemptions import RedemptionRefused
        from sync.redemptions import Request as RedemptionRequest

        asked = RedemptionRequest(
            wc_customer_id=customer,
            email="",
            tier=tier,
            points=points,
            # The customer in the key: the same form sent back for another customer (the back
            # button keeps its id) is another redemption, not the first one's replay.
            request_key=f"dashboard:{customer}:{request_id}" if request_id else "",
        )
        try:
            outcome = redeem_once(config, engine, store_id, asked)
        except (RedemptionRefused, ConfigError) as declined:
            return Redeemed(DECLINED, str(declined))
        except StoreError as error:  # its email could not be read: a bare 500 before
            return Redeemed(UNANSWERED, redact(str(error)))
        return Redeemed(outcome.status, outcome.reason or "")

    return run


def _refusal(form: dict[str, str], token: str, _: Callable[[str], str]) -> Response | None:
    if not token:
        return PlainTextResponse(_("Admin actions are off: no admin token is configured."), 403)
    given = form.get("token", "")
    if not hmac.compare_digest(given.encode(), token.encode()):
        log.warning("dashboard: an admin action was refused (wrong or missing token)")
        return PlainTextResponse(_("Refused: the admin token is wrong."), 403)
    return None


class BadForm(ValueError):
    """A posted form that cannot be read: too large, or not UTF-8 (the status to answer)."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


async def _form(request: Request) -> dict[str, str]:
    """A small urlencoded form (no multipart: nothing here uploads files). BadForm when it is
    larger than `MAX_FORM_BYTES` (413), or its bytes, as sent or percent-encoded, are not UTF-8
    (400): read with replacement characters, a reason went into the ledger's audit note
    mangled; read as empty, a form too large was answered "the admin token is wrong" (both
    found by a review, 4 Dec)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise BadForm(413)
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise BadForm(400) from None
    return {key: values[0] for key, values in fields.items()}


def _period(request: Request, notices: list[str], _: Callable[[str], str]) -> Period:
    days: list[date | None] = []
    for name in ("from", "to"):
        text = request.query_params.get(name, "").strip()
        try:
            day = date.fromisoformat(text) if text else None
        except ValueError:
            day = None
            notices.append(_("A date was not understood and is ignored."))
        if day is not None and not within_reach(day):
            day = None
            notices.append(_("A date was not understood and is ignored."))
        days.append(day)
    try:
        return Period(days[0], days[1])
    except ValueError:
        notices.append(_("The range starts after it ends; showing all time."))
        return Period()


def _customer(
    session: Any, store_id: int, request: Request, notices: list[str], _: Callable[[str], str]
) -> tuple[Customer | None, tuple[Customer, ...]]:
    """The customer searched for, or the customers the search matches when it names several (none
    is picked: each is linked by its exact email, `exact=1`)."""
    wanted = request.query_params.get("customer", "").strip()
    if not wanted:
        return None, ()
    exact = request.query_params.get("exact") == "1"
    try:
        return find_customer(session, store_id, wanted, exact=exact), ()
    except AmbiguousCustomer as ambiguous:
        notices.append(_("Several customers match that search: pick one."))
        return None, tuple(ambiguous.matches)
    except UnknownCustomer:
        notices.append(_("No customer matches that search."))
        return None, ()


def _done_notice(done: str, _: Callable[[str], str]) -> str:
    return {
        "adjusted": _("The adjustment was recorded."),
        "resynced": _("The resync has finished."),
        "redeemed": _("The coupon was created; the redemption is in the customer's history."),
        "redeem-pending": _(
            "The redemption is recorded; its coupon could not be created yet: the next sync"
            " creates it."
        ),
    }.get(done, "")


__all__ = ["SECURITY_HEADERS", "Redeemed", "create_app"]
