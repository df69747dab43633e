"""Accounts the store no longer has, and the balance write-back: steps shared by every source.

For the sources (an order that came back as a guest order names a suspect) and for the write-back
step (a customer it finds deleted): `retire_accounts` marks the accounts deleted and gives their
points back to their email (`sync.owners.retire_account`). `write_back` is the step that ends every
run: the changed balances written to the customers' meta (`sync.customer_meta.push_balances`),
with the stamp cards of the customers whose cards changed (`sync.stamps.StampMeta`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.batches import rows_in
from ledger.customers import account_customer
from ledger.entries import append_entries, lock_balances
from ledger.models import Customer
from sync.context import SyncContext
from sync.customer_meta import MoreMeta, WriteBackResult, push_balances
from sync.customers import fetch_existing_customer_ids
from sync.expiry import refresh_next_expiries
from sync.owners import retire_account, retiring_holders
from sync.point_meta import ExpiringMeta, PendingMeta, TierMeta
from sync.stamps import StampMeta


def retire_suspects(ctx: SyncContext, suspects: Collection[int]) -> None:
    """Ask the store for the accounts (WooCommerce ids) suspected deleted; retire those gone."""
    if not suspects:
        return
    with ctx.tx.unit() as session:
        rows = rows_in(
            session,
            suspects,
            lambda chunk: select(Customer.id, Customer.wc_id).where(
                Customer.store_id == ctx.store_id,
                Customer.wc_id.in_(chunk),
                Customer.deleted_at.is_(None),
            ),
        )
    known = {wc_id: customer_id for customer_id, wc_id in rows if wc_id is not None}
    if not known:
        return
    gone = set(known) - fetch_existing_customer_ids(ctx.client, known)
    if gone:
        with ctx.tx.unit() as session:
            retire_accounts(ctx, session, [known[wc_id] for wc_id in sorted(gone)])


def retire_unseen_accounts(ctx: SyncContext, wc_ids: Collection[int]) -> None:
    """Accounts an item names (a comment's `author`) that the ledger never saw with an email (no
    row, or one an earlier item made) and the store no longer has: recorded deleted, so that
    their items go to their email (`sync.owners.Owners.owner_for`). WordPress keeps a deleted
    user's comments naming the user; taken for a live account, their points went to a row without
    an email, which the write-back then found deleted: nothing could hold or move them."""
    if not wc_ids:
        return
    with ctx.tx.unit() as session:
        rows = rows_in(
            session,
            wc_ids,
            lambda chunk: select(Customer.wc_id, Customer.email, Customer.deleted_at).where(
                Customer.store_id == ctx.store_id, Customer.wc_id.in_(chunk)
            ),
        )
    seen = {wc_id for wc_id, email, deleted_at in rows if email or deleted_at is not None}
    unseen = set(wc_ids) - seen
    if not unseen:
        return
    gone = unseen - fetch_existing_customer_ids(ctx.client, unseen)
    if gone:
        with ctx.tx.unit() as session:
            accounts = [account_customer(session, ctx.store_id, w, None) for w in sorted(gone)]
            retire_accounts(ctx, session, [account.id for account in accounts])


def retire_accounts(ctx: SyncContext, session: Session, customer_ids: Sequence[int]) -> None:
    """Accounts the store no longer has: marked deleted, their points back to their email. Each
    move is appended before the next is read: an account's points may go to another retired
    after it (a newer account with the same email), whose move must carry them on."""
    retiring = [
        account
        for account in (session.get(Customer, c) for c in sorted(set(customer_ids)))
        if account is not None and not account.is_guest and account.deleted_at is None
    ]
    if len(retiring) > 1:  # every row the moves take, together and in order, before the first
        holders = retiring_holders(session, ctx.store_id, retiring)
        moving = {account.id for account in retiring} | holders
        lock_balances(session, ctx.store_id, sorted(moving), ctx.now)
    for account in retiring:
        moved = retire_account(
            session,
            ctx.store_id,
            account,
            bonus=ctx.settings.first_order_points,
            now=ctx.now,
            moved=ctx.owner_moved,
        )
        ctx.owners.forget(account)
        ctx.summary.accounts_deleted += 1
        ctx.record(append_entries(session, ctx.store_id, moved, now=ctx.now))


def write_back(ctx: SyncContext) -> None:
    """Changed balances to the store's customer meta, with the stamp cards, the next expiry, the
    pending points and the tier when they are on; customers found deleted are retired."""
    settings = ctx.settings
    more: list[MoreMeta] = []
    if settings.expiry.enabled:  # the next expiry of the customers whose entries changed
        with ctx.tx.unit() as session:
            refresh_next_expiries(
                session,
                ctx.store_id,
                settings.expiry,
                as_of=ctx.window_end().date(),
                now=ctx.now,
                dry_run=ctx.dry_run,
            )
        more.append(ExpiringMeta(ctx.store_id, settings.expiring_meta_key).pending)
    if settings.pending.enabled:
        more.append(PendingMeta(ctx.store_id, settings.pending_meta_key).pending)
    if settings.tiers.enabled:
        more.append(TierMeta(ctx.store_id, settings.tier_meta_key).pending)
    stamps = settings.stamps
    if stamps.cards:
        more.append(StampMeta(ctx.store_id, stamps, now=lambda: ctx.now).pending)
    ctx.progress.start("write-back")
    result: WriteBackResult = push_balances(
        ctx.client,
        ctx.tx.unit,
        ctx.store_id,
        balance_key=ctx.settings.balance_meta_key,
        lifetime_key=ctx.settings.lifetime_meta_key,
        now=lambda: ctx.now,
        dry_run=ctx.dry_run,
        on_gone=lambda session, ids: retire_accounts(ctx, session, ids),
        more_meta=more,
    )
    summary = ctx.summary
    summary.customers_written += result.written
    summary.write_failures += result.failed
    summary.write_gave_up += result.gave_up
    summary.pending_writes = result.pending if ctx.dry_run else result.failed
    summary.errors.extend(result.errors[:20])
    ctx.progress.advance(result.written)
    ctx.progress.finish()
