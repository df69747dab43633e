"""A store that echoes the request's credentials in its errors: nothing stored keeps them.

Over https the sync sends the key and secret as HTTP Basic credentials. This store quotes them back
(raw and as `Basic <base64>`) in the per-item errors of the meta write-back and in the error of a
listing it refuses; `meta_writes.last_error`, `sync_runs.summary` and quarantined items must hold
them redacted, exactly as the logs would show them.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import Engine, select

from ledger.models import MetaWrite, QuarantinedItem, SyncRun
from ledger.session import session_scope
from loyalty.config import Config, DatabaseConfig
from loyalty.errors import StoreRejected
from loyalty.log import redact
from loyalty.sync_settings import sync_settings
from sandbox.messages import Request, Response
from sandbox.server import SandboxServer
from sandbox.store import SandboxStore
from sync.service import run_sync
from tests.e2e.conftest import CONSUMER_KEY, CONSUMER_SECRET, store_config

BASIC = "Basic " + base64.b64encode(f"{CONSUMER_KEY}:{CONSUMER_SECRET}".encode()).decode()
SECRETS = (CONSUMER_KEY, CONSUMER_SECRET, BASIC.split()[1])


class EchoingStore(SandboxServer):
    """A sandbox whose errors quote the caller's credentials, as some broken plugins do."""

    refuse_refunds = False

    def handle(self, request: Request) -> Response:
        auth = request.headers.get("Authorization", "")
        user, _, password = base64.b64decode(auth.split()[-1]).decode().partition(":")
        echo = f"request by {user} with password {password} ({auth}) refused"
        if request.path.endswith("/refunds") and self.refuse_refunds:
            return Response.json(400, {"code": "rest_invalid_param", "message": echo})
        if request.path.endswith("/customers/batch"):
            updates = json.loads(request.body)["update"]
            error = {"code": "rest_cannot_edit", "message": echo}
            return Response.json(
                200, {"update": [{"id": u["id"], "error": error} for u in updates]}
            )
        if request.path.endswith("/orders") and request.query.get("status") == "any":
            response = super().handle(request)
            orders = json.loads(response.body)
            if orders:
                orders[0]["total"] = echo  # an item whose broken field quotes them
            response.body = json.dumps(orders).encode()
            return response
        return super().handle(request)


@pytest.fixture
def echoing(store: SandboxStore) -> Iterator[EchoingStore]:
    server = EchoingStore(
        store,
        consumer_key=CONSUMER_KEY,
        consumer_secret=CONSUMER_SECRET,
        wp_username="editor",
        wp_app_password="abcd efgh ijkl mnop qrst uvwx",
        tls=True,
    )
    server.start()
    yield server
    server.stop()


def stored_text(engine: Engine) -> list[str]:
    """Everything the database holds that the store's words can reach."""
    with session_scope(engine, readonly=True) as session:
        texts = [w.last_error or "" for w in session.execute(select(MetaWrite)).scalars()]
        texts += [r.summary for r in session.execute(select(SyncRun)).scalars()]
        for item in session.execute(select(QuarantinedItem)).scalars():
            texts += [item.error, item.payload]
    return texts


def test_credentials_a_store_echoes_are_stored_redacted(
    echoing: EchoingStore, db_url: str, engine_for: Callable[[], Engine]
) -> None:
    config = Config(
        store=replace(store_config(echoing), url=echoing.base_url, verify_tls=echoing.ca_bundle),
        database=DatabaseConfig(url=db_url),
    )
    summary = run_sync(sync_settings(config), engine=engine_for())
    assert summary.write_failures > 0
    echoing.refuse_refunds = True
    with pytest.raises(StoreRejected):
        run_sync(sync_settings(config), full=True, engine=engine_for())

    engine = engine_for()
    texts = stored_text(engine)
    with session_scope(engine, readonly=True) as session:
        errors = [w.last_error for w in session.execute(select(MetaWrite)).scalars()]
        runs: list[dict[str, Any]] = [
            json.loads(r.summary) for r in session.execute(select(SyncRun)).scalars()
        ]
    assert errors
    assert all("refused" in (e or "") for e in errors)
    with session_scope(engine, readonly=True) as session:
        quarantined = list(session.execute(select(QuarantinedItem)).scalars())
        assert quarantined
        assert all("refused" in q.payload for q in quarantined)
    assert runs[0]["errors"]
    assert runs[1]["error"].startswith("StoreRejected: ")
    for text in texts:
        for secret in SECRETS:
            assert secret not in text
    assert errors[0] is not None
    message = errors[0].split(" ", 1)[1]
    assert redact(message) == message  # the same redaction as the logs: nothing left to mask
    assert message.endswith("request by *** with password *** (Basic ***) refused")
