"""The ledger's tables, as typed SQLAlchemy 2 mappings.

Everything the engine persists lives here: stores and customers, the append-only `point_entries`
with their cached `balances`, and the sync's own bookkeeping (cursors, quarantine, tracked orders,
refund cache, meta write-back state, run records). The sync, reports and CLI import these classes;
the schema itself is created by the Alembic migrations in `ledger/migrations/`, never by
`metadata.create_all`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Mapper, mapped_column

from ledger.types import UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Autoincrement keys: BIGINT on PostgreSQL; on SQLite only INTEGER PRIMARY KEY aliases the rowid.
Id = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    """The default for `created_at`-like columns: aware UTC now."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base: every datetime column is a `UTCDateTime`, every constraint is named."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), int: BigInteger()}


class Store(Base):
    """One WooCommerce shop; `key` is its normalised URL (`shop.example.com/base`)."""

    __tablename__ = "stores"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Customer(Base):
    """Who holds points: a store account (`wc_id`) or a guest known only by billing email."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    wc_id: Mapped[int | None] = mapped_column()
    email: Mapped[str | None] = mapped_column(String(320))
    is_guest: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: When the sync learned the account was deleted in the store; its points went to its email.
    deleted_at: Mapped[datetime | None]
    #: The account whose signup points its balance carries (its own, or one whose balance came
    #: to it: `ledger.customers.carry_signup`); an account carrying another's earns no signup.
    signup_of: Mapped[int | None] = mapped_column(Id)

    __table_args__ = (
        # A guest has an email and no account id; an account always has its id.
        CheckConstraint(
            "(is_guest AND wc_id IS NULL AND email IS NOT NULL) OR (NOT is_guest AND wc_id IS NOT NULL)",
            name="identity",
        ),
        Index(
            "ux_customers_store_id_wc_id",
            "store_id",
            "wc_id",
            unique=True,
            sqlite_where=text("wc_id IS NOT NULL"),
            postgresql_where=text("wc_id IS NOT NULL"),
        ),
        # Guest orders look accounts up by email, and registrations look guests up by email.
        Index(None, "store_id", "email"),
        Index(
            "ux_customers_store_id_guest_email",
            "store_id",
            "email",
            unique=True,
            sqlite_where=text("is_guest"),
            postgresql_where=text("is_guest"),
        ),
    )


class CustomerMove(Base):
    """A customer's points moved as a balance to another (a guest that registered, an account
    deleted: `sync.owners.move_holdings`), its entries staying where they were. The move took the
    source's entries up to `after_entry_id` (the store's last entry when it was made): who holds
    an entry's points now is found by following the moves after it (`ledger.customers.heirs`)."""

    __tablename__ = "customer_moves"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    from_customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    to_customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    after_entry_id: Mapped[int] = mapped_column(Id)

    __table_args__ = (Index(None, "from_customer_id", "after_entry_id", "id"),)


class PointEntry(Base):
    """One movement of points. Append-only: corrections are new entries, never edits."""

    __tablename__ = "point_entries"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    points: Mapped[int]
    kind: Mapped[str] = mapped_column(String(32))
    source_ref: Mapped[str] = mapped_column(String(255))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    rule_version: Mapped[str | None] = mapped_column(String(64))
    occurred_at: Mapped[datetime]
    recorded_at: Mapped[datetime]
    note: Mapped[str | None] = mapped_column(Text)
    #: The customer's spendable balance right after this entry, in the order entries were recorded
    #: (id order): written once, at insert, from the locked balance row (`append_entries`).
    balance_after: Mapped[int]

    __table_args__ = (
        UniqueConstraint("store_id", "idempotency_key"),
        CheckConstraint("points <> 0", name="nonzero_points"),
        Index(None, "store_id", "source_ref"),
        # Points History pages by id (keyset), for one customer or for a whole store.
        Index(None, "customer_id", "id"),
        Index(None, "store_id", "id"),
        Index(None, "store_id", "occurred_at", "id"),
        Index(None, "customer_id", "occurred_at", "id", "kind", "points"),
    )


class PointRollup(Base):
    """The entries of one UTC day, store, kind and source, summed; moved with the entries.

    `credit` sums the positive points, `debit` the negative ones (<= 0), `entries` counts them.
    Points Status and Points Sources read these rows, never the entries; `loyalty verify` proves
    they equal the entries.
    """

    __tablename__ = "point_rollups"

    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    credit: Mapped[int] = mapped_column(default=0)
    debit: Mapped[int] = mapped_column(default=0)
    entries: Mapped[int] = mapped_column(default=0)


