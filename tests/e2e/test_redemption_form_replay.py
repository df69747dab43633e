"""Found by a review (4 Dec): the dashboard's redemption form sent twice with its one-time request id (a double click,
a reload, a proxy resending a slow request) is refused as unaffordable the second time, instead of
being answered as the same redemption (README: "the same id is the same adjustment or
redemption"). `loyalty.redeem._redeem` quotes against the balance *before* the request key is
looked up, and the first send already spent the points."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from sqlalchemy import Engine, func, select
from starlette.testclient import TestClient

from ledger.models import Redemption
from ledger.session import session_scope
from loyalty.config import Config, DashboardConfig
from loyalty.secret import Secret
from loyalty.web.dashboard import create_app
from sandbox.store import SandboxStore
from tests.e2e.test_redemption import TIERS, alice, give, store  # noqa: F401

TOKEN = "t0ken-for-the-dashboard-tests"


def test_a_redemption_form_sent_twice_is_the_same_redemption(
    config: Config,
    engine_for: Callable[[], Engine],
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
) -> None:
    cfg = replace(config, redemption=TIERS, dashboard=DashboardConfig(admin_token=Secret(TOKEN)))
    engine = engine_for()
    give(cfg, engine, alice, 1000)
    client = TestClient(create_app(cfg, engine))
    form = {"customer": str(alice), "tier": "10-off", "token": TOKEN, "request_id": "a" * 22}

    first = client.post("/admin/redeem", data=form, follow_redirects=False)
    again = client.post("/admin/redeem", data=form, follow_redirects=False)  # a double click

    with session_scope(engine) as session:
        assert session.execute(select(func.count()).select_from(Redemption)).scalar_one() == 1
    assert first.status_code == 303
    # expected: the same redemption, answered as done (303); observed: 400, "too few points"
    assert (again.status_code, again.text) == (303, ""), again.text
