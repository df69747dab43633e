"""The one place the configuration becomes the sync's narrow settings and the store's client.

For the CLI, the worker and the dashboard: `run_sync(sync_settings(config), ...)`, and
`make_client(store)` wherever the store is talked to outside a sync (redemptions).
"""

from __future__ import annotations

from dataclasses import replace

from loyalty.config import Config, StoreConfig, WordPressConfig
from rules.pending import PendingRules
from sync.client import ClientSettings, StoreClient
from sync.settings import SyncSettings
from sync.stamps import StampSettings


def client_settings(store: StoreConfig) -> ClientSettings:
    """How to reach the configured store (secrets revealed for the client only)."""
    return ClientSettings(
        url=store.url,
        consumer_key=store.consumer_key.reveal(),
        consumer_secret=store.consumer_secret.reveal(),
        timeout=store.timeout,
        max_requests_per_second=store.max_requests_per_second,
        max_retry_seconds=store.max_retry_seconds,
        verify_tls=store.verify_tls,
        max_response_bytes=store.max_response_mb * 2**20,
        concurrency=store.concurrency,
        per_page=store.per_page,
    )


def wordpress_settings(wordpress: WordPressConfig, store: StoreConfig) -> ClientSettings | None:
    """How to reach WordPress's `wp/v2` (blog comments): HTTP Basic with the user and its
    Application Password, the store's limits; None unless both are set."""
    password = wordpress.app_password.reveal()
    if not wordpress.username or not password:
        return None
    store_side = client_settings(store)
    return replace(
        store_side,
        url=wordpress.url or store.url,
        consumer_key=wordpress.username,
        consumer_secret=password,
        version="wp/v2",
        basic_auth=True,
        auth_hint=(
            "check [wordpress] username and app_password: a WordPress user who can moderate"
            " comments, and one of its Application Passwords"
        ),
    )


def make_client(store: StoreConfig) -> StoreClient:
    """The client for the configured store (the sync's, the CLI's redemptions')."""
    return StoreClient(client_settings(store))


def sync_settings(config: Config) -> SyncSettings:
    """What `run_sync` needs from `config`. Raises ConfigError when no store is configured."""
    store = config.require_store()
    return SyncSettings(
        store_key=store.key,
        client=client_settings(store),
        database_url=config.database.url,
        concurrency=store.concurrency,
        overlap_minutes=config.sync.overlap_minutes,
        reconcile_every_hours=config.sync.reconcile_every_hours,
        rescan_days=config.sync.rescan_days,
        purchase=config.rules.purchase,
        first_order_points=config.rules.first_order_points,
        review=config.rules.review,
        comment=config.rules.comment,
        wordpress=wordpress_settings(config.wordpress, store),
        signup_points=config.rules.signup_points,
        redemption=config.redemption,
        balance_meta_key=config.points.balance_meta_key,
        lifetime_meta_key=config.points.lifetime_meta_key,
        stamps=StampSettings(config.rewards.stamp_cards, config.rewards.stamps_meta_key),
        expiry=config.expiry,
        expiring_meta_key=config.points.expiring_meta_key,
        debt=config.points.debt,
        pending=PendingRules(days=config.points.pending_days),
        pending_meta_key=config.points.pending_meta_key,
        tiers=config.tiers,
        tier_meta_key=config.points.tier_meta_key,
    )
