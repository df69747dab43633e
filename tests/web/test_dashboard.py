"""The dashboard app (in process, Starlette's TestClient) and the HTML file export."""

from __future__ import annotations

import html
import re
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from starlette.testclient import TestClient

from ledger.customers import guest_customer
from ledger.entries import NewEntry, append_entries
from ledger.errors import ConcurrentAppend
from ledger.kinds import SourceKind
from ledger.models import PointEntry, Store, SyncRun
from ledger.session import session_scope
from loyalty.cli import main
from loyalty.config import Config
from loyalty.web.charts import Series, columns_chart
from loyalty.web.dashboard import create_app
from loyalty.web.i18n import Formats
from rules import notes
from rules.expiry import ExpiryRules
from tests.conftest import StoreAccounts
from tests.reports.ledger_story import Story
from tests.web.conftest import TOKEN


def figure(html: str, name: str) -> str:
    found = re.search(rf'data-figure="{name}" data-value="([^"]*)"', html)
    assert found, name
    return found.group(1)


def test_the_page_shows_the_four_sections_with_the_ledgers_figures(
    config: Config, engine: Engine, story: Story
) -> None:
    client = TestClient(create_app(config, engine))

    page = client.get("/", params={"from": "2024-02-01", "to": "2024-03-15"})

    assert page.status_code == 200
    html = page.text
    for section in ("status", "sources", "top", "history", "runs", "admin"):
        assert f'<section id="{section}"' in html
    assert [figure(html, n) for n in ("opening", "earned", "revoked", "closing", "liability")] == [
        "150", "55", "30", "90", "0.90"
    ]  # fmt: skip
    assert 'data-balanced="yes"' in html
    assert '<tr data-source="purchase"><td>Purchases</td><td class="num" data-value="40">' in html
    assert '<tr data-customer="8">' in html
    assert "<script" not in html
    assert 'id="admin-off"' in html  # no token configured


def rows(html: str, table: str) -> list[tuple[str, ...]]:
    """The cells' text of each body row of the element with id `table`, tags stripped."""
    body = html.split(f'id="{table}"', 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [
        tuple(
            re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)
        )
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    ]


def test_the_life_of_a_point_shows_expiring_points_tiers_and_debt(
    config: Config, engine: Engine, story: Story
) -> None:
    warned = replace(config, expiry=ExpiryRules(enabled=True, warn_days=14))
    client = TestClient(create_app(warned, engine, today=lambda: date(2024, 4, 1)))

    html = client.get("/").text
    january = client.get("/", params={"to": "2024-01-31"}).text
    everyone = TestClient(create_app(config, engine, today=lambda: date(2024, 4, 1))).get("/").text

    # as `loyalty report expiring`: from today to today + warn_days (alice), else from today on
    assert (figure(html, "expiring_points"), figure(html, "expiring_customers")) == ("30", "1")
    assert rows(html, "expiring") == [("Apr 10, 2024", "alice@example.com", "30", "55")]
    assert (figure(everyone, "expiring_points"), figure(everyone, "expiring_customers")) == (
        "75", "2"
    )  # fmt: skip
    # tiers held at the end of the range, and the range's moves, newest first
    assert rows(html, "tiers")[:2] == [("silver", "1"), ("No tier", "1")]
    assert rows(html, "tier-moves") == [
        ("3/2/24, 10:00\u202fAM", "bob@example.com", "No tier", "silver"),
        ("2/3/24, 10:00\u202fAM", "alice@example.com", "silver", "No tier"),
        ("1/5/24, 10:00\u202fAM", "alice@example.com", "No tier", "silver"),
    ]
    assert rows(january, "tiers")[:1] == [("silver", "1")]
    assert len(rows(january, "tier-moves")) == 1
    # debt: recorded and below zero, beside the equation
    assert (figure(html, "debt_outstanding"), figure(html, "below_zero")) == ("0", "0")
    # history lists the moves as events: no points, the balance of the entry they follow
    events = re.findall(r'<tr class="event" data-event="\d+">(.*?)</tr>', html)
    assert len(events) == 3
    assert 'data-value="0">—</td><td class="num" data-value="95">95</td>' in events[0]


def test_a_date_filter_changes_the_figures(config: Config, engine: Engine, story: Story) -> None:
    client = TestClient(create_app(config, engine))

    january = client.get("/", params={"to": "2024-01-31"}).text
    everything = client.get("/").text

    assert (figure(january, "earned"), figure(january, "closing")) == ("150", "150")
    assert (figure(everything, "earned"), figure(everything, "closing")) == ("205", "100")


def test_every_response_carries_the_security_headers(
    config: Config, engine: Engine, story: Story
) -> None:
    client = TestClient(create_app(config, engine))

    for response in (client.get("/"), client.get("/static/dashboard.css")):
        assert response.status_code == 200
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp
        assert "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        assert "script-src" not in csp  # nothing may run
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"


