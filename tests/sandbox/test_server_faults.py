"""Acceptance 6: seeded faults. The mix over 10,000 requests matches the configured rates and is
the same for the same seed; over real HTTP each fault looks as a real host's failure does."""

from __future__ import annotations

import base64
import json
import math
from collections import Counter
from email.message import Message

import pytest
import requests

from sandbox.faults import FaultConfig, FaultInjector, FaultSpecError
from sandbox.generator import generate_store
from sandbox.server import Request, SandboxServer
from sandbox.store import SandboxStore
from tests.sandbox.conftest import ANCHOR, CK, CS, WP_PASSWORD, WP_USER, ServerFactory, control

MIX = "5xx=0.05,429=0.05,drop=0.03,malformed=0.03,slow=0.02,slow_ms=0,dup=0.02"
LIST = {"per_page": "2", "orderby": "modified", "order": "asc"}


def tiny_store() -> SandboxStore:
    return generate_store(seed=2, customers=5, orders=20, reviews=0, comments=0, anchor=ANCHOR)


def in_process(seed: int, spec: str = MIX) -> SandboxServer:
    """A server that is never started: requests go straight to handle(), without sockets."""
    server = SandboxServer(
        tiny_store(),
        consumer_key=CK,
        consumer_secret=CS,
        wp_username=WP_USER,
        wp_app_password=WP_PASSWORD,
    )
    server.set_faults(spec, seed=seed)
    return server


def admin_headers() -> Message:
    headers = Message()
    token = base64.b64encode(f"{WP_USER}:{WP_PASSWORD}".encode()).decode()
    headers["Authorization"] = f"Basic {token}"
    return headers


def fault_sequence(server: SandboxServer, count: int) -> list[str | None]:
    headers = admin_headers()
    request = Request("GET", "/wp-json/wc/v3/orders", LIST, headers)
    return [server.handle(request).fault for _ in range(count)]


# --- the spec ---------------------------------------------------------------------------------


def test_spec_string_sets_every_rate_and_setting() -> None:
    config = FaultConfig.parse(
        "5xx=0.1, 429=0.05,retry_after=3,drop=0.02,malformed=0.01,slow=0.05,slow_ms=20,dup=0.01"
    )
    assert config.rates() == {
        "5xx": 0.1,
        "429": 0.05,
        "drop": 0.02,
        "malformed": 0.01,
        "slow": 0.05,
        "dup": 0.01,
    }
    assert (config.retry_after_seconds, config.slow_ms) == (3, 20)
    assert FaultConfig.parse(config.to_spec()) == config
    assert not FaultConfig.parse("").enabled


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("teapot=0.1", "unknown fault 'teapot'"),
        ("5xx=lots", "fault '5xx' must be a number from 0 to 1, got 'lots'"),
        ("429=1.5", "fault rate '429' must be a number from 0 to 1, got 1.5"),
        ("5xx=0.6,429=0.6", "the fault rates add up to 1.2; at most 1 is possible"),
        ("drop", "fault spec item 'drop' needs the form key=value"),
        ("retry_after=-1", "fault setting 'retry_after' must be a whole number >= 0, got -1"),
    ],
)
def test_bad_specs_are_refused_naming_the_key(spec: str, message: str) -> None:
    with pytest.raises(FaultSpecError, match=message.replace("(", r"\(").replace(".", r"\.")):
        FaultConfig.parse(spec)


# --- the mix (in process: 10,000 requests through the whole dispatcher) -----------------------


@pytest.mark.slow
def test_fault_mix_over_10000_requests_is_within_tolerance_of_the_rates() -> None:
    requests_made = 10_000
    seen = Counter(fault_sequence(in_process(seed=1), requests_made))
    for kind, rate in FaultConfig.parse(MIX).rates().items():
        expected = requests_made * rate
        tolerance = 4 * math.sqrt(requests_made * rate * (1 - rate))  # four standard deviations
        assert abs(seen[kind] - expected) <= tolerance, (kind, seen[kind], expected)
    assert abs(seen[None] - requests_made * 0.8) <= 4 * math.sqrt(requests_made * 0.8 * 0.2)


def test_same_seed_same_faults_and_another_seed_other_faults() -> None:
    first = fault_sequence(in_process(seed=7), 2_000)
    assert first == fault_sequence(in_process(seed=7), 2_000)
    assert first != fault_sequence(in_process(seed=8), 2_000)


def test_decisions_are_drawn_in_request_order_from_the_seed() -> None:
    injector = FaultInjector(FaultConfig.parse(MIX), seed=7)
    expected = [injector.decide().kind for _ in range(500)]
    assert fault_sequence(in_process(seed=7), 500) == expected


# --- over real HTTP -----------------------------------------------------------------------------


