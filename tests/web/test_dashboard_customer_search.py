"""The dashboard's customer search: an email with invisible characters found by the email as
seen, and emails that read alike listed, each linked exactly (tests/reports/test_customer_search.py
has the search itself)."""

from __future__ import annotations

import html
import re

from sqlalchemy import Engine
from starlette.testclient import TestClient

from ledger.session import session_scope
from loyalty.config import Config
from loyalty.web.dashboard import create_app
from tests.reports.test_customer_search import RLM, guest


def _history_entries(page: str) -> list[str]:
    return re.findall(r'<tr data-entry="\d+">.*?<td class="num" data-value="(-?\d+)"', page)


def test_the_dashboard_finds_a_guest_by_the_email_without_its_right_to_left_mark(
    config: Config, engine: Engine
) -> None:
    with session_scope(engine) as session:
        guest(session, f"ann{RLM}@example.com", 500, 1)
    client = TestClient(create_app(config, engine))

    page = client.get("/", params={"lang": "en", "customer": "ann@example.com"}).text

    assert "No customer matches that search." not in page
    assert _history_entries(page) == ["500"]
    assert 'id="matches"' not in page


def test_the_dashboard_lists_emails_that_read_alike_and_links_each_exactly(
    config: Config, engine: Engine
) -> None:
    with session_scope(engine) as session:
        guest(session, "ann@example.com", 500, 1)
        guest(session, f"ann{RLM}@example.com", 300, 2)
    client = TestClient(create_app(config, engine))

    page = client.get("/", params={"lang": "fr", "customer": "ann@example.com"}).text

    assert "Plusieurs clients correspondent à cette recherche" in page
    matches = re.search(r'<ul id="matches">(.*?)</ul>', page, re.S)
    assert matches is not None
    assert "ann&lt;U+200F&gt;@example.com" in matches.group(1)  # the mark made visible
    links = [html.unescape(h) for h in re.findall(r'<a href="([^"]*)"', matches.group(1))]
    assert links == [
        "?lang=fr&customer=ann%40example.com&exact=1#history",
        "?lang=fr&customer=ann%E2%80%8F%40example.com&exact=1#history",
    ]
    shown = [_history_entries(client.get(link.split("#")[0]).text) for link in links]
    assert shown == [["500"], ["300"]]

    chosen = client.get(links[1].split("#")[0]).text  # its language links keep it exactly
    german = re.search(r'<a href="([^"]*)" hreflang="de"', chosen)
    assert german is not None
    assert _history_entries(client.get(html.unescape(german.group(1))).text) == ["300"]
