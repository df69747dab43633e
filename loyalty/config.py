"""The typed configuration: one TOML file (plus a few environment variables), read at start-up.

For the CLI, the worker and the sync: `load_config(find_config_path(...))` gives a frozen
`Config`, or raises `ConfigError` naming the file, the key path and what was expected. Unknown
keys and wrong types are errors, never guessed at. `config.example.toml` documents every key.

Secrets (consumer key and secret, the WordPress application password) are `Secret` objects whose
repr is `Secret('***')`; loading a config registers each one with the log redactor.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from ledger.engine import safe_url, url_secrets
from ledger.entries import POINTS_LIMIT
from ledger.types import MAX_BIGINT
from loyalty.errors import ConfigError
from loyalty.log import register_secret
from loyalty.secret import Secret
from loyalty.toml_table import REQUIRED, Table, describe
from rules.activity import ActivityRules
from rules.comment import CommentRules
from rules.debt import DebtPolicy
from rules.expiry import ExpiryMode, ExpiryRules
from rules.redemption import RedemptionRules, RedemptionTier, prefix_problem
from rules.review import ReviewRules
from rules.stamps import RewardKind, StampCard
from rules.tiers import Tier, TierRules
from rules.types import ItemOverride, PurchaseRuleBook, PurchaseRules, Rounding

DEFAULT_CONFIG_FILE = "loyalty.toml"
DEFAULT_DATABASE_URL = "sqlite:///loyalty.db"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/0"
ENV_CONFIG = "LOYALTY_CONFIG"
ENV_CONSUMER_KEY = "LOYALTY_STORE_CONSUMER_KEY"
ENV_CONSUMER_SECRET = "LOYALTY_STORE_CONSUMER_SECRET"  # noqa: S105 # a variable's name
ENV_WORDPRESS_APP_PASSWORD = "LOYALTY_WORDPRESS_APP_PASSWORD"  # noqa: S105 # a variable's name
ENV_DATABASE_URL = "LOYALTY_DATABASE_URL"
ENV_DASHBOARD_TOKEN = "LOYALTY_DASHBOARD_ADMIN_TOKEN"  # noqa: S105 # a variable's name

ORDER_STATUSES = (
    "pending",
    "processing",
    "on-hold",
    "completed",
    "cancelled",
    "refunded",
    "failed",
)
# WooCommerce never returns these meta keys over REST, so a key-only PUT adds a row every time.
HIDDEN_META_PREFIXES: tuple[str, ...] = ("_woocommerce_persistent_cart", "closedpostboxes_")
HIDDEN_META_PREFIXES += ("metaboxhidden_", "manageedit-")
# Customer meta that WordPress and WooCommerce keep for themselves (WooCommerce's customer data
# store treats these as properties, not meta): writing a balance there would overwrite them.
_ADDRESS_FIELDS: tuple[str, ...] = ("first_name", "last_name", "company", "address_1", "address_2")
_ADDRESS_FIELDS += ("city", "state", "postcode", "country", "phone")
OWNED_META_KEYS = frozenset(
    [f"billing_{f}" for f in (*_ADDRESS_FIELDS, "email")]
    + [f"shipping_{f}" for f in _ADDRESS_FIELDS]
    + ["first_name", "last_name", "nickname", "description", "display_name", "locale"]
    + ["paying_customer", "last_update", "_order_count", "_money_spent", "_last_order"]
    + ["wc_last_active", "_woocommerce_tracks_anon_id", "session_tokens"]
    + ["rich_editing", "syntax_highlighting", "comment_shortcuts", "admin_color", "use_ssl"]
    + ["show_admin_bar_front", "show_welcome_panel", "dismissed_wp_pointers"]
)

# Sanity bounds, checked at load so a typo is a config error, not a crash in the middle of a sync.
MAX_TIMEOUT_SECONDS = 3600.0
MAX_REQUESTS_PER_SECOND = 10_000.0
MAX_RETRY_SECONDS = 86_400.0
MAX_RATE = Decimal(10**6)  # points per unit, multipliers, what a point is worth
MAX_AMOUNT = Decimal(10**12)  # store currency
MAX_TEXT_LENGTH = 1_000_000  # characters a review or comment must have (min_length)
MAX_PER_DAY = 1_000_000  # a daily cap on reviews or comments


@dataclass(frozen=True)
class StoreConfig:
    """The WooCommerce store the sync talks to (`[store]`)."""

    url: str  # scheme://host[:port][/path], no trailing slash
    consumer_key: Secret
    consumer_secret: Secret
    timeout: float = 30.0
    per_page: int = 100
    concurrency: int = 3
    max_requests_per_second: float = 5.0
    max_retry_seconds: float = 120.0  # total time spent retrying one request before giving up
    allow_insecure_http: bool = False
    verify_tls: bool | str = True  # what requests' `verify=` takes: a bool or a CA bundle path
    max_response_mb: int = 32  # a larger answer from the store is refused, never read into memory

    @property
    def key(self) -> str:
        """The store's identity in the ledger: lowercased host[:port] plus path, no scheme."""
        parts = urlsplit(self.url)
        host = (parts.hostname or "").lower()
        default_port = {"https": 443, "http": 80}.get(parts.scheme)
        port = f":{parts.port}" if parts.port and parts.port != default_port else ""
        return f"{host}{port}{parts.path.rstrip('/')}"


