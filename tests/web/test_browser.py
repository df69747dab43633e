"""The dashboard in a real browser: Debian's headless Chromium, driven by Selenium through Debian's
chromedriver, against a uvicorn server on a free port backed by the story ledger.

`make test` installs chromium and chromium-driver when they are missing (see the Makefile).
Screenshots of every language are saved under the test's output folder (tmp_path/screenshots).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.wait import WebDriverWait
from sqlalchemy import Engine, select

from ledger.admin import adjust
from ledger.models import Store
from ledger.session import session_scope
from loyalty.config import Config
from loyalty.web.dashboard import create_app
from loyalty.web.i18n import LANGUAGES
from tests.reports.ledger_story import Story
from tests.web.conftest import TOKEN

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(admin_config: Config, engine: Engine, story: Story) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(admin_config, engine, served_on="127.0.0.1",
                                  today=lambda: date(2024, 4, 1)),
                       host="127.0.0.1", port=port,
                       log_level="warning", lifespan="off")
    )  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    started = threading.Event()
    for _ in range(500):  # up to 10 s, polling the server's own flag
        if server.started:
            started.set()
            break
        thread.join(0.02)
    assert started.is_set(), "the dashboard did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    # Chromium's own temporary files (its singleton socket) under pytest's, not left in /tmp
    scratch = str(tmp_path_factory.mktemp("chromium"))
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,2200", "--hide-scrollbars", "--lang=en-US"):  # fmt: skip
        options.add_argument(argument)
    options.add_argument(f"--user-data-dir={scratch}/profile")
    service = Service(CHROMEDRIVER, env={**os.environ, "TMPDIR": scratch})
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def arrived(browser: WebDriver, condition: Callable[[WebDriver], Any]) -> None:
    """Wait (10 s at most) for the page a click navigated to: a click returns before it loads."""
    wait = WebDriverWait(browser, 10)
    wait.until(condition)
    wait.until(lambda d: d.execute_script("return document.readyState") == "complete")


def figure(browser: WebDriver, name: str) -> str:
    element = browser.find_element(By.CSS_SELECTOR, f'[data-figure="{name}"]')
    return str(element.get_attribute("data-value"))


@pytest.mark.slow
def test_the_dashboard_in_a_real_browser(served: str, browser: WebDriver, tmp_path: Path) -> None:
    browser.get(f"{served}/?lang=en")

    # The four sections, with the ledger's numbers.
    for section in ("status", "sources", "top", "history"):
        assert browser.find_element(By.ID, section).is_displayed()
    assert [figure(browser, n) for n in ("opening", "earned", "closing", "liability")] == [
        "0", "205", "100", "1.00"
    ]  # fmt: skip
    assert browser.find_element(By.ID, "equation").get_attribute("data-balanced") == "yes"
    purchase = browser.find_element(By.CSS_SELECTOR, '[data-source="purchase"] td:nth-child(2)')
    assert purchase.text == "190"
    top = browser.find_elements(By.CSS_SELECTOR, "#top tbody tr")
    assert [row.get_attribute("data-customer") for row in top] == ["8", "7"]
    assert len(browser.find_elements(By.CSS_SELECTOR, "#history tbody tr")) == 13 + 3
    assert len(browser.find_elements(By.CSS_SELECTOR, "#history tbody tr.event")) == 3
    assert len(browser.find_elements(By.CSS_SELECTOR, "svg.chart")) == 3

    # The life of a point: what expires from "today" (2024-04-01) on, tiers held and moved.
    assert browser.find_element(By.ID, "life").is_displayed()
    assert [figure(browser, n) for n in ("expiring_points", "expiring_customers")] == ["75", "2"]
    expiring = browser.find_elements(By.CSS_SELECTOR, "#expiring tbody tr")
    assert [row.get_attribute("data-customer") for row in expiring] == ["7", "8"]
    held = browser.find_elements(By.CSS_SELECTOR, "#tiers tbody tr[data-tier]")
    assert [(r.get_attribute("data-tier"), r.text.split()[-1]) for r in held] == [
        ("silver", "1"), ("", "1")
    ]  # fmt: skip
    assert len(browser.find_elements(By.CSS_SELECTOR, "#tier-moves tbody tr")) == 3

    # A date filter changes them.
    browser.find_element(By.ID, "to").send_keys("01/31/2024")
    browser.find_element(By.ID, "apply").click()
    arrived(browser, lambda d: "to=2024-01-31" in d.current_url)
    assert [figure(browser, n) for n in ("earned", "closing")] == ["150", "150"]

    # The customer search leads to that customer's history.
    browser.get(f"{served}/?lang=en")
    browser.find_element(By.ID, "customer").send_keys("alice@example.com")
    browser.find_element(By.ID, "search").click()
    arrived(browser, lambda d: d.find_elements(By.ID, "history-customer"))
    assert browser.find_element(By.ID, "history-customer").text == "alice@example.com"
    balances = browser.find_elements(By.CSS_SELECTOR, "#history tbody td:nth-child(6)")
    assert [cell.text for cell in balances] == ["55", "60", "80", "70", "70", "100", "100"]
    moves = browser.find_elements(By.CSS_SELECTOR, "#history tbody tr.event")
    assert [m.find_element(By.CSS_SELECTOR, "td.note").text for m in moves] == [
        "silver → No tier", "No tier → silver"
    ]  # fmt: skip

    # An admin action with a wrong token is refused.
    form = browser.find_element(By.ID, "adjust-form")
    form.find_element(By.NAME, "customer").send_keys("7")
    form.find_element(By.NAME, "points").send_keys("100")
    form.find_element(By.NAME, "reason").send_keys("from the browser test")
    form.find_element(By.NAME, "token").send_keys(TOKEN[:-1])
    form.find_element(By.CSS_SELECTOR, "button").click()
    arrived(browser, lambda d: "/admin/adjust" in d.current_url)
    assert "Refused: the admin token is wrong." in browser.find_element(By.TAG_NAME, "body").text

    # Arabic is laid out right to left; every language gets a screenshot.
    shots = tmp_path / "screenshots"
    shots.mkdir()
    for lang in LANGUAGES:
        browser.get(f"{served}/?lang={lang}&from=2024-01-01&to=2024-03-31")
        html = browser.find_element(By.TAG_NAME, "html")
        direction = browser.execute_script("return getComputedStyle(document.body).direction")
        assert (html.get_attribute("dir"), direction) == (
            ("rtl", "rtl") if lang == "ar" else ("ltr", "ltr")
        )
        assert browser.save_screenshot(str(shots / f"dashboard-{lang}.png"))
    assert sorted(p.name for p in shots.iterdir()) == [
        f"dashboard-{x}.png" for x in sorted(LANGUAGES)
    ]
    print(f"screenshots: {shots}")


SIDES = """
const node = document.querySelector('[data-figure="liability"]').firstChild;
const text = node.textContent;
const box = (i) => { const r = document.createRange(); r.setStart(node, i); r.setEnd(node, i + 1);
                     return r.getBoundingClientRect(); };
const sign = text.indexOf('-'), digit = text.search(/[0-9]/);
return [text, box(sign).left, box(digit).left];
"""


def test_a_negative_liability_keeps_its_sign_on_the_left_in_arabic(
    served: str, browser: WebDriver, engine: Engine
) -> None:
    """README: "numbers keep their sign on the left". Formats.money wraps Babel's Arabic currency
    text in an LTR isolate, but that text started with U+200F (RLM, a strong right-to-left mark),
    which pulled the minus to the right of the digits inside the isolate: "12.50-€"."""
    with session_scope(engine) as session:
        store_id = session.execute(select(Store.id)).scalar_one()
        adjust(session, store_id, 7, -1000, "debt", now=datetime.now(UTC))

    browser.get(f"{served}/?lang=ar")
    text, sign_left, digit_left = browser.execute_script(SIDES)

    assert "-" in text  # a negative liability
    assert sign_left < digit_left, f"{text!r}: the minus is drawn right of the digits"
