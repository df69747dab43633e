"""The dashboard's HTTP surface at its edges: a foreign Host, a sync already running, a store
that will not answer, a form too large or not UTF-8 (found by a review, 4 Dec)."""

from __future__ import annotations

import logging
from dataclasses import replace
from decimal import Decimal

import pytest
import responses
from sqlalchemy import Engine, select
from starlette.testclient import TestClient

from ledger.models import PointEntry, Redemption
from ledger.session import session_scope
from ledger.sync_lock import hold_sync_lock
from loyalty.config import Config
from loyalty.web.dashboard import DECLINED, Redeemed, create_app
from rules import notes
from rules.redemption import RedemptionRules, RedemptionTier
from tests.conftest import TEST_STORE_URL
from tests.reports.ledger_story import Story
from tests.web.conftest import TOKEN


def test_a_page_asked_for_under_a_foreign_host_name_is_refused(
    config: Config, engine: Engine, story: Story
) -> None:
    """DNS rebinding: a page the admin visits rebinds its own name to 127.0.0.1 and reads the
    loopback dashboard, same-origin. The app answered any Host, so every customer's email and
    balance (no token needed to read) went to that site."""
    app = create_app(config, engine, served_on="127.0.0.1")
    client = TestClient(app, base_url="http://127.0.0.1:8788")
    assert client.get("/").status_code == 200  # the address it is served on

    rebound = client.get("/", headers={"host": "attacker.example:8788"})

    assert "alice@example.com" not in rebound.text
    assert rebound.status_code == 400
    assert "[dashboard] allowed_hosts" in rebound.text
    assert rebound.headers["x-frame-options"] == "DENY"  # the security headers still


@pytest.mark.parametrize(
    ("host", "answered"),
    [
        ("127.0.0.1", 200),
        ("localhost:8788", 200),
        ("LOCALHOST", 200),
        ("[::1]:8788", 200),
        ("loyalty.example.com", 200),  # [dashboard] allowed_hosts
        ("loyalty.example.com.attacker.example", 400),
        ("", 400),
        ("127.0.0.1.nip.io:8788", 400),
    ],
)
def test_the_names_a_dashboard_answers_to(
    config: Config, engine: Engine, story: Story, host: str, answered: int
) -> None:
    proxied = replace(
        config, dashboard=replace(config.dashboard, allowed_hosts=("loyalty.example.com",))
    )
    client = TestClient(create_app(proxied, engine, served_on="127.0.0.1"))
    assert client.get("/", headers={"host": host}).status_code == answered


def test_a_dashboard_listening_everywhere_answers_to_loopback_and_the_names_allowed(
    config: Config, engine: Engine, story: Story
) -> None:
    client = TestClient(create_app(config, engine, served_on="0.0.0.0"))  # noqa: S104
    assert client.get("/", headers={"host": "127.0.0.1:8788"}).status_code == 200
    assert client.get("/", headers={"host": "0.0.0.0:8788"}).status_code == 400
    assert client.get("/", headers={"host": "192.168.1.5:8788"}).status_code == 400


def test_a_resync_while_another_sync_runs_says_so_instead_of_a_server_error(
    admin_config: Config, engine: Engine, story: Story
) -> None:
    """The worker's scheduled sync holds the store's lock: run_sync raises SyncAlreadyRunning,
    which admin_resync did not catch (nor StoreError, DatabaseUnusable): a bare 500."""
    client = TestClient(create_app(admin_config, engine), raise_server_exceptions=False)

    with hold_sync_lock(engine, admin_config.require_store().key):
        answer = client.post("/admin/resync", data={"token": TOKEN}, follow_redirects=False)

    assert (answer.status_code, answer.text) == (
        409,
        "A sync of this store is already running: try again when it has ended.",
    )


@responses.activate
def test_a_redemption_the_store_will_not_answer_for_says_why_instead_of_a_server_error(
    admin_config: Config, engine: Engine, story: Story
) -> None:
    """redeem_once asks the store for the customer's email; a 401/403 (key without the right
    permission, revoked key) raised StoreRejected, which neither _default_redeem nor
    admin_redeem caught: a bare 500 where the README promises the store's refusal is said."""
    responses.add(
        responses.GET,
        f"{TEST_STORE_URL}/wp-json/wc/v3/customers/7",
        json={"code": "woocommerce_rest_cannot_view", "message": "Sorry, you cannot view."},
        status=403,
    )
    redeemable = RedemptionRules(tiers=(RedemptionTier("five", 50, Decimal("5.00")),))
    app = create_app(replace(admin_config, redemption=redeemable), engine)
    client = TestClient(app, raise_server_exceptions=False)

    answer = client.post(
        "/admin/redeem",
        data={"customer": "7", "tier": "five", "token": TOKEN},
        follow_redirects=False,
    )

    assert answer.status_code == 502, answer.text
    assert answer.text.startswith(
        "The store did not answer for this customer: nothing was written."
    )


def test_a_form_too_large_is_not_called_a_wrong_token(
    admin_config: Config, engine: Engine, story: Story, caplog: pytest.LogCaptureFixture
) -> None:
    """_form answered {} for a body over MAX_FORM_BYTES, so the right token was reported wrong
    (403) and the log recorded a wrong-token attempt; the body was too large (413)."""
    client = TestClient(create_app(admin_config, engine))
    form = {"customer": "7", "points": "5", "reason": "x" * 9000, "token": TOKEN}

    with caplog.at_level(logging.WARNING, logger="loyalty.dashboard"):
        answer = client.post("/admin/adjust", data=form)

    assert "token is wrong" not in answer.text
    assert "wrong or missing token" not in caplog.text
    assert answer.status_code == 413