class EntryLine(Base):
    """The share of one entry's points that belongs to one product (purchase entries).

    The lines of an entry add up to its points. Product 0 is what no product carries: shipping and
    fees, and purchase entries recorded before lines existed. `category_id` is the product's first
    category when the sync knew it, else 0.
    """

    __tablename__ = "entry_lines"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    entry_key: Mapped[str] = mapped_column(String(255))
    source_ref: Mapped[str] = mapped_column(String(255))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    day: Mapped[date] = mapped_column(Date)
    product_id: Mapped[int]
    category_id: Mapped[int]
    points: Mapped[int]

    __table_args__ = (
        UniqueConstraint("store_id", "entry_key", "product_id", "category_id"),
        Index(None, "store_id", "source_ref"),
        Index(None, "store_id", "product_id", "customer_id"),
    )


class ProductSpan(Base):
    """Entry lines summed per store, product, category and span of days (`ledger.product_spans`:
    leaf `2**22 + day.toordinal()` is one UTC day, span n the sum of spans 2n and 2n + 1); moved
    with the lines. The primary key keeps each span's products side by side."""

    __tablename__ = "product_spans"

    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), primary_key=True)
    span: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    product_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    category_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    points: Mapped[int] = mapped_column(default=0)


class CustomerEarning(Base):
    """A customer's earnings (the lifetime kinds) on one UTC day, and their running total through
    that day; moved with the entries. Top Earning Customers over a range reads two rows per
    customer (the totals at the range's ends), whatever the number of entries."""

    __tablename__ = "customer_earnings"

    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id"), primary_key=True, autoincrement=False
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    earned: Mapped[int] = mapped_column(default=0)  # that day's lifetime points
    total: Mapped[int] = mapped_column(default=0)  # every earlier day's and this day's


class ProductCustomerSum(Base):
    """The entry lines of one product and customer, summed over all time; moved with the lines.

    `purchases` counts the distinct orders (source references) with lines for the pair.
    """

    __tablename__ = "product_customers"

    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), primary_key=True)
    product_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id"), primary_key=True, autoincrement=False
    )
    points: Mapped[int] = mapped_column(default=0)
    purchases: Mapped[int] = mapped_column(default=0)

    __table_args__ = (Index(None, "store_id", "product_id", "points", "customer_id"),)


class Category(Base):
    """A product category's name, as the store's product listing showed it, for reports."""

    __tablename__ = "categories"

    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), primary_key=True)
    category_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(255))


class Product(Base):
    """A product's name as the store's orders last showed it, for reports."""

    __tablename__ = "products"

    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), primary_key=True)
    product_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(255))


class Balance(Base):
    """The cached balance and lifetime of a customer, moved in the same transaction as entries."""

    __tablename__ = "balances"

    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id"), primary_key=True, autoincrement=False
    )
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    balance: Mapped[int] = mapped_column(default=0)
    lifetime: Mapped[int] = mapped_column(default=0)
    #: Pending purchase points (`[points] pending_days`): not spendable yet, outside `balance`.
    pending: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    updated_at: Mapped[datetime]

    __table_args__ = (
        Index(None, "store_id", "balance"),
        Index(None, "store_id", "lifetime"),  # Top Earning Customers over all time
    )


class NextExpiry(Base):
    """A customer's next expiry (`sync.expiry`): `points` expire at 00:00 UTC of `day`.

    Derived from the entries, refreshed for the customers whose entries changed and daily by the
    expiry run; no row when nothing expires. `meta` is the value written to the customer's
    `loyalty_points_expiring` meta, `{"points": N, "date": "YYYY-MM-DD"}`.
    """

    __tablename__ = "next_expiries"

    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id"), primary_key=True, autoincrement=False
    )
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    points: Mapped[int]
    day: Mapped[date] = mapped_column(Date)
    meta: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index(None, "store_id", "day"),)  # the expiring report, by date


class TierEvent(Base):
    """A customer's move from one tier to another (`[[tiers]]`; None: no tier), at `at`.

    Events, not point entries: recorded by `sync.tiers`, one per customer and moment; the latest
    one's `after` is the tier the customer holds (the `loyalty_tier` meta)."""

    __tablename__ = "tier_events"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    at: Mapped[datetime]
    before: Mapped[str | None] = mapped_column(String(64))
    after: Mapped[str | None] = mapped_column(String(64))
    recorded_at: Mapped[datetime]
    #: Where the move sits in Points History: right after this entry, the customer's last one at
    #: `at` (0: none). History pages entries by id and moves by (entry_id, id), merged.
    entry_id: Mapped[int] = mapped_column(Id, default=0, server_default=text("0"))

    __table_args__ = (
        UniqueConstraint("customer_id", "at"),
        Index(None, "store_id", "at", "id"),
        Index(None, "store_id", "entry_id", "id"),
        Index(None, "customer_id", "entry_id", "id"),
    )