@dataclass(frozen=True)
class WordPressConfig:
    """WordPress credentials for blog comments (`[wordpress]`); keys do not work on wp/v2."""

    url: str | None = None  # defaults to the store url
    username: str = ""
    app_password: Secret = field(default_factory=lambda: Secret(""))


@dataclass(frozen=True, repr=False)
class DatabaseConfig:
    """The ledger database (`[database]`); its repr never shows a password."""

    url: str = DEFAULT_DATABASE_URL

    @property
    def url_for_display(self) -> str:
        """The URL without its credentials (`ledger.engine.safe_url`), for output and logs."""
        return safe_url(self.url)

    def __repr__(self) -> str:
        return f"DatabaseConfig(url={self.url_for_display!r})"


@dataclass(frozen=True)
class SyncConfig:
    """How the incremental sync windows its queries (`[sync]`)."""

    overlap_minutes: int = 10
    # Re-list everything known (orders, reviews, comments) by id this often, catching deletions
    # and old status changes; 0 = every run.
    reconcile_every_hours: float = 24.0
    # Reviews and comments created this many days back are listed again every run, for their
    # status (they carry no modified date).
    rescan_days: int = 7


@dataclass(frozen=True, repr=False)
class WorkerConfig:
    """The Celery worker (`[worker]`); its repr never shows a broker password."""

    broker_url: str = DEFAULT_BROKER_URL
    sync_every_minutes: int = 15
    # A task is stopped after this long; it must end before Redis hands its unacknowledged
    # message to another worker (the visibility timeout), or one sync would run twice.
    task_time_limit_minutes: int = 300
    visibility_timeout_minutes: int = 360
    # The store's Redis lock expires this long after its holder stops renewing it (a killed worker).
    lock_timeout_seconds: int = 300

    @property
    def broker_url_for_display(self) -> str:
        """The URL without its credentials (`ledger.engine.safe_url`), for output and logs; the
        user part up to its last "@", as the broker's client reads it."""
        netloc = urlsplit(self.broker_url).netloc
        userinfo, at, host = netloc.rpartition("@")
        masked = f"{userinfo.split(':', 1)[0]}:***" if ":" in userinfo else userinfo
        return safe_url(self.broker_url.replace(netloc, f"{masked}{at}{host}", 1))

    def __repr__(self) -> str:
        return (
            f"WorkerConfig(broker_url={self.broker_url_for_display!r}, "
            f"sync_every_minutes={self.sync_every_minutes!r}, "
            f"task_time_limit_minutes={self.task_time_limit_minutes!r}, "
            f"visibility_timeout_minutes={self.visibility_timeout_minutes!r}, "
            f"lock_timeout_seconds={self.lock_timeout_seconds!r})"
        )


@dataclass(frozen=True)
class PointsConfig:
    """Where balances are written back on the customer, and what a point is worth (`[points]`)."""

    balance_meta_key: str = "loyalty_points"
    lifetime_meta_key: str = "loyalty_points_lifetime"
    point_value: Decimal = Decimal("0.01")  # store currency per point
    #: The next expiry, `{"points": N, "date": "YYYY-MM-DD"}` ("" when nothing expires).
    expiring_meta_key: str = "loyalty_points_expiring"
    #: What a balance that goes below zero (points revoked after they were spent) becomes.
    debt: DebtPolicy = DebtPolicy.NET_AGAINST_FUTURE
    #: Days purchase points wait as pending before they can be spent (0 = off).
    pending_days: int = 0
    #: With pending_days, the pending points are written to this customer meta key.
    pending_meta_key: str = "loyalty_points_pending"
    #: With [[tiers]], the name of the customer's tier ("" for none) goes to this meta key.
    tier_meta_key: str = "loyalty_tier"


@dataclass(frozen=True)
class RulesConfig:
    """Every point rule (`[rules.*]`)."""

    purchase: PurchaseRuleBook = field(default_factory=PurchaseRuleBook)
    first_order_points: int = 0
    review: ReviewRules = field(default_factory=ReviewRules)
    comment: CommentRules = field(default_factory=CommentRules)
    signup_points: int = 0  # `[rules.signup] points`; 0 = signups off


@dataclass(frozen=True)
class RewardsConfig:
    """Rewards that are not bought with points (`[rewards]`): stamp cards."""

    stamp_cards: tuple[StampCard, ...] = ()
    stamps_meta_key: str = "loyalty_stamps"


LANGUAGES = ("en", "fr", "de", "ar", "id")


