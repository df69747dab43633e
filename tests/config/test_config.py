"""The config file: every key validated, errors naming file, key path and expectation."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from loyalty.config import Config, find_config_path, load_config
from loyalty.errors import ConfigError
from loyalty.log import redact
from rules.debt import DebtPolicy
from rules.types import ItemOverride, Rounding

REPO = Path(__file__).resolve().parents[2]
STORE = """
[store]
url = "https://shop.example.com"
consumer_key = "ck_test_key_value"
consumer_secret = "cs_test_secret_value"
"""


def load_text(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> Config:
    path = tmp_path / "loyalty.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path, env=env or {})


def config_error(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load_text(tmp_path, text, env)
    return str(caught.value)


def in_store(line: str) -> str:
    return STORE + line


def store_url(url: str) -> str:
    return STORE.replace('"https://shop.example.com"', url)


def previous(*rule_sets: tuple[str, str]) -> str:
    """A current rule set "v9" from 2024-01-01 and earlier ones as (version, effective_from)."""
    text = '[rules.purchase]\nversion = "v9"\neffective_from = 2024-01-01\n'
    for version, day in rule_sets:
        text += f'[[rules.purchase.previous]]\nversion = "{version}"\neffective_from = {day}\n'
    return text


STATUSES = "pending, processing, on-hold, completed, cancelled, refunded, failed"
PRODUCT = "[[rules.purchase.products]]\n"
PURCHASE = "[rules.purchase]\n"

# Each row: TOML text, and the start of the message after "<file>: ".
BAD_VALUES = [
    (in_store("timeout = 0"), "store.timeout: expected a number > 0, got 0"),
    (in_store('timeout = "30"'), 'store.timeout: expected a number > 0, got "30"'),
    (in_store("timeout = true"), "store.timeout: expected a number > 0, got true"),
    (in_store("timeout = nan"), "store.timeout: expected a number > 0, got nan"),
    (in_store("per_page = 101"), "store.per_page: expected an integer from 1 to 100, got 101"),
    (in_store("per_page = 0"), "store.per_page: expected an integer from 1 to 100, got 0"),
    (in_store("per_page = 10.0"), "store.per_page: expected an integer from 1 to 100, got 10.0"),
    (in_store("concurrency = 11"), "store.concurrency: expected an integer from 1 to 10, got 11"),
    (in_store("max_requests_per_second = 0"), "store.max_requests_per_second: expected a number > 0"),
    (in_store("max_retry_seconds = -1"), "store.max_retry_seconds: expected a number >= 0, got -1"),
    (in_store('allow_insecure_http = "yes"'), 'store.allow_insecure_http: expected true or false, got "yes"'),
    (in_store("verify_tls = 1"), "store.verify_tls: expected true, false or the path of a CA bundle file"),
    (in_store('verify_tls = "no.pem"'), "store.verify_tls: expected true, false or the path of a CA bundle"),
    (store_url('"ftp://shop.example.com"'), "store.url: expected an https:// URL"),
    (store_url('"shop.example.com"'), "store.url: expected an https:// URL"),
    (store_url('"https://shop.example.com/?a=1"'), "store.url: expected a URL without ?query"),
    (store_url("1"), "store.url: expected a non-empty string, got 1"),
    (STORE.replace('url = "https://shop.example.com"', ""), "store.url: required: expected a non-empty"),
    (STORE.replace('"ck_test_key_value"', "12345"), "store.consumer_key: expected a string, got a number"),
    (
        STORE.replace('consumer_secret = "cs_test_secret_value"', ""),
        "store.consumer_secret: required: expected a non-empty string here or in $LOYALTY_STORE_CONSUMER_SECRET",
    ),
    (in_store('[wordpress]\nurl = "http://blog.example.com"'), "wordpress.url: http:// is refused"),
    (in_store("[wordpress]\nusername = 7"), "wordpress.username: expected a string, got 7"),
    ('[database]\nurl = "mysql://u@h/db"', "database.url: expected a SQLite or PostgreSQL URL"),
    ('[database]\nurl = "not a url"', "database.url: expected a SQLite or PostgreSQL URL"),
    ("[database]\nurl = 5", "database.url: expected a non-empty string, got a number"),
    ("[sync]\noverlap_minutes = -1", "sync.overlap_minutes: expected an integer >= 0, got -1"),
    ("[sync]\nreconcile_every_hours = -1", "sync.reconcile_every_hours: expected a number >= 0, got -1"),
    ('[worker]\nbroker_url = "localhost"', "worker.broker_url: expected a broker URL"),
    (  # kombu read it beside the URL's own password: TypeError when the worker connected
        '[worker]\nbroker_url = "redis://127.0.0.1:6379/0?password=hunter2mq"',
        "worker.broker_url: password cannot be a query parameter of the broker URL",
    ),
    ("[worker]\nsync_every_minutes = 0", "worker.sync_every_minutes: expected an integer >= 1, got 0"),
    ('[points]\nbalance_meta_key = ""', 'points.balance_meta_key: expected a non-empty string, got ""'),
    ('[points]\nbalance_meta_key = " pts"', "points.balance_meta_key: expected a meta key without surrounding"),
    (
        '[points]\nlifetime_meta_key = "loyalty_points"',
        "points.lifetime_meta_key: expected a key different from points.balance_meta_key",
    ),
    ("[points]\npoint_value = 0", "points.point_value: expected a number > 0, got 0"),
    (
        '[points]\ndebt = "forgive"',
        'points.debt: expected one of "allow_negative" | "net_against_future" | "clamp_zero_and_record"',
    ),
    (
        '[points]\nexpiring_meta_key = "Loyalty_Points_Lifetime"',
        "points.expiring_meta_key: expected a key different from points.lifetime_meta_key",
    ),
    ('[points]\nexpiring_meta_key = "wp_expiring"', "points.expiring_meta_key: 'wp_expiring' is refused"),
    ("[points]\npending_days = -1", "points.pending_days: expected an integer from 0 to 3650, got -1"),
    ("[[tiers]]\nmin_points = 5", "tiers[0].name: required: expected a non-empty string"),
    ('[[tiers]]\nname = "gold"', "tiers[0].min_points: required: expected an integer >= 0"),
    ('[[tiers]]\nname = "gold"\nmin_points = 5\nmultiplier = 0', "tiers[0].multiplier: expected a number > 0"),
    ('[[tiers]]\nname = "gold"\nmin_points = 5\nwindow_days = 0', "tiers[0].window_days: expected an integer from 1"),
    (
        '[[tiers]]\nname = "gold"\nmin_points = 5\n[[tiers]]\nname = "gold"\nmin_points = 9',
        "tiers[1].name: expected a name no other tier in [[tiers]] uses",
    ),
    (
        '[points]\npending_meta_key = "loyalty_points"',
        "points.pending_meta_key: expected a key different from points.balance_meta_key",
    ),
    ('[points]\npoint_value = "abc"', 'points.point_value: expected a number > 0, got "abc"'),
    (PURCHASE + 'points_per_unit = "abc"', 'rules.purchase.points_per_unit: expected a number >= 0, got "abc"'),
    (PURCHASE + "points_per_unit = -1", "rules.purchase.points_per_unit: expected a number >= 0, got -1"),
    (PURCHASE + "points_per_unit = inf", "rules.purchase.points_per_unit: expected a number >= 0, got inf"),
    (PURCHASE + "points_per_unit = true", "rules.purchase.points_per_unit: expected a number >= 0, got true"),
    (PURCHASE + 'rounding = "round"', 'rules.purchase.rounding: expected one of "floor" | "half-up" | "ceil"'),
    (PURCHASE + 'include_tax = "false"', 'rules.purchase.include_tax: expected true or false, got "false"'),
    (PURCHASE + "include_shipping = 1", "rules.purchase.include_shipping: expected true or false, got 1"),
    (PURCHASE + "include_fees = 0", "rules.purchase.include_fees: expected true or false, got 0"),
    (PURCHASE + 'earn_statuses = ["done"]', f'rules.purchase.earn_statuses[0]: expected one of {STATUSES}, got "done"'),
    (PURCHASE + 'earn_statuses = ["trash"]', "rules.purchase.earn_statuses[0]: expected one of pending"),
    (PURCHASE + "earn_statuses = []", f"rules.purchase.earn_statuses: expected a non-empty array of {STATUSES}"),
    (PURCHASE + 'earn_statuses = "completed"', "rules.purchase.earn_statuses: expected a non-empty array"),
    (PURCHASE + 'minimum_order_amount = "-5"', 'rules.purchase.minimum_order_amount: expected a number >= 0'),
    (PURCHASE + "no_points_with_coupon = 1", "rules.purchase.no_points_with_coupon: expected true or false"),
    (PURCHASE + "max_points_per_order = -1", "rules.purchase.max_points_per_order: expected an integer >= 0"),
    (PURCHASE + "max_points_per_order = 1.5", "rules.purchase.max_points_per_order: expected an integer >= 0"),
    (PURCHASE + 'award_guests = "true"', "rules.purchase.award_guests: expected true or false"),
    (
        PURCHASE + 'effective_from = "2024-01-01"',
        'rules.purchase.effective_from: expected a TOML date such as 2024-01-31 (unquoted), got "2024-01-01"',
    ),
    (
        PURCHASE + "effective_from = 2024-01-01T10:00:00",
        "rules.purchase.effective_from: expected a TOML date such as 2024-01-31 (unquoted), "
        "got 2024-01-01T10:00:00 (a datetime)",
    ),
    (PURCHASE + 'version = ""', 'rules.purchase.version: expected a non-empty string, got ""'),
    (PURCHASE + "products = 5", "rules.purchase.products: expected an array of tables [[rules.purchase.products]]"),
    (PRODUCT + "id = 1", "rules.purchase.products[0]: expected exactly one of multiplier, fixed_points, exclude"),
    (PRODUCT + "id = 1\nmultiplier = 2\nexclude = true", "rules.purchase.products[0]: expected exactly one of"),
    (
        PRODUCT + "id = 1\nexclude = false",
        "rules.purchase.products[0].exclude: expected true (leave the entry out to not exclude), got false",
    ),
    (PRODUCT + "id = 0\nexclude = true", "rules.purchase.products[0].id: expected an integer >= 1, got 0"),
    (PRODUCT + "exclude = true", "rules.purchase.products[0].id: required: expected an integer >= 1"),
    (PRODUCT + 'id = 1\nmultiplier = "x"', 'rules.purchase.products[0].multiplier: expected a number >= 0, got "x"'),
    (
        PRODUCT + "id = 3\nexclude = true\n" + PRODUCT + "id = 3\nfixed_points = 5",
        "rules.purchase.products[1].id: expected an id not listed earlier in rules.purchase.products, got 3",
    ),
    (
        "[[rules.purchase.categories]]\nid = 4\nfixed_points = -1",
        "rules.purchase.categories[0].fixed_points: expected an integer >= 0, got -1",
    ),
    (
        "[[rules.purchase.previous]]\neffective_from = 2020-01-01",
        "rules.purchase.previous[0].version: required: expected a non-empty string",
    ),
    (
        '[[rules.purchase.previous]]\nversion = "v0"',
        "rules.purchase.previous[0].effective_from: required: expected a TOML date",
    ),
    (
        previous(("v9", "2023-01-01")),
        'rules.purchase.previous[0].version: expected a version name no other rule set uses, got "v9"',
    ),
    (
        previous(("v1", "2023-01-01"), ("v1", "2022-01-01")),
        'rules.purchase.previous[1].version: expected a version name no other rule set uses, got "v1"',
    ),
    (
        previous(("v1", "2024-02-01")),
        "rules.purchase.previous[0].effective_from: expected a date before rules.purchase.effective_from "
        "(2024-01-01), got 2024-02-01 (a date)",
    ),
    (
        previous(("v1", "2023-01-01"), ("v2", "2023-01-01")),
        "rules.purchase.previous[1].effective_from: expected a date no other rule set uses",
    ),
    (
        previous(("v1", "2023-01-01")) + "[[rules.purchase.previous.products]]\nid = 1",
        "rules.purchase.previous[0].products[0]: expected exactly one of",
    ),
    ("[rules.first_order]\npoints = -1", "rules.first_order.points: expected an integer >= 0, got -1"),
    ("[rules.signup]\npoints = -1", "rules.signup.points: expected an integer >= 0, got -1"),
    ("[rules.signup]\nenabled = true", "rules.signup.enabled: unknown key; expected one of: points"),
    ("[rules.review]\nenabled = 1", "rules.review.enabled: expected true or false, got 1"),
    ('[rules.comment]\npoints = "5"', 'rules.comment.points: expected an integer >= 0, got "5"'),
    ('[redemption]\nindividual_use = "no"', 'redemption.individual_use: expected true or false, got "no"'),
    ("[expiry]\nenabled = 0", "expiry.enabled: expected true or false, got 0"),
    ('[expiry]\nmode = "lots"', 'expiry.mode: expected one of "per_lot" | "inactivity", got "lots"'),
    ("[expiry]\ndays = 0", "expiry.days: expected an integer from 1 to 36500, got 0"),
    ("[expiry]\nwarn_days = -1", "expiry.warn_days: expected an integer from 0 to 36500, got -1"),
    ('store = "x"', 'store: expected a table [store], got "x"'),
    ("rules = []", "rules: expected a table [rules], got an array"),
    ('[dashboard]\nallowed_hosts = "a.example"', 'dashboard.allowed_hosts: expected an array of host names'),
    ('[dashboard]\nallowed_hosts = ["a.example:80"]', 'dashboard.allowed_hosts[0]: expected a host name or an IP'),
    ('[dashboard]\nallowed_hosts = ["ok.example", "bad host"]', "dashboard.allowed_hosts[1]: expected a host name"),
    ("[dashboard]\nallowed_hosts = [7]", "dashboard.allowed_hosts[0]: expected a host name or an IP"),
    # The address the dashboard listens on was taken as any text: `loyalty check` passed it, and
    # `loyalty dashboard` failed on it with "another dashboard running?" or an internal error.
    ('[dashboard]\nhost = "https://loyalty.example.com"', "dashboard.host: expected a host name or an IP"),
    ('[dashboard]\nhost = "127.0.0.1:8788"', "dashboard.host: expected a host name or an IP"),
    ('[dashboard]\nhost = "local host"', "dashboard.host: expected a host name or an IP"),
    ('[dashboard]\nhost = "127.0.0.1\\u0000"', "dashboard.host: expected a host name or an IP"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "message"), BAD_VALUES)
def test_bad_value_is_refused_naming_file_key_path_and_expectation(
    tmp_path: Path, text: str, message: str
) -> None:
    error = config_error(tmp_path, text)
    assert error.startswith(f"{tmp_path / 'loyalty.toml'}: {message}")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (in_store('consumer_secert = "x"'), 'store.consumer_secert: unknown key; did you mean "consumer_secret"?'),
        ("[stor]\nurl = 1", 'stor: unknown key; did you mean "store"?'),
        (PURCHASE + "points_per_unt = 1", 'rules.purchase.points_per_unt: unknown key; did you mean "points_per_unit"'),
        ("[rules.review]\nbonus = 5", "rules.review.bonus: unknown key; expected one of: enabled, points,"),
        (PRODUCT + "id = 1\nmultiplyer = 2", 'rules.purchase.products[0].multiplyer: unknown key; did you mean "mul'),
        (
            previous(("v1", "2020-01-01")) + "[[rules.purchase.previous.previous]]\nversion = 'b'",
            "rules.purchase.previous[0].previous: unknown key",
        ),
        ("[redemption]\ncoupon_day = 9", 'redemption.coupon_day: unknown key; did you mean "coupon_days"?'),
        ("[expiry]\nday = 365", 'expiry.day: unknown key; did you mean "days"?'),
        ('[database]\nurl = "sqlite://"\nechoo = true', "database.echoo: unknown key"),
    ],
)  # fmt: skip
def test_unknown_key_is_refused_with_a_suggestion(tmp_path: Path, text: str, message: str) -> None:
    assert message in config_error(tmp_path, text)


def test_misspelt_key_is_reported_before_the_required_key_it_was_meant_to_be(
    tmp_path: Path,
) -> None:
    text = STORE.replace("consumer_secret", "consumer_secert")
    assert 'store.consumer_secert: unknown key; did you mean "consumer_secret"?' in config_error(
        tmp_path, text
    )


def test_toml_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    error = config_error(tmp_path, '[store]\nurl = "https://x.example"\ntimeout 30\n')
    assert error.startswith(f"{tmp_path / 'loyalty.toml'}: not valid TOML:")
    assert "line 3" in error


def test_missing_file_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml: cannot read the config file"):
        load_config(tmp_path / "nope.toml", env={})


def test_no_file_gives_every_default_and_no_store() -> None:
    config = load_config(None, env={})
    assert config.store is None
    assert config.database.url == "sqlite:///loyalty.db"
    assert config.points.point_value == Decimal("0.01")
    assert config.rules.purchase.versions[0].earn_statuses == frozenset({"completed"})
    with pytest.raises(ConfigError, match=r"no \[store\] configured: pass --config FILE"):
        config.require_store()


def test_store_defaults_and_trailing_slash(tmp_path: Path) -> None:
    store = load_text(tmp_path, STORE.replace(".com", ".com/shop/")).require_store()
    assert store.url == "https://shop.example.com/shop"
    assert (store.timeout, store.per_page, store.concurrency) == (30.0, 100, 3)
    assert (store.max_requests_per_second, store.max_retry_seconds) == (5.0, 120.0)
    assert (store.allow_insecure_http, store.verify_tls) == (False, True)
    assert store.consumer_key.reveal() == "ck_test_key_value"


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://Shop.Example.com", "shop.example.com"),
        ("https://shop.example.com/", "shop.example.com"),
        ("https://shop.example.com:443/Store/", "shop.example.com/Store"),
        ("https://shop.example.com:8443", "shop.example.com:8443"),
        ("http://127.0.0.1:8080/wp", "127.0.0.1:8080/wp"),
    ],
)
def test_store_key_is_lowercased_host_port_and_path(tmp_path: Path, url: str, key: str) -> None:
    text = STORE.replace("https://shop.example.com", url) + "allow_insecure_http = true"
    assert load_text(tmp_path, text).require_store().key == key


def test_plain_http_store_is_refused_unless_allowed(tmp_path: Path) -> None:
    text = STORE.replace("https://", "http://")
    error = config_error(tmp_path, text)
    assert "store.url: http:// is refused" in error
    assert "allow_insecure_http = true" in error
    allowed = load_text(tmp_path, text + "allow_insecure_http = true").require_store()
    assert allowed.url == "http://shop.example.com"


def test_url_with_credentials_is_refused_without_echoing_them(tmp_path: Path) -> None:
    error = config_error(tmp_path, STORE.replace("https://", "https://admin:hunter22@"))
    assert "store.url: expected a URL without a user name or password" in error
    assert "hunter22" not in error


def test_verify_tls_accepts_a_ca_bundle_relative_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    store = load_text(tmp_path, STORE + 'verify_tls = "ca.pem"').require_store()
    assert store.verify_tls == str((tmp_path / "ca.pem").resolve())
    assert load_text(tmp_path, STORE + "verify_tls = false").require_store().verify_tls is False


def test_environment_credentials_win_over_the_file(tmp_path: Path) -> None:
    env = {
        "LOYALTY_STORE_CONSUMER_KEY": "ck_from_env",
        "LOYALTY_STORE_CONSUMER_SECRET": "cs_from_env",
        "LOYALTY_WORDPRESS_APP_PASSWORD": "abcd efgh ijkl",
        "LOYALTY_DATABASE_URL": "postgresql+psycopg://loyalty@db.internal/loyalty",
    }
    config = load_text(tmp_path, STORE + '[wordpress]\napp_password = "file pass"', env)
    store = config.require_store()
    assert store.consumer_key.reveal() == "ck_from_env"
    assert store.consumer_secret.reveal() == "cs_from_env"
    assert config.wordpress.app_password.reveal() == "abcd efgh ijkl"
    assert config.database.url == "postgresql+psycopg://loyalty@db.internal/loyalty"


def test_environment_can_supply_credentials_missing_from_the_file(tmp_path: Path) -> None:
    text = '[store]\nurl = "https://shop.example.com"\n'
    env = {"LOYALTY_STORE_CONSUMER_KEY": "ck_env_only", "LOYALTY_STORE_CONSUMER_SECRET": "cs_env"}
    assert load_text(tmp_path, text, env).require_store().consumer_secret.reveal() == "cs_env"


def test_empty_environment_variable_does_not_override_the_file(tmp_path: Path) -> None:
    env = {"LOYALTY_STORE_CONSUMER_SECRET": "  ", "LOYALTY_DATABASE_URL": ""}
    config = load_text(tmp_path, STORE, env)
    assert config.require_store().consumer_secret.reveal() == "cs_test_secret_value"
    assert config.database.url == "sqlite:///loyalty.db"


def test_bad_database_url_from_environment_names_the_variable_not_the_value() -> None:
    env = {"LOYALTY_DATABASE_URL": "oracle://scott:tiger99@db/orcl"}
    with pytest.raises(ConfigError) as caught:
        load_config(None, env=env)
    assert str(caught.value).startswith("$LOYALTY_DATABASE_URL: expected a SQLite or PostgreSQL")
    assert "tiger99" not in str(caught.value)


def test_database_url_for_display_masks_the_password(tmp_path: Path) -> None:
    text = '[database]\nurl = "postgresql+psycopg://loyalty:s3cr3tpw@db:5432/loyalty"'
    config = load_text(tmp_path, text)
    assert config.database.url_for_display == "postgresql+psycopg://loyalty:***@db:5432/loyalty"
    assert "s3cr3tpw" not in repr(config)


def test_a_password_given_in_a_url_query_is_never_shown_and_is_masked_in_logs(
    tmp_path: Path,
) -> None:
    """`?password=` reached `loyalty check` and `db upgrade` as it was: only `user:password@` was
    masked (found by a review, 3 Dec)."""
    text = (
        '[database]\nurl = "postgresql+psycopg://loyalty@db:5432/loyalty?password=hunter2db"\n'
        '[worker]\nbroker_url = "redis://:hunter2mq@127.0.0.1:6379/0?ssl_cert_reqs=none"'
    )
    config = load_text(tmp_path, text)
    shown = (config.database.url_for_display, config.worker.broker_url_for_display, repr(config))
    assert shown[:2] == (
        "postgresql+psycopg://loyalty@db:5432/loyalty",
        "redis://:***@127.0.0.1:6379/0?ssl_cert_reqs=none",  # a broker's ?password= is refused
    )
    assert not [text for text in shown if "hunter2" in text]
    assert redact("connect to ...?password=hunter2db failed; hunter2mq") == (
        "connect to ...?password=*** failed; ***"
    )


def test_a_broker_password_with_an_at_sign_is_masked_whole(tmp_path: Path) -> None:
    """The broker's client reads the user part up to the last "@", SQLAlchemy's URL parser up to
    the first: `check` showed part of it, and logs none of it masked (found by a review, 3 Dec)."""
    config = load_text(tmp_path, '[worker]\nbroker_url = "redis://:p@ss1@127.0.0.1:6379/0"')
    assert config.worker.broker_url_for_display == "redis://:***@127.0.0.1:6379/0"
    assert "ss1" not in repr(config)
    assert redact("AUTH p@ss1 failed") == "AUTH *** failed"


def test_wordpress_defaults_to_the_store_url(tmp_path: Path) -> None:
    config = load_text(tmp_path, STORE)
    assert config.wordpress.url == "https://shop.example.com"
    assert config.wordpress.username == ""
    assert not config.wordpress.app_password
    own = load_text(tmp_path, STORE + '[wordpress]\nurl = "https://blog.example.com/"')
    assert own.wordpress.url == "https://blog.example.com"


@pytest.mark.parametrize(
    "key",
    [
        "wp_loyalty_points",
        "my_wp_points",
        "_woocommerce_persistent_cart_points",
        "closedpostboxes_points",
        "metaboxhidden_points",
        "manageedit-points",
    ],
)
def test_meta_keys_woocommerce_hides_from_rest_are_refused_with_the_reason(
    tmp_path: Path, key: str
) -> None:
    error = config_error(tmp_path, f'[points]\nbalance_meta_key = "{key}"')
    assert f"points.balance_meta_key: '{key}' is refused: WooCommerce hides meta keys" in error
    assert "duplicate row" in error


def test_underscore_meta_keys_are_allowed(tmp_path: Path) -> None:
    text = '[points]\nbalance_meta_key = "_loyalty_points"\nlifetime_meta_key = "_loyalty_life"'
    assert load_text(tmp_path, text).points.balance_meta_key == "_loyalty_points"


@pytest.mark.parametrize(
    ("toml_value", "expected"),
    [
        ("0.1", Decimal("0.1")),
        ('"1.10"', Decimal("1.10")),
        ("2", Decimal(2)),
        ("1e-2", Decimal("0.01")),
    ],
)
def test_points_per_unit_is_an_exact_decimal(
    tmp_path: Path, toml_value: str, expected: Decimal
) -> None:
    config = load_text(tmp_path, f"[rules.purchase]\npoints_per_unit = {toml_value}")
    value = config.rules.purchase.versions[0].points_per_unit
    assert value == expected
    assert str(value) == str(expected)


def test_purchase_rules_are_built_from_every_key(tmp_path: Path) -> None:
    text = """