def test_the_language_comes_from_the_query_then_the_browser(
    config: Config, engine: Engine, story: Story
) -> None:
    client = TestClient(create_app(config, engine))

    arabic = client.get("/", params={"lang": "ar"}, headers={"accept-language": "fr"}).text
    french = client.get("/", headers={"accept-language": "fr-CH, de;q=0.8"}).text

    assert '<html lang="ar" dir="rtl">' in arabic
    assert "حالة النقاط" in arabic
    assert '<html lang="fr" dir="ltr">' in french
    assert "État des points" in french


def count_entries(engine: Engine) -> int:
    with session_scope(engine) as session:
        return int(session.execute(select(func.count()).select_from(PointEntry)).scalar_one())


def test_admin_actions_are_refused_when_no_token_is_configured(
    config: Config, engine: Engine, story: Story
) -> None:
    ran = []
    client = TestClient(create_app(config, engine, resync=lambda who: ran.append(1)))
    before = count_entries(engine)

    adjust = client.post(
        "/admin/adjust", data={"customer": "7", "points": "5", "reason": "x", "token": ""}
    )
    resync = client.post("/admin/resync", data={"token": "anything"})

    assert (adjust.status_code, resync.status_code) == (403, 403)
    assert "no admin token is configured" in adjust.text
    assert (count_entries(engine), ran) == (before, [])


def test_admin_actions_need_the_right_token(
    admin_config: Config, engine: Engine, story: Story
) -> None:
    ran: list[int | None] = []
    client = TestClient(create_app(admin_config, engine, resync=lambda who: ran.append(who)))
    before = count_entries(engine)
    form = {"customer": "7", "points": "25", "reason": "goodwill: late delivery"}

    wrong = client.post("/admin/adjust", data={**form, "token": TOKEN + "x"})
    missing = client.post("/admin/resync", data={})
    assert (wrong.status_code, missing.status_code) == (403, 403)
    assert "the admin token is wrong" in wrong.text
    assert (count_entries(engine), ran) == (before, [])

    done = client.post("/admin/adjust", data={**form, "token": TOKEN}, follow_redirects=False)
    resynced = client.post("/admin/resync", data={"token": TOKEN}, follow_redirects=False)
    one = client.post(
        "/admin/resync", data={"token": TOKEN, "customer": "8"}, follow_redirects=False
    )

    assert (done.status_code, resynced.status_code, one.status_code) == (303, 303, 303)
    assert count_entries(engine) == before + 1
    assert ran == [None, 8]  # everyone, then one customer
    page = client.get(done.headers["location"]).text
    assert "The adjustment was recorded." in page
    assert 'id="history-customer">alice@example.com' in page
    assert '<td class="num" data-value="25">+25</td><td class="num" data-value="80">' in page
    assert 'id="resync-form"' in page


