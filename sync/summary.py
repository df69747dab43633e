"""What a sync did, for the terminal, for `--json`, and for the run record."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ledger.entries import NewEntry
from rules import notes

MAX_CHANGES_SHOWN = 50


@dataclass
class SourceCounts:
    """What one source did in a run: items it read, entries it appended, their net points."""

    seen: int = 0
    entries: int = 0
    net_points: int = 0


@dataclass
class SyncSummary:
    dry_run: bool = False
    full: bool = False
    customers_seen: int = 0
    orders_seen: int = 0
    refunds_fetched: int = 0
    orders_deleted: int = 0
    entries_appended: int = 0
    net_points: int = 0
    transfers: int = 0
    accounts_deleted: int = 0
    customers_written: int = 0
    write_failures: int = 0
    write_gave_up: int = 0
    pending_writes: int = 0
    quarantined: int = 0
    orders_caught_up: int = 0  # orders modified during the run, caught up before it ended
    catch_up_passes: int = 0
    store_clock_skew_seconds: int | None = None  # store time minus local time, from its Date
    requests: int = 0
    seconds: float = 0.0
    redemptions: dict[str, int] = field(default_factory=dict)  # coupons issued, refused, ...
    sources: dict[str, SourceCounts] = field(default_factory=dict)  # per source, in run order
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    sources_stopped: list[str] = field(default_factory=list)  # their listings made no progress
    changes: list[NewEntry] = field(default_factory=list)  # dry run: what would be appended

    @property
    def ok(self) -> bool:
        """True when everything the run set out to do was done (write-back included)."""
        return self.write_failures == 0 and not self.sources_stopped

    def failure(self) -> str:
        """One line saying why the run is not ok (for the exit status)."""
        if self.sources_stopped:
            stopped = [e for e in self.errors if "listing stopped" in e]
            if stopped:
                return stopped[0]
            return notes.SOURCES_STOPPED(sources=", ".join(self.sources_stopped))
        return notes.BALANCES_NOT_WRITTEN(count=self.write_failures)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "dry_run": self.dry_run,
            "full": self.full,
            "customers_seen": self.customers_seen,
            "orders_seen": self.orders_seen,
            "refunds_fetched": self.refunds_fetched,
            "orders_deleted": self.orders_deleted,
            "entries_appended": self.entries_appended,
            "net_points": self.net_points,
            "transfers": self.transfers,
            "accounts_deleted": self.accounts_deleted,
            "customers_written": self.customers_written,
            "write_failures": self.write_failures,
            "write_gave_up": self.write_gave_up,
            "pending_writes": self.pending_writes,
            "quarantined": self.quarantined,
            "orders_caught_up": self.orders_caught_up,
            "catch_up_passes": self.catch_up_passes,
            "store_clock_skew_seconds": self.store_clock_skew_seconds,
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "redemptions": dict(self.redemptions),
            "sources": {name: vars(counts).copy() for name, counts in self.sources.items()},
            "errors": list(self.errors),
            "warnings": list(self.warnings),
            "sources_stopped": list(self.sources_stopped),
        }
        if self.dry_run:
            data["changes"] = [
                {
                    "customer": e.customer_id,
                    "points": e.points,
                    "kind": str(e.kind),
                    "source_ref": e.source_ref,
                    "note": e.note,
                }
                for e in self.changes
            ]
        return data

    def render(self) -> str:
        verb = "would append" if self.dry_run else "appended"
        lines = [
            f"{'Dry run: nothing was written. ' if self.dry_run else ''}"
            f"Sync {'(full) ' if self.full else ''}finished in {self.seconds:.1f}s "
            f"with {self.requests} requests to the store.",
            f"  orders seen           {self.orders_seen:>10,}",
            f"  refunds read          {self.refunds_fetched:>10,}",
            f"  new customers seen    {self.customers_seen:>10,}",
            f"  orders deleted        {self.orders_deleted:>10,}",
            f"  entries {verb:<14}{self.entries_appended:>10,}   (net {self.net_points:+,} points)",
            f"  guest balances moved  {self.transfers:>10,}",
        ]
        if self.accounts_deleted:
            lines.append(
                f"  accounts deleted      {self.accounts_deleted:>10,}   (points back to their email)"
            )
        if self.dry_run:
            lines.append(f"  customers to write    {self.pending_writes:>10,}")
        else:
            lines.append(f"  customers written     {self.customers_written:>10,}")
        lines.append(f"  items quarantined     {self.quarantined:>10,}")
        for name, source in self.sources.items():
            lines.append(
                f"  source {name:<15}{source.seen:>10,} seen, {source.entries:,} entries"
                f" (net {source.net_points:+,} points)"
            )
        if any(self.redemptions.values()):
            counts = ", ".join(f"{k} {v}" for k, v in self.redemptions.items() if v)
            lines.append(f"  redemptions           {counts}")
        if self.catch_up_passes:
            lines.append(
                f"  orders caught up      {self.orders_caught_up:>10,}   (modified during the"
                f" sync; {self.catch_up_passes} catch-up pass(es))"
            )
        lines += [f"  warning: {warning}" for warning in self.warnings]
        if self.write_failures or self.write_gave_up:
            lines.append(
                f"  write-back failed for {self.write_failures} customer(s) (retried next run),"
                f" gave up on {self.write_gave_up} (deleted in the store)"
            )
        lines += [f"  ! {error}" for error in self.errors[:10]]
        if self.dry_run and self.changes:
            lines.append("Changes it would make:")
            for e in self.changes[:MAX_CHANGES_SHOWN]:
                lines.append(
                    f"  {e.points:+8,}  {e.source_ref:<24} customer {e.customer_id}  {e.note or ''}"
                )
            if self.entries_appended > MAX_CHANGES_SHOWN:
                lines.append(f"  ... and {self.entries_appended - MAX_CHANGES_SHOWN:,} more")
        return "\n".join(lines)
