"""Every number bounded at load, URLs that cannot be parsed, meta keys WordPress owns or hides.

Each of these passed `loyalty check` (or crashed it) and then crashed the sync or the worker.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from loyalty.cli import main
from tests.config.test_config import PRODUCT, PURCHASE, config_error, in_store, store_url

# Each row: TOML text, and the start of the message after "<file>: ".
OUT_OF_BOUNDS = [
    (in_store("timeout = 1e308"), "store.timeout: expected a number from 0.1 to 3,600, got 1e+308"),
    (in_store("timeout = 0.001"), "store.timeout: expected a number from 0.1 to 3,600, got 0.001"),
    (
        in_store("max_requests_per_second = 1e-300"),
        "store.max_requests_per_second: expected a number from 0.01 to 10,000",
    ),
    (in_store("max_retry_seconds = 1e300"), "store.max_retry_seconds: expected a number from 0 to 86,400"),
    (
        f"[sync]\noverlap_minutes = {2**63 - 1}",
        "sync.overlap_minutes: expected an integer from 0 to 10,080, got 9223372036854775807",
    ),
    (
        "[sync]\nreconcile_every_hours = 1e308",
        "sync.reconcile_every_hours: expected a number from 0 to 8,760",
    ),
    (
        "[worker]\nsync_every_minutes = 99999999",
        "worker.sync_every_minutes: expected an integer from 1 to 10,080",
    ),
    (
        PURCHASE + 'points_per_unit = "1e999999"',
        'rules.purchase.points_per_unit: expected a number from 0 to 1,000,000, got "1e999999"',
    ),
    (
        PURCHASE + 'points_per_unit = "1e-999999"',
        "rules.purchase.points_per_unit: expected a number with at most 12 decimal places",
    ),
    (
        PURCHASE + 'minimum_order_amount = "1e30"',
        "rules.purchase.minimum_order_amount: expected a number from 0 to",
    ),
    (
        PURCHASE + "max_points_per_order = 9223372036854775807",
        "rules.purchase.max_points_per_order: expected an integer from 0 to 1,000,000,000,000",
    ),
    ('[points]\npoint_value = "1e999999"', "points.point_value: expected a number from 0 to 1,000,000"),
    (
        PRODUCT + 'id = 1\nmultiplier = "1e400"',
        "rules.purchase.products[0].multiplier: expected a number from 0 to 1,000,000",
    ),
    (
        PRODUCT + "id = 1\nfixed_points = 10000000000000",
        "rules.purchase.products[0].fixed_points: expected an integer from 0 to 1,000,000,000,000",
    ),
    (
        "[rules.first_order]\npoints = 10000000000000",
        "rules.first_order.points: expected an integer from 0 to 1,000,000,000,000",
    ),
    (
        "[rules.signup]\npoints = 10000000000000",
        "rules.signup.points: expected an integer from 0 to 1,000,000,000,000",
    ),
    (
        store_url('"https://shop.example.com:99999"'),
        "store.url: expected an https:// URL such as https://shop.example.com (Port out of range",
    ),
    (
        store_url('"https://[::1"'),
        "store.url: expected an https:// URL such as https://shop.example.com (Invalid IPv6 URL)",
    ),
    (
        store_url('"https://shop.example.com:0"'),
        "store.url: expected a URL whose port is from 1 to 65535, got port 0",
    ),
    ('[database]\nurl = "[::1:5432"', "database.url: expected a SQLite or PostgreSQL URL"),
    (
        '[database]\nurl = "postgresql://u:pw1234@[::1:5432/db"',
        "database.url: expected a SQLite or PostgreSQL URL",
    ),
    (
        '[database]\nurl = "postgresql://u@db.example.com:99999/db"',
        "database.url: expected a port from 1 to 65535, got 99999",
    ),
    ('[worker]\nbroker_url = "redis://:pw@127.0.0.1:99999/0"', "worker.broker_url: expected a broker URL"),
    (
        "[worker]\ntask_time_limit_minutes = 360\nvisibility_timeout_minutes = 360",
        "worker.task_time_limit_minutes (360) must be less than worker.visibility_timeout_minutes (360)",
    ),
    ("[worker]\nlock_timeout_seconds = 0", "worker.lock_timeout_seconds: expected an integer >= 1, got 0"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "message"), OUT_OF_BOUNDS)
def test_a_number_or_url_out_of_bounds_is_refused_at_load_naming_the_key(
    tmp_path: Path, text: str, message: str
) -> None:
    error = config_error(tmp_path, text)
    assert error.startswith(f"{tmp_path / 'loyalty.toml'}: {message}"), error
    assert "pw1234" not in error


@pytest.mark.parametrize(
    "key",
    [
        *("WP_points", "my_Wp_points", "MetaBoxHidden_x", "first_name", "billing_email"),
        *("Billing_Email", "shipping_phone", "nickname", "paying_customer", "_money_spent"),
    ],
)
def test_meta_keys_wordpress_hides_or_woocommerce_owns_are_refused_whatever_their_case(
    tmp_path: Path, key: str
) -> None:
    error = config_error(tmp_path, f'[points]\nbalance_meta_key = "{key}"')
    assert error.startswith(
        f"{tmp_path / 'loyalty.toml'}: points.balance_meta_key: {key!r} is refused"
    )


@pytest.mark.parametrize(
    "line",
    [
        "timeout = 1e308",
        "max_requests_per_second = 1e-300",
        'url = "https://shop.example.com:99999"',
    ],
)
def test_loyalty_check_exits_2_with_one_line_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str
) -> None:
    text = in_store(line) if not line.startswith("url") else store_url(line.split(" = ")[1])
    path = tmp_path / "loyalty.toml"
    path.write_text(text, encoding="utf-8")

    assert main(["--config", str(path), "check"]) == 2

    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert f"{path}: store." in err
    assert "internal error" not in err


def test_loyalty_check_refuses_an_unparsable_database_url_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "loyalty.toml"
    path.write_text('[database]\nurl = "postgresql://u:pw1234@[::1:5432/db"\n', encoding="utf-8")

    assert main(["--config", str(path), "check"]) == 2

    err = capsys.readouterr().err
    assert err.startswith(f"loyalty: error: {path}: database.url: expected a SQLite or PostgreSQL")
    assert len(err.splitlines()) == 1
    assert "pw1234" not in err