def test_a_reason_that_is_not_utf8_is_refused_not_stored_mangled(
    admin_config: Config, engine: Engine, story: Story
) -> None:
    """_form decoded with errors="replace" (and parse_qs percent-decodes with "replace"): bytes
    that are not UTF-8 became U+FFFD in the ledger's audit note, with a 303 "recorded"."""
    client = TestClient(create_app(admin_config, engine))
    body = f"customer=7&points=5&token={TOKEN}&reason=goodwill%20caf%E9"  # Latin-1 é

    answer = client.post(
        "/admin/adjust",
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )

    with session_scope(engine) as session:
        notes = session.execute(select(PointEntry.note)).scalars().all()
    assert not any("\ufffd" in (n or "") for n in notes)
    assert answer.status_code == 400


@pytest.mark.parametrize(
    ("lang", "said"),
    [
        ("fr", "le motif est obligatoire : dites pourquoi les points sont ajustés"),
        ("en", "reason is required: say why the points are adjusted"),
    ],
)
def test_an_adjustment_refused_is_said_in_the_pages_language(
    admin_config: Config, engine: Engine, story: Story, lang: str, said: str
) -> None:
    """The ledger's refusals (`rules.notes` templates) were shown in English on every page."""
    client = TestClient(create_app(admin_config, engine))
    form = {"customer": "7", "points": "5", "reason": " ", "token": TOKEN}

    answer = client.post(f"/admin/adjust?lang={lang}", data=form)

    assert (answer.status_code, answer.text) == (400, said)


def test_a_redemption_declined_is_said_in_the_pages_language(
    admin_config: Config, engine: Engine, story: Story
) -> None:
    reason = "the 10-off tier needs 1000 points, the balance is 999: 1 point missing"
    app = create_app(
        replace(
            admin_config,
            redemption=RedemptionRules(tiers=(RedemptionTier("10-off", 1000, Decimal(10)),)),
        ),
        engine,
        redeem=lambda *_: Redeemed(DECLINED, reason),
    )
    client = TestClient(app)
    form = {"customer": "7", "tier": "10-off", "token": TOKEN}

    answer = client.post("/admin/redeem?lang=de", data=form)

    assert (answer.status_code, answer.text) == (
        400,
        "Die Stufe 10-off braucht 1000 Punkte, der Saldo ist 999: 1 Punkt fehlt",
    )


def test_a_resync_that_did_not_do_everything_says_so(
    admin_config: Config, engine: Engine, story: Story
) -> None:
    """A run whose source stopped (or whose balances could not be written) was announced as
    "The resync has finished." (the summary it returned was thrown away)."""
    stopped = "orders: the listing stopped: page 3 answered 500 five times"
    client = TestClient(create_app(admin_config, engine, resync=lambda who: stopped))

    answer = client.post("/admin/resync?lang=fr", data={"token": TOKEN}, follow_redirects=False)

    assert answer.status_code == 502
    assert answer.text.endswith(stopped)
    assert not answer.text.startswith("The resync")  # said in the page's language


@pytest.mark.parametrize(
    ("failure", "said"),
    [
        (
            notes.BALANCES_NOT_WRITTEN(count=3),
            "3 solde(s) client n’ont pas pu être écrits dans la boutique",
        ),
        (
            notes.LISTING_STOPPED(endpoint="orders", error="GET orders?page=3: answered 500"),
            "la liste orders s’est arrêtée : GET orders?page=3: answered 500 ;",
        ),
        (notes.SOURCES_STOPPED(sources="orders, comments"), "arrêté : orders, comments"),
    ],
)
def test_why_a_resync_did_not_do_everything_is_said_in_the_pages_language(
    admin_config: Config, engine: Engine, story: Story, failure: str, said: str
) -> None:
    """From a review (4 Dec): the reason came in English after the translated sentence. The
    store's own error inside it stays as the client wrote it."""
    client = TestClient(create_app(admin_config, engine, resync=lambda who: failure))

    answer = client.post("/admin/resync?lang=fr", data={"token": TOKEN}, follow_redirects=False)

    assert answer.status_code == 502
    assert said in answer.text
    assert failure not in answer.text


@pytest.mark.parametrize("email", ["alice\x00@example.com", "a" * 400 + "@example.com"])
@responses.activate
def test_a_redemption_for_a_store_email_the_ledger_cannot_hold_is_declined_not_a_server_error(
    admin_config: Config, engine: Engine, story: Story, email: str
) -> None:
    """The store's answer for the customer (a hostile or broken store: a NUL in the email, 400
    characters) was written into the redemption's row: PostgreSQL refused it (DataError), a
    bare 500, and `loyalty redeem` an internal error. No coupon can be restricted to it."""
    responses.add(
        responses.GET,
        f"{TEST_STORE_URL}/wp-json/wc/v3/customers/7",
        json={"id": 7, "email": email},
    )
    redeemable = RedemptionRules(tiers=(RedemptionTier("five", 50, Decimal("5.00")),))
    client = TestClient(
        create_app(replace(admin_config, redemption=redeemable), engine),
        raise_server_exceptions=False,
    )

    answer = client.post(
        "/admin/redeem",
        data={"customer": "7", "tier": "five", "token": TOKEN},
        follow_redirects=False,
    )

    assert (answer.status_code, answer.text) == (
        400,
        notes.REFUSED_NO_STORE_EMAIL(customer=7),
    )
    with session_scope(engine) as session:
        assert session.execute(select(Redemption)).all() == []  # nothing written
