"""The sandbox's `hostile` fault: answers no WooCommerce gives, each as the issue saw it."""

from __future__ import annotations

import json

import pytest
import requests

from sandbox.faults import HOSTILE_BODIES, FaultConfig, FaultSpecError
from sandbox.store import SandboxStore
from tests.sandbox.conftest import WP_PASSWORD, WP_USER, ServerFactory


def test_the_hostile_spec_round_trips_and_names_a_wrong_body() -> None:
    config = FaultConfig.parse("hostile=0.5,hostile_body=nested")

    assert (config.rates(), config.hostile_body) == ({"hostile": 0.5}, "nested")
    assert FaultConfig.parse(config.to_spec()) == config
    with pytest.raises(FaultSpecError, match="'hostile_body' must be any or one of maintenance"):
        FaultConfig.parse("hostile=1,hostile_body=teapot")


def test_each_hostile_body_over_http(store: SandboxStore, make_server: ServerFactory) -> None:
    server = make_server(store)
    url = f"{server.api_url}/wc/v3/orders"
    answers = {}
    for body in HOSTILE_BODIES:
        server.set_faults(f"hostile=1,hostile_body={body}")
        answers[body] = requests.get(
            url, auth=(WP_USER, WP_PASSWORD), allow_redirects=False, timeout=30
        )

    assert answers["maintenance"].status_code == 200
    assert answers["maintenance"].json()["code"] == "rest_maintenance"
    with pytest.raises(RecursionError):
        json.loads(answers["nested"].content)
    assert isinstance(answers["object"].json(), dict)
    assert answers["html"].headers["Content-Type"].startswith("text/html")
    assert len(answers["huge"].content) > 50 * 10**6
    assert answers["redirect"].status_code == 301
    assert (
        answers["redirect"].headers["Location"] == "http://elsewhere.invalid/wp-json/wc/v3/orders"
    )
    logged = [entry.fault for entry in server.request_log.entries()]
    assert logged == ["hostile"] * len(HOSTILE_BODIES)


def test_any_draws_every_hostile_body(store: SandboxStore, make_server: ServerFactory) -> None:
    server = make_server(store, faults=FaultConfig.parse("hostile=1"), fault_seed=3)
    starts = set()
    for _ in range(60):
        response = requests.get(
            f"{server.api_url}/wc/v3/customers/1",
            auth=(WP_USER, WP_PASSWORD),
            allow_redirects=False,
            timeout=30,
        )
        starts.add((response.status_code, response.content[:3]))

    # maintenance, nested (and huge), object, html, redirect
    assert starts == {
        (200, b'{"c'),
        (200, b"[[["),
        (200, b'[{"'),
        (200, b'{"i'),
        (200, b"<!D"),
        (301, b""),
    }
