"""The dashboard's redemption: an admin action like the others (token, constant-time compare, off
without a token), made the way `loyalty redeem` makes it."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from loyalty.config import Config
from loyalty.web.dashboard import Redeemed, create_app
from rules.redemption import RedemptionRules, RedemptionTier
from tests.reports.ledger_story import Story
from tests.web.conftest import TOKEN

REDEEMABLE = RedemptionRules(tiers=(RedemptionTier("five", 50, Decimal("5.00")),))


class Runner:
    """Stands in for `loyalty.redeem.redeem_once` (which talks to the store)."""

    def __init__(self, answer: Redeemed) -> None:
        self.answer = answer
        self.asked: list[tuple[int, str | None, int | None]] = []
        self.request_ids: list[str] = []

    def __call__(
        self, customer: int, tier: str | None, points: int | None, request_id: str = ""
    ) -> Redeemed:
        self.asked.append((customer, tier, points))
        self.request_ids.append(request_id)
        return self.answer


def test_a_redemption_is_refused_without_a_configured_token(
    config: Config, engine: Engine, story: Story
) -> None:
    runner = Runner(Redeemed("issued"))
    client = TestClient(create_app(replace(config, redemption=REDEEMABLE), engine, redeem=runner))

    answer = client.post("/admin/redeem", data={"customer": "8", "tier": "five", "token": ""})

    assert answer.status_code == 403
    assert "no admin token is configured" in answer.text
    assert runner.asked == []
    assert 'id="redeem-form"' not in client.get("/").text


def test_a_redemption_needs_the_right_token_and_one_of_tier_or_points(
    admin_config: Config, engine: Engine, story: Story
) -> None:
    runner = Runner(Redeemed("issued"))
    app = create_app(replace(admin_config, redemption=REDEEMABLE), engine, redeem=runner)
    client = TestClient(app)

    wrong = client.post("/admin/redeem", data={"customer": "8", "tier": "five", "token": "x"})
    missing = client.post("/admin/redeem", data={"customer": "8", "tier": "five"})
    both = client.post(
        "/admin/redeem", data={"customer": "8", "tier": "five", "points": "50", "token": TOKEN}
    )
    neither = client.post("/admin/redeem", data={"customer": "8", "token": TOKEN})
    not_a_number = client.post(
        "/admin/redeem", data={"customer": "bob", "points": "50", "token": TOKEN}
    )

    assert [r.status_code for r in (wrong, missing, both, neither, not_a_number)] == [
        403, 403, 400, 400, 400
    ]  # fmt: skip
    assert "the admin token is wrong" in wrong.text
    assert "Give either a tier or a number of points." in both.text
    assert runner.asked == []

    by_tier = client.post(
        "/admin/redeem", data={"customer": "8", "tier": "five", "token": TOKEN},
        follow_redirects=False,
    )  # fmt: skip
    by_points = client.post(
        "/admin/redeem", data={"customer": "7", "points": "40", "token": TOKEN},
        follow_redirects=False,
    )  # fmt: skip

    assert (by_tier.status_code, by_points.status_code) == (303, 303)
    assert runner.asked == [(8, "five", None), (7, None, 40)]
    page = client.get(by_tier.headers["location"]).text
    assert "The coupon was created; the redemption is in the customer&#39;s history." in page
    assert 'id="history-customer">bob@example.com' in page
    assert 'id="redeem-form"' in page


@pytest.mark.parametrize(
    ("answer", "status", "says"),
    [
        (Redeemed("declined", "customer 8 has 45 points, 50 are needed"), 400, "45 points"),
        (Redeemed("refused", "coupon code taken"), 502, "The store refused the coupon"),
    ],
)
def test_a_redemption_that_cannot_be_made_says_why(
    admin_config: Config, engine: Engine, story: Story, answer: Redeemed, status: int, says: str
) -> None:
    client = TestClient(create_app(admin_config, engine, redeem=Runner(answer)))

    response = client.post("/admin/redeem", data={"customer": "8", "points": "50", "token": TOKEN})

    assert response.status_code == status
    assert says in response.text


def test_a_pending_redemption_says_the_next_sync_creates_its_coupon(
    admin_config: Config, engine: Engine, story: Story
) -> None:
    client = TestClient(create_app(admin_config, engine, redeem=Runner(Redeemed("pending"))))

    done = client.post("/admin/redeem", data={"customer": "8", "points": "50", "token": TOKEN})

    assert "the next sync creates it" in done.text


def test_with_redemption_off_the_real_path_declines_before_asking_the_store(
    admin_config: Config, engine: Engine, story: Story
) -> None:
    client = TestClient(create_app(admin_config, engine))  # the default: loyalty.redeem

    response = client.post("/admin/redeem", data={"customer": "8", "points": "50", "token": TOKEN})

    assert response.status_code == 400
    assert "nothing is redeemable" in response.text
    assert 'id="redeem-form"' not in client.get("/").text
