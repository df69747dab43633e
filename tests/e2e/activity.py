"""What the activity tests (reviews, comments) read back: a reference's entries, a holder's balance,
a customer's meta, and a config with a source turned on (and WordPress's credentials)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import Engine, select

from ledger.models import PointEntry, QuarantinedItem
from ledger.session import session_scope
from loyalty.config import Config, WordPressConfig
from loyalty.secret import Secret
from tests.e2e.conftest import balances_of


def entries_of(engine: Engine, ref: str) -> list[int]:
    """The points of every entry of `ref`, in the order they were appended."""
    with session_scope(engine) as session:
        return list(
            session.execute(
                select(PointEntry.points)
                .where(PointEntry.source_ref == ref)
                .order_by(PointEntry.id)
            ).scalars()
        )


def balance(config: Config, engine: Engine, *, wc_id: int | None = None, email: str = "") -> int:
    """What an account (by WooCommerce id) or a guest (by email) holds in the ledger."""
    for row in balances_of(config, engine):
        if (wc_id is not None and row.customer_id == wc_id) or (
            wc_id is None and row.customer_id is None and row.email == email
        ):
            return int(row.balance)
    return 0


def quarantined(engine: Engine, resource: str) -> dict[str, str]:
    with session_scope(engine) as session:
        rows = session.execute(
            select(QuarantinedItem.item_ref, QuarantinedItem.error).where(
                QuarantinedItem.resource == resource, QuarantinedItem.resolved_at.is_(None)
            )
        ).all()
    return {str(ref): str(error) for ref, error in rows}


def with_rules(config: Config, **rules: Any) -> Config:
    """`config` with [rules.*] tables replaced (review=ReviewRules(...), comment=...)."""
    return replace(config, rules=replace(config.rules, **rules))


WP_USER, WP_PASSWORD = "editor", "abcd efgh ijkl mnop qrst uvwx"  # the e2e sandbox's


def with_wordpress(config: Config, username: str = WP_USER, password: str = WP_PASSWORD) -> Config:
    """`config` with the WordPress Application Password the blog comments are read with."""
    assert config.store is not None
    wordpress = WordPressConfig(
        url=config.store.url, username=username, app_password=Secret(password)
    )
    return replace(config, wordpress=wordpress)