@dataclass(frozen=True)
class DashboardConfig:
    """The admin dashboard and the HTML export (`[dashboard]`)."""

    host: str = "127.0.0.1"  # loopback unless the owner says otherwise
    port: int = 8788
    admin_token: Secret = field(default_factory=lambda: Secret(""))  # empty: admin actions off
    default_language: str = "en"
    currency: str = "EUR"  # ISO 4217: how the liability is written
    #: Host names the dashboard answers to besides the loopback names and `host` (behind a
    #: proxy that passes the public name on): any other is refused (DNS rebinding).
    allowed_hosts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Config:
    """The whole configuration. `store` is None when no `[store]` table was given."""

    source: Path | None = None
    store: StoreConfig | None = None
    wordpress: WordPressConfig = field(default_factory=WordPressConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    sync: SyncConfig = field(default_factory=SyncConfig)
    worker: WorkerConfig = field(default_factory=WorkerConfig)
    points: PointsConfig = field(default_factory=PointsConfig)
    rules: RulesConfig = field(default_factory=RulesConfig)
    redemption: RedemptionRules = field(default_factory=RedemptionRules)
    rewards: RewardsConfig = field(default_factory=RewardsConfig)
    tiers: TierRules = field(default_factory=TierRules)
    expiry: ExpiryRules = field(default_factory=ExpiryRules)
    dashboard: DashboardConfig = field(default_factory=DashboardConfig)

    def require_store(self) -> StoreConfig:
        """The store, for commands that talk to it or key the ledger by it."""
        if self.store is None:
            read = f"{self.source} has no [store] table" if self.source else "no config file found"
            raise ConfigError(
                f"no [store] configured: pass --config FILE, set ${ENV_CONFIG} or create"
                f" ./{DEFAULT_CONFIG_FILE} ({read}); see config.example.toml"
            )
        return self.store


def find_config_path(
    cli_value: str | Path | None, env: Mapping[str, str] = os.environ
) -> Path | None:
    """The config file to load: `--config`, else $LOYALTY_CONFIG, else ./loyalty.toml if present."""
    if cli_value:
        return Path(cli_value)
    if env.get(ENV_CONFIG):
        return Path(env[ENV_CONFIG])
    default = Path(DEFAULT_CONFIG_FILE)
    return default if default.is_file() else None


def load_config(path: Path | None, *, env: Mapping[str, str] = os.environ) -> Config:
    """Read and validate the config at `path` (None: every default, no store).

    Environment variables win over the file for secrets and the database URL. Raises ConfigError.
    """
    root = Table(_read_toml(path) if path else {}, "", str(path or "(no config file)"), _TOP_KEYS)
    store = _store(root, env, path)
    rules = root.table("rules", ("purchase", "first_order", "signup", "review", "comment"))
    points = _points(root)
    config = Config(
        source=path,
        store=store,
        wordpress=_wordpress(root, env, store),
        database=_database(root, env),
        sync=_sync(root),
        worker=_worker(root),
        points=points,
        rules=RulesConfig(
            purchase=_purchase_book(rules),
            first_order_points=rules.table("first_order", ("points",)).integer(
                "points", 0, lo=0, limit=POINTS_LIMIT
            ),
            review=_review(rules),
            comment=_comment(rules),
            signup_points=rules.table("signup", ("points",)).integer(
                "points", 0, lo=0, limit=POINTS_LIMIT
            ),
        ),
        redemption=_redemption(root),
        rewards=_rewards(root, points),
        tiers=_customer_tiers(root),
        expiry=_expiry(root),
        dashboard=_dashboard(root, env),
    )
    _register_secrets(config)
    return config


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not valid TOML: the file is not UTF-8") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:  # its message ends "(at line L, column C)"
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


# --- the sections ------------------------------------------------------------------------------

# The keys each table accepts are the fields it fills, so the two cannot drift apart.
_TOP_KEYS = tuple(f.name for f in fields(Config) if f.name != "source")
_STORE_KEYS = tuple(f.name for f in fields(StoreConfig))
_RULE_KEYS = tuple(f.name for f in fields(PurchaseRules) if not f.name.endswith("_overrides"))
_RULE_KEYS += ("products", "categories")
_OVERRIDE_KINDS = ("multiplier", "fixed_points", "exclude")


def _store(root: Table, env: Mapping[str, str], source: Path | None) -> StoreConfig | None:
    if "store" not in root.data:
        return None
    t = root.table("store", _STORE_KEYS)
    insecure = t.boolean("allow_insecure_http", False)
    return StoreConfig(
        url=_site_url(t, "url", REQUIRED, insecure=insecure),
        consumer_key=_secret(t, "consumer_key", env, ENV_CONSUMER_KEY, required=True),
        consumer_secret=_secret(t, "consumer_secret", env, ENV_CONSUMER_SECRET, required=True),
        timeout=t.number("timeout", 30.0, least=0.1, limit=MAX_TIMEOUT_SECONDS),
        per_page=t.integer("per_page", 100, lo=1, hi=100),
        concurrency=t.integer("concurrency", 3, lo=1, hi=10),
        max_requests_per_second=t.number(
            "max_requests_per_second", 5.0, least=0.01, limit=MAX_REQUESTS_PER_SECOND
        ),
        max_retry_seconds=t.number(
            "max_retry_seconds", 120.0, positive=False, limit=MAX_RETRY_SECONDS
        ),
        allow_insecure_http=insecure,
        verify_tls=_verify_tls(t, source),
        max_response_mb=t.integer("max_response_mb", 32, lo=1, hi=256),
    )


#: A host name (letters of any script, digits, `-`, `.`, `_`), an IPv4 or an IPv6 address.
_HOST = re.compile(r"[\w.-]+|[0-9A-Fa-f:.]+")


def is_host(text: str) -> bool:
    """Whether `text` is a host name or an IP address (an IPv6 one in brackets too), with no
    scheme, port, path or space: what the dashboard can listen on."""
    name = text.strip("[]")
    if ":" in name:  # only an IPv6 address has one: `127.0.0.1:8788` is not an address
        try:
            ipaddress.IPv6Address(name)
        except ValueError:
            return False
        return True
    return _HOST.fullmatch(name) is not None


#: What kombu reads from a broker URL's own parts: a query parameter of the same name clashes.
_KOMBU_URL_PARTS = frozenset(
    {"transport", "hostname", "port", "userid", "password", "virtual_host"}
)

#: The broker schemes whose Redis the worker can hold its locks in (`redis.Redis.from_url`).
REDIS_SCHEMES = ("redis", "rediss", "unix")


def _site_url(t: Table, key: str, default: Any, *, insecure: bool) -> str:
    """An https:// site URL (http:// only when allowed), without a trailing slash."""
    value = t.string(key, default, nonempty=True)
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError as error:  # "Port out of range 0-65535", "Invalid IPv6 URL"
        t.complain(key, f"expected an https:// URL such as https://shop.example.com ({error})")
    if parts.scheme not in ("https", "http") or not parts.hostname:
        t.fail(key, "an https:// URL such as https://shop.example.com", value)
    if any(c.isspace() or not c.isprintable() for c in value.strip()):
        t.fail(key, "a URL without spaces or control characters", value)
    if not _HOST.fullmatch(parts.hostname):
        t.fail(key, "a URL whose host is a host name or an IP address", value)
    if port == 0:
        t.complain(key, "expected a URL whose port is from 1 to 65535, got port 0")
    if parts.username or parts.password:
        t.complain(key, "expected a URL without a user name or password in it (got one)")
    if parts.query or parts.fragment:
        t.fail(key, "a URL without ?query or #fragment", value)
    if parts.scheme == "http" and not insecure:
        t.complain(
            key,
            "http:// is refused: credentials would travel in plain text; use https://, or set "
            "allow_insecure_http = true in [store] (for a local test store only); "
            f"got {describe(value)}",
        )
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def _secret(t: Table, key: str, env: Mapping[str, str], env_name: str, *, required: bool) -> Secret:
    """A secret from the file, overridden by a non-empty environment variable."""
    in_file = t.string(key, "", show=False).strip()  # blank is unset, as in the environment
    value = env.get(env_name, "").strip() or in_file
    if required and not value:
        t.complain(key, f"required: expected a non-empty string here or in ${env_name}")
    return Secret(value)


def _verify_tls(t: Table, source: Path | None) -> bool | str:
    expected = "true, false or the path of a CA bundle file"
    value = t.raw("verify_tls", True, expected)
    if isinstance(value, bool):
        return value
    if not isinstance(value, str) or not value.strip():
        t.fail("verify_tls", expected, value)
    try:
        path = Path(value).expanduser()
        if not path.is_absolute() and source is not None:  # relative to the config file
            path = source.parent / path
        found = path.is_file()
    except (RuntimeError, ValueError, OSError) as problem:  # ~nobody/ (no such home), a NUL
        t.fail("verify_tls", f"{expected} ({problem})", value)
    if not found:
        t.fail("verify_tls", f"{expected} (no such file: {path})", value)
    return str(path.resolve())


def _wordpress(root: Table, env: Mapping[str, str], store: StoreConfig | None) -> WordPressConfig:
    t = root.table("wordpress", ("url", "username", "app_password"))
    insecure = store.allow_insecure_http if store else False
    url = _site_url(t, "url", None, insecure=insecure) if "url" in t.data else None
    return WordPressConfig(
        url=url or (store.url if store else None),
        username=t.string("username", ""),
        app_password=_secret(t, "app_password", env, ENV_WORDPRESS_APP_PASSWORD, required=False),
    )


def _database(root: Table, env: Mapping[str, str]) -> DatabaseConfig:
    t = root.table("database", ("url",))
    url = t.string("url", DEFAULT_DATABASE_URL, nonempty=True, show=False)
    where = f"{t.file}: database.url"
    if env.get(ENV_DATABASE_URL, "").strip():
        url, where = env[ENV_DATABASE_URL].strip(), f"${ENV_DATABASE_URL}"
    try:
        parsed = make_url(url)
        backend = parsed.get_backend_name()
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number ("[::1:5432")
        backend = ""
    if backend not in ("sqlite", "postgresql"):  # the URL is not echoed: it may hold a password
        raise ConfigError(
            f"{where}: expected a SQLite or PostgreSQL URL such as sqlite:///loyalty.db or "
            "postgresql+psycopg://user@host/dbname"
        )
    if parsed.port is not None and not 0 < parsed.port <= 65535:
        raise ConfigError(f"{where}: expected a port from 1 to 65535, got {parsed.port}")
    return DatabaseConfig(url=url)


def _sync(root: Table) -> SyncConfig:
    t = root.table("sync", tuple(f.name for f in fields(SyncConfig)))
    d = SyncConfig()
    return SyncConfig(
        overlap_minutes=t.integer("overlap_minutes", d.overlap_minutes, lo=0, limit=7 * 24 * 60),
        reconcile_every_hours=t.number(
            "reconcile_every_hours", d.reconcile_every_hours, positive=False, limit=365 * 24
        ),
        rescan_days=t.integer("rescan_days", d.rescan_days, lo=0, limit=3650),
    )


def _dashboard(root: Table, env: Mapping[str, str]) -> DashboardConfig:
    t = root.table("dashboard", tuple(f.name for f in fields(DashboardConfig)))
    token = _secret(t, "admin_token", env, ENV_DASHBOARD_TOKEN, required=False)
    if token and len(token.reveal()) < 16:
        where = (
            f"${ENV_DASHBOARD_TOKEN}" if env.get(ENV_DASHBOARD_TOKEN, "").strip() else "the file"
        )
        t.complain(
            "admin_token",
            f"too short (from {where}): expected at least 16 characters (or none: no admin)",
        )
    currency = t.string("currency", "EUR", nonempty=True)
    if len(currency) != 3 or not currency.isalpha() or not currency.isupper():
        t.fail("currency", "a three-letter ISO 4217 code such as EUR", currency)
    expected = 'an array of host names or IP addresses, such as ["loyalty.example.com"]'
    names = t.raw("allowed_hosts", [], expected)
    if not isinstance(names, list):
        t.fail("allowed_hosts", expected, names)
    for i, name in enumerate(names):
        if not isinstance(name, str) or not _HOST.fullmatch(name.strip("[]")):
            t.fail(f"allowed_hosts[{i}]", "a host name or an IP address, without a port", name)
    host = t.string("host", "127.0.0.1", nonempty=True)
    if not is_host(host):  # a URL, a port, a space: `loyalty check` passed it, the bind failed
        t.fail("host", "a host name or an IP address to listen on, without a scheme or port", host)
    return DashboardConfig(
        allowed_hosts=tuple(name.strip("[]").lower() for name in names),
        host=host.strip("[]"),
        port=t.integer("port", 8788, lo=1, hi=65535),
        admin_token=token,
        default_language=t.choice("default_language", "en", LANGUAGES),
        currency=currency,
    )


def _worker(root: Table) -> WorkerConfig:
    t = root.table("worker", tuple(f.name for f in fields(WorkerConfig)))
    broker_url = t.string("broker_url", DEFAULT_BROKER_URL, nonempty=True, show=False)
    try:
        urlsplit(broker_url).port  # noqa: B018 # parsing it is the check
        make_url(broker_url)  # as it is shown (`safe_url`)
    except (ValueError, ArgumentError):
        broker_url = ""  # the URL is not echoed: it may hold a password
    if "://" not in broker_url:
        t.complain("broker_url", "expected a broker URL such as redis://127.0.0.1:6379/0")
    clashing = sorted(
        _KOMBU_URL_PARTS.intersection(k for k, _ in parse_qsl(urlsplit(broker_url).query))
    )
    if clashing:  # kombu puts the query beside the URL's own parts: TypeError when it connects
        t.complain(
            "broker_url",
            f"{', '.join(clashing)} cannot be a query parameter of the broker URL (the worker's"
            " broker client reads it from the URL itself): write redis://:PASSWORD@host:6379/0",
        )
    scheme = urlsplit(broker_url).scheme.lower()
    if scheme not in REDIS_SCHEMES:  # the store's lock is held in Redis (`worker.store_lock`)
        t.complain(
            "broker_url",
            "expected a Redis URL (redis://, rediss:// or unix://): the worker holds each"
            f" store's sync lock in the broker's Redis; got a {scheme}:// URL",
        )
    week = 7 * 24 * 60
    worker = WorkerConfig(
        broker_url=broker_url,
        sync_every_minutes=t.integer("sync_every_minutes", 15, lo=1, limit=week),
        task_time_limit_minutes=t.integer("task_time_limit_minutes", 300, lo=2, limit=week),
        visibility_timeout_minutes=t.integer("visibility_timeout_minutes", 360, lo=3, limit=week),
        lock_timeout_seconds=t.integer("lock_timeout_seconds", 300, lo=1, limit=24 * 3600),
    )
    check_worker_limits(worker, where=f"{t.file}: worker")
    return worker


def check_worker_limits(worker: WorkerConfig, *, where: str) -> None:
    """Refuse a task time limit that does not end before the broker's visibility timeout."""
    if worker.task_time_limit_minutes >= worker.visibility_timeout_minutes:
        raise ConfigError(
            f"{where}.task_time_limit_minutes ({worker.task_time_limit_minutes}) must be less than"
            f" {where.rsplit(': ', 1)[-1]}.visibility_timeout_minutes"
            f" ({worker.visibility_timeout_minutes}): otherwise Redis hands a sync that is still"
            " running to a second worker"
        )


_POINTS_KEYS = tuple(f.name for f in fields(PointsConfig))
_META_KEYS = tuple(name for name in _POINTS_KEYS if name.endswith("_meta_key"))


def _points(root: Table) -> PointsConfig:
    t = root.table("points", _POINTS_KEYS)
    d = PointsConfig()
    keys = {name: _meta_key(t, name, getattr(d, name)) for name in _META_KEYS}
    seen: dict[str, str] = {}
    for name, value in keys.items():
        if value.lower() in seen:
            t.fail(name, f"a key different from {t.where(seen[value.lower()])}", value)
        seen[value.lower()] = name
    return PointsConfig(
        point_value=t.decimal("point_value", d.point_value, positive=True, limit=MAX_RATE),
        debt=DebtPolicy(t.choice("debt", d.debt.value, [p.value for p in DebtPolicy])),
        pending_days=t.integer("pending_days", d.pending_days, lo=0, hi=3650),
        **keys,
    )


def _expiry(root: Table) -> ExpiryRules:
    t = root.table("expiry", ("enabled", "mode", "days", "warn_days"))
    d = ExpiryRules()
    return ExpiryRules(
        enabled=t.boolean("enabled", d.enabled),
        mode=ExpiryMode(t.choice("mode", d.mode.value, [m.value for m in ExpiryMode])),
        days=t.integer("days", d.days, lo=1, hi=36500),
        warn_days=t.integer("warn_days", d.warn_days, lo=0, hi=36500),
    )


_REDEMPTION_KEYS = tuple(f.name for f in fields(RedemptionRules))


def _redemption(root: Table) -> RedemptionRules:
    t = root.table("redemption", _REDEMPTION_KEYS)
    d = RedemptionRules()
    tiers = _tiers(t)
    rate = (
        t.integer("points_per_unit", 0, lo=1, limit=POINTS_LIMIT)
        if "points_per_unit" in t.data
        else None
    )
    minimum = t.integer("minimum_points", d.minimum_points, lo=0, limit=POINTS_LIMIT)
    maximum = (
        t.integer("maximum_points", 0, lo=1, limit=POINTS_LIMIT)
        if "maximum_points" in t.data
        else None
    )
    if maximum is not None and maximum < minimum:
        t.fail("maximum_points", f"a number >= {t.where('minimum_points')} ({minimum})", maximum)
    prefix = t.string("code_prefix", d.code_prefix)
    if (problem := prefix_problem(prefix)) is not None:
        t.fail("code_prefix", problem, prefix)
    auto = t.string("auto_issue_tier", "", nonempty=True) if "auto_issue_tier" in t.data else None
    if auto is not None and auto not in {tier.name for tier in tiers}:
        names = ", ".join(tier.name for tier in tiers) or "(no tiers configured)"
        t.fail("auto_issue_tier", f"the name of a tier in {t.where('tiers')}: {names}", auto)
    return RedemptionRules(
        tiers=tiers,
        points_per_unit=rate,
        minimum_points=minimum,
        maximum_points=maximum,
        step=t.integer("step", d.step, lo=1, limit=POINTS_LIMIT),
        coupon_days=t.integer("coupon_days", d.coupon_days, lo=1, hi=3650),
        individual_use=t.boolean("individual_use", d.individual_use),
        code_prefix=prefix,
        return_points_on_expiry=t.boolean("return_points_on_expiry", d.return_points_on_expiry),
        auto_issue_tier=auto,
        request_scan=t.integer("request_scan", d.request_scan, lo=0, limit=1_000_000),
    )


def _tiers(t: Table) -> tuple[RedemptionTier, ...]:
    tiers: list[RedemptionTier] = []
    for item in t.tables("tiers", ("name", "points", "amount")):
        name = item.string("name", REQUIRED, nonempty=True)
        if name in {tier.name for tier in tiers}:
            item.fail("name", f"a name no other tier in {t.where('tiers')} uses", name)
        amount = item.decimal("amount", REQUIRED, positive=True, limit=MAX_AMOUNT)
        if amount != amount.quantize(Decimal("0.01")):
            item.fail("amount", 'an amount with at most 2 decimals, such as "10.00"', str(amount))
        points = item.integer("points", REQUIRED, lo=1, limit=POINTS_LIMIT)
        tiers.append(RedemptionTier(name, points, amount))
    return tuple(tiers)


def _customer_tiers(root: Table) -> TierRules:
    tiers: list[Tier] = []
    for item in root.tables("tiers", ("name", "min_points", "window_days", "multiplier")):
        name = item.string("name", REQUIRED, nonempty=True)
        if name != name.strip() or len(name) > 64:
            item.fail("name", "a name without surrounding spaces, at most 64 characters", name)
        if name in {tier.name for tier in tiers}:
            item.fail("name", "a name no other tier in [[tiers]] uses", name)
        minimum = item.integer("min_points", REQUIRED, lo=0, limit=POINTS_LIMIT)
        if minimum in {tier.min_points for tier in tiers}:
            item.fail("min_points", "a number no other tier in [[tiers]] uses", minimum)
        window = (
            item.integer("window_days", 0, lo=1, hi=36500) if "window_days" in item.data else None
        )
        multiplier = item.decimal("multiplier", Decimal(1), positive=True, limit=MAX_RATE)
        tiers.append(Tier(name, minimum, multiplier, window))
    return TierRules(tuple(sorted(tiers, key=lambda tier: tier.min_points)))


_STAMP_CARD_KEYS = tuple(f.name for f in fields(StampCard))
CARD_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def _rewards(root: Table, points: PointsConfig) -> RewardsConfig:
    t = root.table("rewards", ("stamp_cards", "stamps_meta_key"))
    d = RewardsConfig()
    cards: list[StampCard] = []
    for item in t.tables("stamp_cards", _STAMP_CARD_KEYS):
        cards.append(_stamp_card(item, taken={card.name for card in cards}))
    meta_key = _meta_key(t, "stamps_meta_key", d.stamps_meta_key)
    if meta_key.lower() in {getattr(points, name).lower() for name in _META_KEYS}:
        t.fail("stamps_meta_key", "a key different from the points' meta keys", meta_key)
    return RewardsConfig(stamp_cards=tuple(cards), stamps_meta_key=meta_key)


def _stamp_card(t: Table, *, taken: set[str]) -> StampCard:
    d = StampCard(name="-", product_ids=frozenset({1}))
    name = t.string("name", REQUIRED, nonempty=True)
    if not CARD_NAME.fullmatch(name):
        t.fail("name", 'lowercase letters, digits, _ and -, at most 64, such as "coffee"', name)
    if name in taken:
        t.fail("name", "a name no other stamp card uses", name)
    products, categories = _ids(t, "product_ids"), _ids(t, "category_ids")
    if not products and not categories:
        t.complain("", "a stamp card needs product_ids or category_ids (or both)")
    reward = RewardKind(t.choice("reward", d.reward.value, [k.value for k in RewardKind]))
    amount = None
    if reward is RewardKind.AMOUNT:
        amount = t.decimal("reward_amount", REQUIRED, positive=True, limit=MAX_AMOUNT)
        if amount != amount.quantize(Decimal("0.01")):
            t.fail("reward_amount", 'an amount with at most 2 decimals, such as "5.00"', amount)
    elif "reward_amount" in t.data:
        t.complain("reward_amount", 'only with reward = "amount" (a free item has no amount)')
    return StampCard(
        name=name,
        product_ids=products,
        category_ids=categories,
        stamps_for_reward=t.integer("stamps_for_reward", d.stamps_for_reward, lo=1, hi=10_000),
        reward=reward,
        reward_amount=amount,
        statuses=t.strings("statuses", d.statuses, ORDER_STATUSES),
        coupon_days=t.integer("coupon_days", d.coupon_days, lo=1, hi=3650),
    )


def _ids(t: Table, key: str) -> frozenset[int]:
    value = t.raw(key, [], "an array of ids")
    expected = "an array of ids (whole numbers >= 1)"
    if not isinstance(value, list):
        t.fail(key, expected, value)
    for i, item in enumerate(value):
        if not isinstance(item, int) or isinstance(item, bool) or not 1 <= item <= MAX_BIGINT:
            t.fail(f"{key}[{i}]", "an id (a whole number >= 1)", item)
    return frozenset(value)


def _meta_key(t: Table, key: str, default: str) -> str:
    value = t.string(key, default, nonempty=True)
    if value != value.strip() or len(value) > 255:
        t.fail(key, "a meta key without surrounding spaces, at most 255 characters", value)
    # MySQL compares meta keys, and WordPress the table prefix, without regard to case.
    folded = value.lower()
    if folded in OWNED_META_KEYS:
        t.complain(
            key,
            f"{value!r} is refused: WordPress and WooCommerce own that customer field, and every"
            " write would overwrite it; choose another key such as loyalty_points",
        )
    hidden = "wp_" in folded or folded.startswith(HIDDEN_META_PREFIXES)
    if hidden:
        t.complain(
            key,
            f"{value!r} is refused: WooCommerce hides meta keys containing wp_ or starting with "
            f"{', '.join(HIDDEN_META_PREFIXES)} from REST reads, so every write would add a "
            "duplicate row; choose another key",
        )
    return value


def _review(rules: Table) -> ReviewRules:
    t = rules.table("review", tuple(f.name for f in fields(ReviewRules)))
    d = ReviewRules()
    return ReviewRules(**_activity(t, d), verified_only=t.boolean("verified_only", d.verified_only))


def _comment(rules: Table) -> CommentRules:
    t = rules.table("comment", tuple(f.name for f in fields(CommentRules)))
    d = CommentRules()
    return CommentRules(**_activity(t, d), replies=t.boolean("replies", d.replies))


def _activity(t: Table, d: ActivityRules) -> dict[str, Any]:
    """The keys every activity source's table shares (`[rules.review]`, `[rules.comment]`), with
    that source's defaults `d`."""
    return {
        "enabled": t.boolean("enabled", d.enabled),
        "points": t.integer("points", d.points, lo=0, limit=POINTS_LIMIT),
        "max_per_day": t.integer("max_per_day", d.max_per_day, lo=0, limit=MAX_PER_DAY),
        "min_length": t.integer("min_length", d.min_length, lo=0, limit=MAX_TEXT_LENGTH),
    }


def _purchase_book(rules: Table) -> PurchaseRuleBook:
    t = rules.table("purchase", (*_RULE_KEYS, "previous"))
    current = _purchase_rules(t, previous=False)
    older = [_purchase_rules(p, previous=True) for p in t.tables("previous", _RULE_KEYS)]
    for i, rule in enumerate(older):
        item = f"previous[{i}]"
        if rule.version in {r.version for r in [current, *older[:i]]}:
            t.fail(f"{item}.version", "a version name no other rule set uses", rule.version)
        if rule.effective_from in {r.effective_from for r in older[:i]}:
            t.fail(f"{item}.effective_from", "a date no other rule set uses", rule.effective_from)
        if rule.effective_from >= current.effective_from:
            expected = f"a date before {t.where('effective_from')} ({current.effective_from})"
            t.fail(f"{item}.effective_from", expected, rule.effective_from)
    versions = sorted([*older, current], key=lambda r: r.effective_from)
    return PurchaseRuleBook(versions=tuple(versions))  # oldest first: the current one is last


def _purchase_rules(t: Table, *, previous: bool) -> PurchaseRules:
    """One rule set; an earlier one (`previous`) must name its version and effective_from."""
    d = PurchaseRules()
    return PurchaseRules(
        version=t.string("version", REQUIRED if previous else d.version, nonempty=True),
        effective_from=t.day("effective_from", REQUIRED if previous else d.effective_from),
        points_per_unit=t.decimal("points_per_unit", d.points_per_unit, limit=MAX_RATE),
        rounding=Rounding(t.choice("rounding", d.rounding.value, [r.value for r in Rounding])),
        include_shipping=t.boolean("include_shipping", d.include_shipping),
        include_tax=t.boolean("include_tax", d.include_tax),
        include_fees=t.boolean("include_fees", d.include_fees),
        earn_statuses=t.strings("earn_statuses", d.earn_statuses, ORDER_STATUSES),
        minimum_order_amount=t.decimal(
            "minimum_order_amount", d.minimum_order_amount, limit=MAX_AMOUNT
        ),
        no_points_with_coupon=t.boolean("no_points_with_coupon", d.no_points_with_coupon),
        max_points_per_order=t.integer("max_points_per_order", 0, lo=0, limit=POINTS_LIMIT) or None,
        award_guests=t.boolean("award_guests", d.award_guests),
        product_overrides=_overrides(t, "products"),
        category_overrides=_overrides(t, "categories"),
    )


def _overrides(t: Table, key: str) -> Mapping[int, ItemOverride]:
    result: dict[int, ItemOverride] = {}
    for item in t.tables(key, ("id", *_OVERRIDE_KINDS)):
        item_id = item.integer("id", REQUIRED, lo=1)
        if item_id in result:
            item.fail("id", f"an id not listed earlier in {t.where(key)}", item_id)
        given = [k for k in _OVERRIDE_KINDS if k in item.data]
        if len(given) != 1:
            item.complain(
                "", f"expected exactly one of multiplier, fixed_points, exclude = true; got {given}"
            )
        if given == ["exclude"] and not item.boolean("exclude", True):
            item.fail("exclude", "true (leave the entry out to not exclude)", False)
        result[item_id] = ItemOverride(
            multiplier=item.decimal("multiplier", Decimal(0), limit=MAX_RATE)
            if given == ["multiplier"]
            else None,
            fixed_points=item.integer("fixed_points", 0, lo=0, limit=POINTS_LIMIT)
            if given == ["fixed_points"]
            else None,
            excluded=given == ["exclude"],
        )
    return MappingProxyType(result)


def _register_secrets(config: Config) -> None:
    """Tell the log redactor every secret value, including the Basic auth header forms."""
    pairs = []
    if config.store is not None:
        key, secret = config.store.consumer_key.reveal(), config.store.consumer_secret.reveal()
        register_secret(key)
        register_secret(secret)
        pairs.append(f"{key}:{secret}")
    if config.dashboard.admin_token:
        register_secret(config.dashboard.admin_token.reveal())
    password = config.wordpress.app_password.reveal()
    if password:
        register_secret(password)
        register_secret(password.replace(" ", ""))  # WordPress accepts it with or without spaces
        pairs.append(f"{config.wordpress.username}:{password}")
    for pair in pairs:
        register_secret(base64.b64encode(pair.encode()).decode())
    for url in (config.database.url, config.worker.broker_url):
        for url_secret in url_secrets(url):
            register_secret(url_secret)
