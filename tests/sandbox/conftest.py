"""Fixtures for the sandbox server tests: generated stores and servers on free ports.

Servers bind 127.0.0.1 port 0 (a free port chosen by the OS) and are stopped at teardown. A store
generated once per module is shared by read-only tests; tests that write get a fresh one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from woocommerce import API

from sandbox.generator import generate_store
from sandbox.server import SandboxServer
from sandbox.store import SandboxStore

CK = "ck_" + "1" * 40
CS = "cs_" + "2" * 40
READ_ONLY_CK = "ck_" + "3" * 40
READ_ONLY_CS = "cs_" + "4" * 40
WP_USER = "sandbox-admin"
WP_PASSWORD = "abcd EFGH ijkl MNOP qrst UVWX"
ANCHOR = datetime(2025, 6, 1, tzinfo=UTC)

ServerFactory = Callable[..., SandboxServer]


def small_store(seed: int = 11) -> SandboxStore:
    """A small generated shop (fast to build), the same for the same seed."""
    return generate_store(
        seed=seed, customers=30, orders=120, reviews=30, comments=25, anchor=ANCHOR
    )


@pytest.fixture
def store() -> SandboxStore:
    """A fresh small shop for a test that changes it."""
    return small_store()


@pytest.fixture(scope="module")
def shared_store() -> SandboxStore:
    """A small shop shared by a module's read-only tests."""
    return small_store()


@pytest.fixture
def make_server() -> Iterator[ServerFactory]:
    """Start servers for a store (defaults: the test credentials, plain HTTP); all stopped after."""
    started: list[SandboxServer] = []

    def make(store: SandboxStore, **options: Any) -> SandboxServer:
        settings: dict[str, Any] = {
            "consumer_key": CK,
            "consumer_secret": CS,
            "read_only_keys": [(READ_ONLY_CK, READ_ONLY_CS)],
            "wp_username": WP_USER,
            "wp_app_password": WP_PASSWORD,
        }
        server = SandboxServer(store, **{**settings, **options})
        started.append(server)
        return server.start()

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def server(store: SandboxStore, make_server: ServerFactory) -> SandboxServer:
    """A plain-HTTP server over a fresh store."""
    return make_server(store)


@pytest.fixture(scope="module")
def shared_server(shared_store: SandboxStore) -> Iterator[SandboxServer]:
    """A plain-HTTP server over the module's shared store."""
    server = SandboxServer(
        shared_store,
        consumer_key=CK,
        consumer_secret=CS,
        read_only_keys=[(READ_ONLY_CK, READ_ONLY_CS)],
        wp_username=WP_USER,
        wp_app_password=WP_PASSWORD,
    ).start()
    yield server
    server.stop()


def woo(server: SandboxServer, **options: Any) -> API:
    """The official client for a server (OAuth 1.0a over http, Basic over https)."""
    settings: dict[str, Any] = {"consumer_key": CK, "consumer_secret": CS, "timeout": 30}
    if server.ca_bundle:
        settings["verify_ssl"] = server.ca_bundle
    return API(url=server.base_url, **{**settings, **options})


def control(server: SandboxServer, method: str, route: str, body: Any = None) -> requests.Response:
    """Call the control API (`route` after /sandbox)."""
    return requests.request(method, f"{server.base_url}/sandbox{route}", json=body, timeout=30)


def wp(
    server: SandboxServer, route: str, *, moderator: bool = False, **params: Any
) -> requests.Response:
    """GET a wp/v2 route, as the moderator (Application Password) or anonymously."""
    auth = (WP_USER, WP_PASSWORD) if moderator else None
    verify: bool | str = server.ca_bundle or True
    return requests.get(
        f"{server.api_url}/wp/v2/{route}", params=params, auth=auth, timeout=30, verify=verify
    )