class SyncCursor(Base):
    """Where the incremental sync of one resource of one store stands."""

    __tablename__ = "sync_cursors"

    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), primary_key=True)
    resource: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[datetime | None]
    state: Mapped[str] = mapped_column(Text, default="{}")  # JSON object
    updated_at: Mapped[datetime]


class QuarantinedItem(Base):
    """A source item the sync could not use, kept as received until it is fixed or resolved."""

    __tablename__ = "quarantined_items"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    resource: Mapped[str] = mapped_column(String(64))
    item_ref: Mapped[str] = mapped_column(String(255))
    payload: Mapped[str] = mapped_column(Text)  # the raw JSON as received, redacted, size-bounded
    error: Mapped[str] = mapped_column(Text)
    field: Mapped[str | None] = mapped_column(String(255))
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    count: Mapped[int] = mapped_column(Integer, default=1)
    resolved_at: Mapped[datetime | None]
    raw_size: Mapped[int | None] = mapped_column(Integer)  # characters of JSON as received

    __table_args__ = (
        UniqueConstraint("store_id", "resource", "item_ref"),
        Index(None, "store_id", "resolved_at"),
    )


class TrackedOrder(Base):
    """What the sync last knew and decided about one order."""

    __tablename__ = "tracked_orders"

    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), primary_key=True)
    order_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    wc_customer_id: Mapped[int | None]  # the order's customer_id as the store last sent it
    status: Mapped[str] = mapped_column(String(32))
    modified_at: Mapped[datetime]
    points: Mapped[int]  # the target last decided, not a delta
    rule_version: Mapped[str | None] = mapped_column(String(64))
    #: The tier the order earns at (`[[tiers]]`), fixed when first decided: "" for none, None
    #: for not decided yet.
    tier: Mapped[str | None] = mapped_column(String(64))
    refund_ids: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of ints
    fingerprint: Mapped[str] = mapped_column(String(128))
    last_seen_at: Mapped[datetime]
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (Index(None, "customer_id"),)


class TrackedActivity(Base):
    """What the sync last knew about one review or blog comment (`source` "review" or "comment").

    Activity rules decide over an owner's whole set of items (once per product or post, a daily
    cap ordered by date then id), so every item an owner has is kept here, earning or not; `points`
    is the target last decided (the ledger's `{source}:{item_id}` entries hold it). The text itself
    is not kept, only its length with tags stripped (what `min_length` reads).
    """

    __tablename__ = "tracked_activity"

    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), primary_key=True)
    source: Mapped[str] = mapped_column(String(16), primary_key=True)
    item_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    subject: Mapped[int]  # the product (reviews) or the post (comments)
    status: Mapped[str] = mapped_column(String(16))  # approved, hold, spam, trash, deleted
    created_at: Mapped[datetime]
    text_length: Mapped[int] = mapped_column(Integer)
    verified: Mapped[bool] = mapped_column(Boolean, default=False)  # reviews: a verified owner
    parent: Mapped[int] = mapped_column(default=0)  # comments: the comment replied to, or 0
    points: Mapped[int] = mapped_column(default=0)
    last_seen_at: Mapped[datetime]

    __table_args__ = (
        Index(None, "store_id", "source", "customer_id"),
        Index(None, "store_id", "source", "created_at"),
        Index(None, "customer_id"),
    )


class RefundDetail(Base):
    """A refund as fetched from the store, cached so each refund is fetched once."""

    __tablename__ = "refund_details"

    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), primary_key=True)
    refund_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    order_id: Mapped[int]
    payload: Mapped[str] = mapped_column(Text)  # JSON of the refund as received
    fetched_at: Mapped[datetime]
    # Read by refund id only: no index by order (migration 0017 dropped it: written, never read).


class MetaWrite(Base):
    """What was last written to a customer's meta in the store, and how writing it went."""

    __tablename__ = "meta_writes"

    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id"), primary_key=True, autoincrement=False
    )
    written_balance: Mapped[int | None]
    written_lifetime: Mapped[int | None]
    #: The `loyalty_points_expiring` value last written ("" = cleared; None = never written).
    written_expiring: Mapped[str | None] = mapped_column(String(64))
    #: The `loyalty_points_pending` value last written (None = never written).
    written_pending: Mapped[int | None]
    #: The `loyalty_tier` value last written ("" = no tier; None = never written).
    written_tier: Mapped[str | None] = mapped_column(String(64))
    written_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    gave_up: Mapped[bool] = mapped_column(
        Boolean, default=False
    )  # a per-item error that won't heal


