"""The Celery app (Redis broker), its beat schedule and its tasks: a few lines each.

Tasks take plain JSON values and call the same service functions as the CLI. `acks_late` is safe
because every task may run twice: a sync reconciles, it never replays. One sync per store runs at a
time: the task takes a Redis lock named after the store and skips (rather than queues behind) a
sync that is already running, since that sync will pick up the same changes.

Configuration comes from the file named by LOYALTY_CONFIG (or ./loyalty.toml), loaded once.
"""

from __future__ import annotations

import logging
from functools import cache
from typing import Any

import redis
from celery import Celery

from loyalty.config import Config, find_config_path, load_config

log = logging.getLogger("worker")


@cache
def config() -> Config:
    """The typed config, loaded once per worker process."""
    return load_config(find_config_path(None))


def make_app(cfg: Config) -> Celery:
    celery = Celery("loyalty", broker=cfg.worker.broker_url, backend=cfg.worker.broker_url)
    celery.conf.update(
        task_acks_late=True,  # every task is idempotent, so a crash mid-task just runs it again
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # long syncs: don't hoard tasks other workers could run
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_expires=24 * 3600,
        broker_connection_retry_on_startup=True,
        # Longer than the longest sync, or Redis would hand an unacked sync to a second worker.
        broker_transport_options={"visibility_timeout": 6 * 3600},
        beat_schedule={
            "sync-store": {
                "task": "worker.sync_store_task",
                "schedule": cfg.worker.sync_every_minutes * 60.0,
            }
        },
    )
    return celery


app = make_app(config())


@app.task(name="worker.sync_store_task")
def sync_store_task(full: bool = False) -> dict[str, Any]:
    """Sync the configured store unless a sync of it is already running; returns the summary."""
    from sync.service import run_sync

    cfg = config()
    lock = redis.Redis.from_url(cfg.worker.broker_url).lock(
        f"loyalty:sync:{cfg.require_store().key}", timeout=6 * 3600, blocking=False
    )
    if not lock.acquire():
        log.info("a sync of this store is already running; skipped")
        return {"skipped": "already running"}
    try:
        return run_sync(cfg, full=full).as_dict()
    finally:
        lock.release()
