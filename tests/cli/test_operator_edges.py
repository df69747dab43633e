"""Operator-facing edges a review found broken (4 Dec): each bad value or argument is a clear error
naming it, never a traceback or "internal error"."""

from __future__ import annotations

from pathlib import Path

import pytest

from loyalty.cli import main
from tests.cli.test_cli import ledger_config
from tests.conftest import StoreAccounts


@pytest.fixture(autouse=True)
def no_ambient_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in (
        "LOYALTY_CONFIG",
        "LOYALTY_DATABASE_URL",
        "LOYALTY_STORE_CONSUMER_KEY",
        "LOYALTY_STORE_CONSUMER_SECRET",
        "LOYALTY_WORDPRESS_APP_PASSWORD",
        "LOYALTY_DASHBOARD_ADMIN_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)


# --- CLI arguments ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["--signups", "--recalculate"])
def test_resync_since_with_an_offset_before_year_one_is_a_usage_error_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mode: str
) -> None:
    # 0001-01-01T00:00+01:00 is 0000-12-31T23:00Z: astimezone(UTC) raises OverflowError, which
    # argparse does not turn into a usage error, so it escapes main() as a raw traceback.
    config = ledger_config(tmp_path, f"sqlite:///{tmp_path / 'l.db'}")
    argv = ["--config", config, "resync", mode, "--since", "0001-01-01T00:00:00+01:00"]

    assert main(argv) == 2

    err = capsys.readouterr().err
    assert "--since" in err
    assert "internal error" not in err


def test_adjust_reason_with_nul_is_refused_as_usage_on_every_database(
    db_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    store_accounts: StoreAccounts,
) -> None:
    config = ledger_config(tmp_path, db_url)
    argv = ["--config", config, "adjust", "--customer", "5", "--points", "10"]

    code = main([*argv, "--reason", "goodwill\x00late"])

    err = capsys.readouterr().err
    assert code == 2, err
    assert "--reason" in err


# --- config values ------------------------------------------------------------------------------

STORE = """
[store]
url = "https://shop.example.com"
consumer_key = "ck_review_key_value"
consumer_secret = "cs_review_secret_value"
"""


def check(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    path = tmp_path / "loyalty.toml"
    path.write_text(text, encoding="utf-8")
    code = main(["--config", str(path), "check"])
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (STORE + "timeout = " + "9" * 400 + "\n", "store.timeout"),
        (STORE + "max_requests_per_second = " + "9" * 400 + "\n", "store.max_requests_per_second"),
        ("[sync]\nreconcile_every_hours = " + "9" * 400 + "\n", "sync.reconcile_every_hours"),
    ],
)
def test_an_integer_too_big_for_a_float_in_a_number_key_is_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, key: str
) -> None:
    # Table.number calls math.isfinite() on the int: OverflowError, "internal error" exit 1.
    code, err = check(tmp_path, text, capsys)

    assert code == 2, err
    assert key in err
    assert "internal error" not in err


@pytest.mark.parametrize("amount", ['"1e30"', '"1e999999"', '"12345678901234567890123456789"'])
def test_a_huge_redemption_tier_amount_is_a_config_error_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], amount: str
) -> None:
    # _tiers() gives amount no limit; quantize(Decimal("0.01")) raises InvalidOperation.
    text = f'[redemption]\ntiers = [{{ name = "big", points = 1000, amount = {amount} }}]\n'

    code, err = check(tmp_path, text, capsys)

    assert code == 2, err
    assert "redemption.tiers[0].amount" in err


def test_verify_tls_naming_an_unknown_users_home_is_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Path.expanduser() raises RuntimeError for "~nosuchuser/...": "internal error", exit 1.
    code, err = check(tmp_path, STORE + 'verify_tls = "~no_such_user_zz9/ca.pem"\n', capsys)

    assert code == 2, err
    assert "store.verify_tls" in err


@pytest.mark.parametrize(
    "url",
    [
        '"https://shop exa mple.com"',
        '"https://shop.example.com\\u0000x"',
        '"https://shop\\u0007.example.com"',
    ],
)
def test_a_store_url_whose_host_is_not_a_host_name_is_refused_at_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str
) -> None:
    # Accepted by `loyalty check` (and used as the ledger key "shop exa mple.com"); every sync
    # then fails with "request failed: InvalidURL", exit 1.
    text = STORE.replace('"https://shop.example.com"', url)

    code, err = check(tmp_path, text, capsys)

    assert code == 2, err
    assert "store.url" in err


@pytest.mark.parametrize("broker", ["amqp://guest@localhost//", "sqs://", "foo://bar"])
def test_a_broker_the_store_lock_cannot_use_is_refused_at_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], broker: str
) -> None:
    # worker.store_lock() opens redis.Redis.from_url(broker_url): with any other scheme every
    # sync task fails with "ValueError: Redis URL must specify one of the following schemes",
    # though `loyalty check` and the worker's start accept the config.
    code, err = check(tmp_path, STORE + f'[worker]\nbroker_url = "{broker}"\n', capsys)

    assert code == 2, err
    assert "worker.broker_url" in err


@pytest.mark.parametrize("key", ["consumer_key", "consumer_secret"])
def test_a_blank_required_secret_in_the_file_is_refused_like_an_empty_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str
) -> None:
    # "" is refused ("required"), "   " is taken as a key and sent to the store; the same blank
    # value in the environment is stripped and ignored.
    value = "ck_review_key_value" if key == "consumer_key" else "cs_review_secret_value"
    code, err = check(tmp_path, STORE.replace(f'"{value}"', '"   "'), capsys)

    assert code == 2, err
    assert f"store.{key}" in err


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["report", "html", "--out", "report\x00.html"], "--out"),
        (["dashboard", "--host", "127.0.0.1\x00evil", "--port", "1"], "--host"),
        # Not an address: "cannot listen on https://...: Name or service not known (another
        # dashboard running? --port picks another)", exit 1.
        (["dashboard", "--host", "https://loyalty.example.com", "--port", "1"], "--host"),
    ],
)
def test_a_nul_in_a_path_or_host_option_is_a_usage_error(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], option: str
) -> None:
    # ValueError "embedded null byte" / TypeError "host name must not contain null character":
    # only OSError is caught, so both end as "internal error", exit 1.
    config = ledger_config(tmp_path, db_url)

    code = main(["--config", config, *argv])

    err = capsys.readouterr().err
    assert code == 2, err
    assert option in err