class SyncRun(Base):
    """One run of a sync (or other job) against a store, for the record."""

    __tablename__ = "sync_runs"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    kind: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(
        String(16), default="running"
    )  # running/succeeded/failed/abandoned
    summary: Mapped[str] = mapped_column(Text, default="{}")  # JSON object

    __table_args__ = (Index(None, "store_id", "started_at"),)


class Redemption(Base):
    """Points turned into a store coupon. The row and its debit entry commit before the coupon
    exists in the store; `status` then moves pending -> issued -> used, or -> refused (debit
    reversed), or from issued -> expired/deleted (points returned or not, see `returned`)."""

    __tablename__ = "redemptions"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    request_key: Mapped[str] = mapped_column(String(255))  # one redemption per request
    request: Mapped[str] = mapped_column(Text, default="{}")  # JSON of what was asked for
    channel: Mapped[str] = mapped_column(String(16))  # admin, storefront, auto
    tier: Mapped[str | None] = mapped_column(String(255))
    points: Mapped[int]
    amount: Mapped[str] = mapped_column(String(32))  # store currency, a decimal string
    code: Mapped[str] = mapped_column(String(64))
    email: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    coupon_id: Mapped[int | None] = mapped_column()
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None]  # a process is issuing the coupon until then
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str | None] = mapped_column(Text)  # why refused, or the last error
    used_order_id: Mapped[int | None] = mapped_column()
    refunded_order_id: Mapped[int | None] = mapped_column()
    closed_at: Mapped[datetime | None]  # used, expired, deleted or refused
    #: The coupon's own fields (JSON) when it is not the points' fixed_cart coupon: a stamp
    #: card's free item (0 points) is a 100 % discount limited to the card's products.
    coupon: Mapped[str | None] = mapped_column(Text)
    #: When the coupon reached the customer's `loyalty_coupons` meta (storefront, auto and stamp
    #: card coupons; `sync.coupon_lists`); None until then.
    listed_at: Mapped[datetime | None]
    #: Used by an order since cancelled, trashed or deleted: the order's `last_seen_at` the store
    #: last answered for, when asked whether the use still counts (`sync.redemption_lifecycle`).
    drop_checked: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("store_id", "request_key"),
        UniqueConstraint("store_id", "code"),
        CheckConstraint("points >= 0", name="points_not_negative"),
        Index(None, "store_id", "status"),
        Index(None, "customer_id"),
    )


class StampOrder(Base):
    """The stamps one order carries on one card now, and the customer holding them."""

    __tablename__ = "stamp_orders"

    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), primary_key=True)
    card: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    stamps: Mapped[int]  # the target last decided (rows with none are removed)
    updated_at: Mapped[datetime]

    __table_args__ = (
        CheckConstraint("stamps > 0", name="positive_stamps"),
        Index(None, "customer_id", "card"),
    )


class StampCard(Base):
    """A customer's stamp card: the sum of its orders' stamps, and what its meta was last given."""

    __tablename__ = "stamp_cards"

    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id"), primary_key=True, autoincrement=False
    )
    card: Mapped[str] = mapped_column(String(64), primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    stamps: Mapped[int]
    written: Mapped[str | None] = mapped_column(Text)  # JSON last written to the meta, per card
    updated_at: Mapped[datetime]

    __table_args__ = (Index(None, "store_id"),)


def _aware_validator(owner: str) -> Any:
    def validate(target: Any, value: Any, _old: Any, _initiator: Any) -> Any:
        if isinstance(value, datetime) and (value.tzinfo is None or value.utcoffset() is None):
            raise ValueError(
                f"{owner} must be a timezone-aware datetime, got the naive {value.isoformat()}"
            )
        return value

    return validate


def _validate_datetimes_on_assignment() -> None:
    # UTCDateTime refuses naive values at flush time, far from the bug; validating on assignment
    # points at the line and names the attribute.
    for mapper in Base.registry.mappers:
        for column_property in mapper.column_attrs:
            if any(isinstance(column.type, UTCDateTime) for column in column_property.columns):
                owner = f"{mapper.class_.__name__}.{column_property.key}"
                attribute = getattr(mapper.class_, column_property.key)
                event.listen(attribute, "set", _aware_validator(owner), retval=True)


_validate_datetimes_on_assignment()


class AppendOnlyViolation(RuntimeError):
    """Raised when code tries to change or delete a point entry through the ORM."""


@event.listens_for(PointEntry, "before_update")
@event.listens_for(PointEntry, "before_delete")
def _refuse_entry_change(mapper: Mapper[Any], connection: Any, target: PointEntry) -> None:
    # The ledger's audit trail depends on entries never changing; corrections are new entries.
    raise AppendOnlyViolation(
        f"point entry {target.id} ({target.idempotency_key!r}) is append-only: "
        "append a correcting entry instead of changing it"
    )