[rules.purchase]
version = "v2"
effective_from = 2024-06-01
points_per_unit = "1.5"
rounding = "half-up"
include_shipping = true
include_tax = true
include_fees = true
earn_statuses = ["processing", "completed"]
minimum_order_amount = "20.00"
no_points_with_coupon = true
max_points_per_order = 500
award_guests = false
[[rules.purchase.products]]
id = 11
multiplier = 2
[[rules.purchase.products]]
id = 12
fixed_points = 50
[[rules.purchase.categories]]
id = 12
exclude = true
"""
    (rules,) = load_text(tmp_path, text).rules.purchase.versions
    assert (rules.version, rules.effective_from) == ("v2", date(2024, 6, 1))
    assert (rules.points_per_unit, rules.rounding) == (Decimal("1.5"), Rounding.HALF_UP)
    assert (rules.include_shipping, rules.include_tax, rules.include_fees) == (True, True, True)
    assert rules.earn_statuses == frozenset({"processing", "completed"})
    assert rules.minimum_order_amount == Decimal("20.00")
    assert rules.no_points_with_coupon
    assert rules.max_points_per_order == 500
    assert not rules.award_guests
    assert dict(rules.product_overrides) == {
        11: ItemOverride(multiplier=Decimal(2)),
        12: ItemOverride(fixed_points=50),
    }
    assert dict(rules.category_overrides) == {12: ItemOverride(excluded=True)}


def test_max_points_per_order_zero_means_no_cap(tmp_path: Path) -> None:
    config = load_text(tmp_path, "[rules.purchase]\nmax_points_per_order = 0")
    assert config.rules.purchase.versions[0].max_points_per_order is None


def test_previous_rule_sets_build_the_rule_book_oldest_first(tmp_path: Path) -> None:
    text = """