def test_each_fault_over_http_looks_like_the_hosts_failure(
    store: SandboxStore, make_server: ServerFactory
) -> None:
    spec = "5xx=0.12,429=0.12,drop=0.1,malformed=0.1,slow=0.06,slow_ms=15,dup=0.05,retry_after=2"
    server = make_server(store, faults=FaultConfig.parse(spec), fault_seed=42)
    replay = FaultInjector(FaultConfig.parse(spec), seed=42)
    session = requests.Session()
    url = f"{server.api_url}/wc/v3/orders"
    outcomes: Counter[str] = Counter()
    for _ in range(300):
        decision = replay.decide()
        try:
            response = session.get(url, params=LIST, auth=(WP_USER, WP_PASSWORD), timeout=30)
            body = response.content
        except requests.exceptions.RequestException:
            assert decision.kind == "drop"
            outcomes["drop"] += 1
            continue
        outcomes[decision.kind or "ok"] += 1
        if decision.kind == "5xx":
            assert response.status_code == decision.status
        elif decision.kind == "429":
            assert (response.status_code, response.headers["Retry-After"]) == (429, "2")
        elif decision.kind == "malformed":
            assert response.status_code == 200
            with pytest.raises(json.JSONDecodeError):
                json.loads(body)
        else:
            assert response.status_code == 200
            assert isinstance(json.loads(body), list)
    assert set(outcomes) == {"ok", "5xx", "429", "drop", "malformed", "slow", "dup"}
    slow = [e for e in server.request_log.entries() if e.fault == "slow"]
    assert slow
    assert all(e.duration_ms >= 15 for e in slow)
    logged = Counter(e.fault for e in server.request_log.entries())
    assert logged["drop"] == outcomes["drop"]
    assert logged["429"] == outcomes["429"]


def test_a_dup_fault_makes_an_order_come_again_on_a_later_page(
    store: SandboxStore, make_server: ServerFactory
) -> None:
    server = make_server(store, faults=FaultConfig(rate_duplicate=1.0))
    seen: list[int] = []
    for page in range(1, 4):
        response = requests.get(
            f"{server.api_url}/wc/v3/orders",
            params={"orderby": "modified", "order": "asc", "per_page": 10, "page": page},
            auth=(WP_USER, WP_PASSWORD),
            timeout=30,
        )
        seen += [o["id"] for o in response.json()]
    server.set_faults(None)
    total = int(response.headers["X-WP-Total"])
    last = requests.get(
        f"{server.api_url}/wc/v3/orders",
        params={
            "orderby": "modified",
            "order": "asc",
            "per_page": 100,
            "page": 1,
            "offset": total - 3,
        },
        auth=(WP_USER, WP_PASSWORD),
        timeout=30,
    )
    repeated = set(seen) & {o["id"] for o in last.json()}
    assert repeated, "a modified order should reappear at the end of the modified walk"


def test_faults_never_touch_the_control_api(
    store: SandboxStore, make_server: ServerFactory
) -> None:
    server = make_server(store, faults=FaultConfig(rate_5xx=1.0))
    assert control(server, "GET", "/credentials").status_code == 200
    api = requests.get(f"{server.api_url}/wc/v3/orders", auth=(WP_USER, WP_PASSWORD), timeout=30)
    assert api.status_code in (500, 502, 503)


def test_faults_switch_on_and_off_at_run_time_through_the_control_api(
    server: SandboxServer,
) -> None:
    url = f"{server.api_url}/wc/v3/orders"
    assert requests.get(url, auth=(WP_USER, WP_PASSWORD), timeout=30).status_code == 200
    switched = control(server, "PUT", "/faults", {"spec": "429=1,retry_after=5", "seed": 3})
    assert switched.json()["config"]["rate_429"] == 1.0
    limited = requests.get(url, auth=(WP_USER, WP_PASSWORD), timeout=30)
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "5")
    assert control(server, "PUT", "/faults", {"5xx": 1}).json()["config"]["rate_5xx"] == 1.0
    assert control(server, "DELETE", "/faults").json()["spec"] == "retry_after=1,slow_ms=1500"
    assert requests.get(url, auth=(WP_USER, WP_PASSWORD), timeout=30).status_code == 200
    refused = control(server, "PUT", "/faults", {"spec": "5xx=2"})
    assert refused.status_code == 400
    assert "5xx" in refused.json()["message"]


def test_latency_is_added_to_every_api_answer(
    store: SandboxStore, make_server: ServerFactory
) -> None:
    server = make_server(store, latency_ms=300)  # far above any scheduling noise on a busy host
    requests.get(f"{server.api_url}/wc/v3/orders", auth=(WP_USER, WP_PASSWORD), timeout=30)
    control(server, "GET", "/credentials")
    api_entry, control_entry = server.request_log.entries()
    assert api_entry.duration_ms >= 300
    assert control_entry.duration_ms < 300
