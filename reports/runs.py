"""The recent sync runs of a store, newest first, for the dashboard."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.models import SyncRun


@dataclass(frozen=True)
class RunRow:
    run_id: int
    kind: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    entries: int | None  # entries appended, when the summary says
    points: int | None  # net points, when the summary says


def recent_runs(session: Session, store_id: int, *, limit: int = 10) -> list[RunRow]:
    rows = session.execute(
        select(SyncRun)
        .where(SyncRun.store_id == store_id)
        .order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
        .limit(limit)
    ).scalars()
    return [_row(run) for run in rows]


def _row(run: SyncRun) -> RunRow:
    try:
        summary = json.loads(run.summary or "{}")
    except ValueError:
        summary = {}
    summary = summary if isinstance(summary, dict) else {}
    entries, points = summary.get("entries_appended"), summary.get("net_points")
    return RunRow(
        run_id=run.id,
        kind=run.kind,
        started_at=run.started_at,
        finished_at=run.finished_at,
        status=run.status,
        entries=entries if isinstance(entries, int) else None,
        points=points if isinstance(points, int) else None,
    )
