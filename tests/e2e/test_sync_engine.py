"""A sync that made its own engine closes its connections when it ends (a worker runs one sync
after another); an engine it was given (the dashboard's) stays the caller's."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine

import sync.service
from ledger.session import create_engine_for
from loyalty.config import Config
from loyalty.sync_settings import sync_settings
from sync.service import run_sync


def test_the_run_s_own_engine_is_disposed_of_a_given_one_is_not(
    config: Config, engine_for: Callable[[], Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[Engine] = []

    def make(url: str) -> Engine:
        made.append(create_engine_for(url))
        return made[-1]

    monkeypatch.setattr(sync.service, "create_engine_for", make)
    assert run_sync(sync_settings(config), full=True).ok
    (own,) = made
    assert own.pool.checkedin() == 0  # disposed: a fresh, empty pool

    given = engine_for()
    assert run_sync(sync_settings(config), engine=given).ok
    assert len(made) == 1
    assert given.pool.checkedin() > 0  # its connections are the caller's to close
