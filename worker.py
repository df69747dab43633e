"""The Celery app (Redis broker), its beat schedule and its tasks: a few lines each.

Tasks take plain JSON values and call the same service functions as the CLI. `acks_late` is safe
because every task may run twice: a sync reconciles, it never replays. One sync per store runs at a
time: the task takes a Redis lock named after the store and skips (rather than queues behind) a
sync that is already running, since that sync will pick up the same changes. The lock has a token
and an expiry (`[worker] lock_timeout_seconds`) and is renewed while the sync runs, so a killed
worker's lock expires soon and a long sync never loses it. The sync itself also holds the store's
lock in the ledger database, which cron and the CLI see too.

Tasks stop after `[worker] task_time_limit_minutes`, which must be less than the broker's
visibility timeout: the worker refuses to start otherwise.

Configuration comes from the file named by LOYALTY_CONFIG (or ./loyalty.toml), loaded once.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

import redis
from celery import Celery
from celery.schedules import crontab
from celery.signals import after_setup_logger, after_setup_task_logger
from redis.exceptions import LockError, RedisError

from ledger.errors import SyncAlreadyRunning
from loyalty.config import Config, WorkerConfig, find_config_path, load_config
from loyalty.errors import ConfigError, SyncFailed
from loyalty.log import RedactingFilter, redact

log = logging.getLogger("worker")


@cache
def config() -> Config:
    """The typed config, loaded once per worker process."""
    return load_config(find_config_path(None))


def make_app(cfg: Config) -> Celery:
    celery = Celery("loyalty", broker=cfg.worker.broker_url, backend=cfg.worker.broker_url)
    time_limit = cfg.worker.task_time_limit_minutes * 60
    celery.conf.update(
        task_acks_late=True,  # every task is idempotent, so a crash mid-task just runs it again
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # long syncs: don't hoard tasks other workers could run
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_expires=24 * 3600,
        broker_connection_retry_on_startup=True,
        # Longer than the longest task, or Redis would hand an unacked sync to a second worker.
        broker_transport_options={"visibility_timeout": cfg.worker.visibility_timeout_minutes * 60},
        task_time_limit=time_limit,
        task_soft_time_limit=time_limit - 60,  # the sync fails cleanly and records its run first
        beat_schedule=_beat_schedule(cfg),
    )
    check_time_limits(celery)
    return celery


def _beat_schedule(cfg: Config) -> dict[str, dict[str, Any]]:
    schedule: dict[str, dict[str, Any]] = {
        "sync-store": {
            "task": "worker.sync_store_task",
            "schedule": cfg.worker.sync_every_minutes * 60.0,
        }
    }
    if cfg.expiry.enabled:  # daily, just after the UTC day boundary that expiry dates are on
        schedule["expire-points"] = {
            "task": "worker.expire_points_task",
            "schedule": crontab(minute=5, hour=0),
        }
    return schedule


def check_time_limits(celery: Celery) -> None:
    """Raise ConfigError unless every task ends before the broker's visibility timeout."""
    limit = celery.conf.task_time_limit
    visibility = (celery.conf.broker_transport_options or {}).get("visibility_timeout", 3600)
    if not limit or limit >= visibility:
        raise ConfigError(
            f"worker: the task time limit ({limit} s) must be less than the broker's visibility"
            f" timeout ({visibility} s): set [worker] task_time_limit_minutes below"
            " visibility_timeout_minutes"
        )


def _load_app() -> Celery:
    try:
        return make_app(config())
    except ConfigError as error:  # one line and exit 2, as the CLI does, not an import traceback
        print(f"loyalty worker: error: {redact(str(error))}", file=sys.stderr)
        raise SystemExit(2) from None


app = _load_app()


@after_setup_logger.connect
@after_setup_task_logger.connect
def _redact_celery_logs(logger: logging.Logger, **_: Any) -> None:
    """Celery's own handlers get the same redaction as ours: a task's error may quote a secret."""
    for handler in logger.handlers:
        handler.addFilter(RedactingFilter())


@app.task(name="worker.sync_store_task")
def sync_store_task(full: bool = False) -> dict[str, Any]:
    """Sync the configured store unless a sync of it is already running; returns the summary."""
    from loyalty.sync_settings import sync_settings
    from sync.service import run_sync

    cfg = config()
    with store_lock(cfg.worker, cfg.require_store().key) as held:
        if not held:
            log.info("a sync of this store is already running; skipped")
            return {"skipped": "already running"}
        try:
            summary = run_sync(sync_settings(cfg), full=full)
        except SyncAlreadyRunning as running:  # started by cron or the CLI
            log.info("%s; skipped", running)
            since = running.since.isoformat() if running.since else None
            return {"skipped": "already running", "since": since}
        except Exception as error:  # the result backend stores the error: not a store's echo
            log.exception("sync failed")  # the handlers redact it, traceback included
            raise SyncFailed(redact(f"{type(error).__name__}: {error}")) from None
        if not summary.ok:  # what `loyalty sync` exits 1 for: a source stopped, balances unwritten
            log.error("sync needs attention: %s", summary.failure())
            raise SyncFailed(redact(f"the sync needs attention: {summary.failure()}"))
        return summary.as_dict()


@app.task(name="worker.expire_points_task")
def expire_points_task(as_of: str | None = None) -> dict[str, Any]:
    """Expire the configured store's due points (`loyalty expire`); returns the totals."""
    from ledger.customers import get_or_create_store
    from ledger.session import create_engine_for, session_scope
    from sync.expiry import run_expiry

    cfg = config()
    now = datetime.now(UTC)
    day = date.fromisoformat(as_of) if as_of else now.date()
    if day > now.date():  # as `loyalty expire`: points would expire before their time, for good
        raise ValueError(f"as_of {as_of} is in the future: nothing is expired ahead of its day")
    engine = create_engine_for(cfg.database.url)
    try:
        with session_scope(engine) as session:
            store = get_or_create_store(session, cfg.require_store().key)
            run = run_expiry(session, store.id, cfg.expiry, as_of=day, now=now)
            return {"as_of": day.isoformat(), **run.totals()}
    finally:
        engine.dispose()


@contextmanager
def store_lock(worker: WorkerConfig, store_key: str) -> Iterator[bool]:
    """Hold the store's Redis lock for the block, renewed while it runs; yields False (holding
    nothing) when another worker holds it. Losing or releasing the lock never hides the outcome."""
    ttl = worker.lock_timeout_seconds
    lock = redis.Redis.from_url(worker.broker_url).lock(
        f"loyalty:sync:{store_key}", timeout=ttl, blocking=False, thread_local=False
    )
    if not lock.acquire():
        yield False
        return
    stop = threading.Event()
    renewer = threading.Thread(
        target=_renew, args=(lock, ttl, stop), name="sync-lock-renewal", daemon=True
    )
    renewer.start()
    try:
        yield True
    finally:
        stop.set()
        renewer.join(timeout=ttl)
        try:
            lock.release()
        except (LockError, RedisError) as error:  # expired or taken: it is not ours to release
            log.warning("the store's sync lock was no longer held at the end: %s", error)


def _renew(lock: Any, ttl: int, stop: threading.Event) -> None:
    """Reset the lock's expiry every third of it, until `stop`; gives up if the lock was lost."""
    while not stop.wait(ttl / 3):
        try:
            lock.reacquire()
        except LockError:
            log.error("the store's sync lock expired or was taken while the sync ran")
            return
        except RedisError as error:  # Redis briefly away: the next beat may still make it
            log.warning("could not renew the store's sync lock: %s", error)