[rules.purchase]
version = "v3"
effective_from = 2024-06-01
points_per_unit = 3
[[rules.purchase.previous]]
version = "v2"
effective_from = 2023-06-01
points_per_unit = 2
[[rules.purchase.previous.categories]]
id = 9
exclude = true
[[rules.purchase.previous]]
version = "v1"
effective_from = 2022-01-01
points_per_unit = 1
"""
    book = load_text(tmp_path, text).rules.purchase
    assert [r.version for r in book.versions] == ["v1", "v2", "v3"]
    assert book.versions[1].category_overrides[9].excluded
    assert not book.versions[2].category_overrides

    def created(day: date) -> str:
        return book.for_order_created(datetime(day.year, day.month, day.day, tzinfo=UTC)).version

    assert created(date(2021, 5, 1)) == "v1"  # older than every rule set: the oldest
    assert created(date(2023, 6, 1)) == "v2"
    assert created(date(2024, 5, 31)) == "v2"
    assert created(date(2024, 6, 1)) == "v3"


def test_other_sections_are_read(tmp_path: Path) -> None:
    text = """
[sync]
overlap_minutes = 0
reconcile_every_hours = 0.5
[worker]
broker_url = "redis://:brokerpw1@127.0.0.1:6379/2"
sync_every_minutes = 5
[points]
point_value = 0.05
[rules.first_order]
points = 100
[rules.signup]
points = 25
[rules.review]
enabled = true
points = 20
[redemption]
tiers = [{name = "10-off", points = 1000, amount = "10.00"}]
"""
    config = load_text(tmp_path, text)
    assert (config.sync.overlap_minutes, config.sync.reconcile_every_hours) == (0, 0.5)
    assert config.worker.sync_every_minutes == 5
    assert config.worker.broker_url == "redis://:brokerpw1@127.0.0.1:6379/2"
    assert "brokerpw1" not in repr(config)
    assert config.points.point_value == Decimal("0.05")
    assert config.points.debt is DebtPolicy.NET_AGAINST_FUTURE  # the default
    assert config.points.expiring_meta_key == "loyalty_points_expiring"
    assert config.rules.first_order_points == 100
    assert config.rules.signup_points == 25
    assert (config.rules.review.enabled, config.rules.review.points) == (True, 20)
    assert not config.rules.comment.enabled
    assert config.redemption.enabled
    assert not config.expiry.enabled


def test_example_file_loads_and_documents_a_rule_book() -> None:
    config = load_config(REPO / "config.example.toml", env={})
    store = config.require_store()
    assert store.url == "https://shop.example.com"
    assert [r.version for r in config.rules.purchase.versions] == ["launch", "2024-06"]
    assert config.rules.purchase.versions[1].product_overrides[102].fixed_points == 50


def test_example_file_comments_every_key() -> None:
    """Each key line follows a comment, or a key or [[table]] line that a comment introduced."""
    lines = (REPO / "config.example.toml").read_text().splitlines()
    for i, line in enumerate(lines):
        if "=" in line and not line.startswith("#"):
            above = lines[i - 1]
            assert above.startswith(("#", "[[")) or "=" in above, line


class TestFindConfigPath:
    def test_command_line_value_wins(self, tmp_path: Path) -> None:
        env = {"LOYALTY_CONFIG": "/etc/loyalty.toml"}
        assert find_config_path("mine.toml", env) == Path("mine.toml")

    def test_environment_variable_comes_next(self, tmp_path: Path) -> None:
        assert find_config_path(None, {"LOYALTY_CONFIG": "/etc/l.toml"}) == Path("/etc/l.toml")

    def test_loyalty_toml_in_the_current_directory_comes_last(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.chdir(tmp_path)
        assert find_config_path(None, {}) is None
        (tmp_path / "loyalty.toml").write_text("")
        assert find_config_path(None, {}) == Path("loyalty.toml")


def test_require_store_names_the_file_without_a_store_table(tmp_path: Path) -> None:
    config = load_text(tmp_path, "[sync]\noverlap_minutes = 5\n")
    with pytest.raises(ConfigError) as caught:
        config.require_store()
    assert str(caught.value).startswith("no [store] configured: pass --config FILE")
    assert f"{tmp_path / 'loyalty.toml'} has no [store] table" in str(caught.value)


def test_a_short_admin_token_names_where_it_came_from(tmp_path: Path) -> None:
    """Read from the environment, it was reported as if the file held it."""
    from_env = config_error(tmp_path, "", env={"LOYALTY_DASHBOARD_ADMIN_TOKEN": "short"})
    from_file = config_error(tmp_path, '[dashboard]\nadmin_token = "short"\n')

    assert "too short (from $LOYALTY_DASHBOARD_ADMIN_TOKEN)" in from_env
    assert "too short (from the file)" in from_file
    assert 'short"' not in from_env + from_file  # the token itself is never shown


def test_the_names_the_dashboard_answers_to_are_read_lowercased(tmp_path: Path) -> None:
    text = '[dashboard]\nallowed_hosts = ["Loyalty.Example.com", "[::1]", "192.168.1.5"]\n'
    names = load_text(tmp_path, text).dashboard.allowed_hosts
    assert names == ("loyalty.example.com", "::1", "192.168.1.5")


@pytest.mark.parametrize(
    ("host", "read"),
    [("::", "::"), ("[::1]", "::1"), ("loyalty.local", "loyalty.local")],
)
def test_the_address_the_dashboard_listens_on_is_read_without_brackets(
    tmp_path: Path, host: str, read: str
) -> None:
    # "[::1]" was kept with its brackets, which no socket binds to (allowed_hosts took it).
    assert load_text(tmp_path, f'[dashboard]\nhost = "{host}"\n').dashboard.host == read