def test_a_customer_search_leads_to_that_customers_history_a_page_at_a_time(
    config: Config, engine: Engine, story: Story
) -> None:
    client = TestClient(create_app(config, engine))

    page = client.get("/", params={"customer": "bob@example.com"}).text
    unknown = client.get("/", params={"customer": "nobody@example.com"}).text
    forged = client.get("/", params={"cursor": "bm9wZQ"}).text

    assert re.findall(r'data-entry="\d+"', page).__len__() == 6
    assert "No customer matches that search." in unknown
    assert "That page link is not valid" in forged


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_report_html_is_one_self_contained_file(
    config_file: str, story: Story, tmp_path: Path, lang: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / f"report-{lang}.html"

    assert main(["--config", config_file, "report", "html", "--out", str(out), "--lang", lang]) == 0

    html = out.read_text()
    assert str(out) in capsys.readouterr().out
    assert f'<html lang="{lang}" dir="{"rtl" if lang == "ar" else "ltr"}">' in html
    for section in ("status", "sources", "top", "history", "life"):
        assert f'<section id="{section}"' in html
    assert html.count('<tr class="event"') == 3  # the tier moves, in history
    assert figure(html, "expiring_customers") == "0"  # the story's expiries are long past
    assert html.count("<svg") == 3  # points over time, sources, top customers
    assert "<style>" in html
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing fetched from anywhere
    assert "<script" not in html
    assert figure(html, "closing") == "100"


def test_an_account_the_ledger_does_not_know_is_asked_of_the_store_before_it_is_adjusted(
    admin_config: Config, engine: Engine, story: Story, store_accounts: StoreAccounts
) -> None:
    """A mistyped id opened an account nobody holds, which the write-back later found missing
    in the store (found by a review, 3 Dec)."""
    client = TestClient(create_app(admin_config, engine, resync=lambda who: None))
    store_accounts.missing.add(4242)
    before = count_entries(engine)
    form = {"points": "5", "reason": "goodwill", "token": TOKEN}

    mistyped = client.post("/admin/adjust", data={**form, "customer": "4242"})
    signed_up = client.post(
        "/admin/adjust", data={**form, "customer": "4343"}, follow_redirects=False
    )
    known = client.post("/admin/adjust", data={**form, "customer": "7"}, follow_redirects=False)

    assert (mistyped.status_code, signed_up.status_code, known.status_code) == (400, 303, 303)
    assert mistyped.text == (
        "customer 4242 is neither in the ledger nor in the store (it has no account with that"
        " id); nothing was adjusted: check the customer id"
    )
    assert store_accounts.asked == [[4242], [4343]]  # the ledger knows customer 7
    assert count_entries(engine) == before + 2


def test_numbers_and_days_beyond_what_the_ledger_takes_are_refused_not_a_server_error(
    admin_config: Config, engine: Engine, story: Story
) -> None:
    """Each was a 500 with a traceback in the log (found by a review, 3 Dec)."""
    client = TestClient(create_app(admin_config, engine, resync=lambda who: None))
    huge = "99999999999999999999"
    before = count_entries(engine)

    over_limit = {"customer": "7", "points": str(10**12 + 1), "reason": "x", "token": TOKEN}
    answers = [
        client.post("/admin/adjust", data=over_limit),
        client.post("/admin/adjust", data={**over_limit, "points": huge}),
        client.post("/admin/adjust", data={**over_limit, "points": "5", "customer": huge}),
        client.post("/admin/redeem", data={"customer": huge, "points": "100", "token": TOKEN}),
        client.post("/admin/resync", data={"customer": huge, "token": TOKEN}),
    ]
    far = client.get("/", params={"to": "9999-12-31", "customer": huge})

    assert [a.status_code for a in answers] == [400] * 5
    assert "points must be within" in answers[0].text
    assert count_entries(engine) == before
    assert far.status_code == 200
    assert "A date was not understood and is ignored." in far.text
    assert "No customer matches that search." in far.text


def test_chart_tooltips_and_run_statuses_are_in_the_pages_language(
    config: Config, engine: Engine, story: Story
) -> None:
    """The columns' tooltips showed raw numbers ("Gagnés: 1026"), and a run's status stayed
    "succeeded" in every language (found by a review, 3 Dec)."""
    with session_scope(engine) as session:
        store_id = session.execute(select(Store.id)).scalar_one()
        now = datetime.now(UTC)
        session.add(SyncRun(store_id=store_id, kind="sync", status="succeeded", started_at=now))
    chart = columns_chart(
        ["mars 2024"], [Series("earned", "Gagnés", [1026])], title="t", rtl=False, empty="-",
        shown=Formats("fr", "EUR").number,
    )  # fmt: skip

    page = TestClient(create_app(config, engine)).get("/", params={"lang": "fr"}).text

    assert "<title>Gagnés: 1\u202f026</title>" in chart
    assert "<td>Réussie</td>" in page


def test_the_history_shows_each_entrys_note_in_the_pages_language(
    config: Config, engine: Engine, story: Story
) -> None:
    """Notes are stored in English and shown in the admin's language (`rules.notes`), but an
    admin's own reason is shown as the admin wrote it, even when it reads like a template."""
    at = datetime(2024, 3, 25, 10, tzinfo=UTC)
    entries = [
        NewEntry(
            customer_id=story.alice, points=-5, kind=SourceKind.EXPIRY, source_ref="expiry:9",
            idempotency_key="expiry:9#1", occurred_at=at, note=notes.EXPIRED(day="2024-03-25"),
        ),
        NewEntry(
            customer_id=story.bob, points=3, kind=SourceKind.ADJUSTMENT, source_ref="adjustment:z",
            idempotency_key="adjustment:z", occurred_at=at, note="expired on 2024-03-25",
        ),
    ]  # fmt: skip
    with session_scope(engine) as session:
        append_entries(session, story.store_id, entries, now=at)
    client = TestClient(create_app(config, engine))

    french = client.get("/", params={"lang": "fr", "from": "2024-03-25", "to": "2024-03-25"})
    english = client.get("/", params={"lang": "en", "from": "2024-03-25", "to": "2024-03-25"})

    french_notes = {row[3]: row[-1] for row in rows(french.text, "history")}
    english_notes = {row[3]: row[-1] for row in rows(english.text, "history")}
    assert french_notes == {
        "expiry:9": "expirés le 2024-03-25",
        "adjustment:z": "expired on 2024-03-25",
    }
    assert english_notes == {
        "expiry:9": "expired on 2024-03-25",
        "adjustment:z": "expired on 2024-03-25",
    }


def test_a_form_sent_twice_adjusts_once(admin_config: Config, engine: Engine, story: Story) -> None:
    """A double click, a reload or a proxy resending the POST: each was another adjustment
    (found by a review, 4 Dec). The page draws a request id per load; the same id is the same
    adjustment, and the same id with other figures is refused."""
    client = TestClient(create_app(admin_config, engine, resync=lambda who: None))
    page = client.get("/").text
    [request_id] = set(re.findall(r'name="request_id" value="([A-Za-z0-9_-]{16,64})"', page))
    assert request_id not in client.get("/").text  # each load draws its own
    form = {"customer": "7", "points": "5", "reason": "goodwill", "token": TOKEN}
    before = count_entries(engine)

    first = client.post("/admin/adjust", data={**form, "request_id": request_id})
    again = client.post("/admin/adjust", data={**form, "request_id": request_id})
    other = client.post("/admin/adjust", data={**form, "points": "6", "request_id": request_id})
    bad = client.post("/admin/adjust", data={**form, "request_id": "../../etc"})

    assert (first.status_code, again.status_code) == (200, 200)  # both end on the page
    assert count_entries(engine) == before + 1
    assert (other.status_code, "already used" in other.text) == (400, True)
    assert (bad.status_code, "request id is not valid" in bad.text) == (400, True)


def test_a_guests_link_carries_its_email_encoded_and_leads_to_its_history(
    config: Config, engine: Engine, story: Story
) -> None:
    """A guest is linked by email: `+`, `&` and `#` are common in addresses and mean something in
    a query, so the link encodes them (unencoded, `ann+vip` was read as `ann vip`, and `&x` cut
    it short)."""
    email = "ann+vip&x#1@example.com"
    at = datetime(2024, 2, 20, 10, tzinfo=UTC)
    with session_scope(engine) as session:
        guest = guest_customer(session, story.store_id, email)
        session.flush()
        entry = NewEntry(
            customer_id=guest.id, points=500, kind=SourceKind.PURCHASE, source_ref="order:77",
            idempotency_key="order:77#1", occurred_at=at, note="purchase +500",
        )  # fmt: skip
        append_entries(session, story.store_id, [entry], now=at)
    client = TestClient(create_app(config, engine))

    page = client.get("/", params={"lang": "en"}).text
    links = re.findall(r'href="(\?lang=en&amp;customer=[^"]*)"', page)
    wanted = "?lang=en&amp;customer=ann%2Bvip%26x%231%40example.com#history"
    assert wanted in links
    followed = client.get(html.unescape(wanted).split("#")[0]).text

    assert "No customer matches that search." not in followed
    assert [html.unescape(row[1]) for row in rows(followed, "history")] == [email]


def test_a_range_shown_by_month_names_each_row_by_its_month(
    config: Config, engine: Engine, story: Story
) -> None:
    """Over more than two months the status rows are months: each was labelled by its first day
    ("Jan 1, 2024"), which reads as that one day."""
    client = TestClient(create_app(config, engine))

    english = client.get("/", params={"lang": "en", "from": "2024-01-01", "to": "2024-03-31"})
    french = client.get("/", params={"lang": "fr", "from": "2024-01-01", "to": "2024-03-31"})

    assert [row[0] for row in rows(english.text, "status")] == ["Jan 2024", "Feb 2024", "Mar 2024"]
    assert rows(french.text, "status")[0][0] == "janv. 2024"


def test_the_language_links_keep_the_customer_searched_for(
    config: Config, engine: Engine, story: Story
) -> None:
    page = TestClient(create_app(config, engine)).get(
        "/", params={"lang": "en", "customer": "bob@example.com"}
    )

    french = re.search(r'<a href="([^"]*)" hreflang="fr"', page.text)
    assert french is not None
    assert french.group(1) == "?lang=fr&amp;customer=8"


def test_the_same_form_sent_at_once_for_two_customers_is_a_clear_conflict(
    admin_config: Config, engine: Engine, story: Story, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second of two adjustments racing with one request id lost the race in the ledger
    (`ConcurrentAppend`, its transaction rolled back): the page answered 500."""

    def raced(*args: object, **kwargs: object) -> None:
        raise ConcurrentAppend("1 of 1 entries were recorded meanwhile by another writer")

    monkeypatch.setattr("loyalty.web.dashboard.adjust", raced)
    client = TestClient(create_app(admin_config, engine, resync=lambda who: None))
    form = {"customer": "7", "points": "5", "reason": "goodwill", "token": TOKEN}

    answer = client.post("/admin/adjust", data={**form, "request_id": "a" * 22, "lang": "fr"})

    assert answer.status_code == 409
    assert "check the history" in answer.text or "vérifiez l’historique" in answer.text
