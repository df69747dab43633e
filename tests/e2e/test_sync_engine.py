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
from sync.client import StoreClient
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


def test_a_run_fixes_the_allocator_and_closes_its_clients_connections_at_its_end(
    config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    fixed: list[bool] = []
    monkeypatch.setattr(sync.service, "give_back_freed_memory", lambda: fixed.append(True) or True)
    closed: list[StoreClient] = []
    close = StoreClient.close

    def closing(client: StoreClient) -> None:
        closed.append(client)
        close(client)

    monkeypatch.setattr(StoreClient, "close", closing)
    assert run_sync(sync_settings(config), full=True).ok
    assert fixed == [True]
    assert closed  # the run's own client (and any a source made), with its idle connections
    assert all(not client._transport._sessions._idle for client in closed)
