"""The SQLite spool: windows that CloudWatch has not accepted yet, kept across restarts.

A window enters the spool when the request carrying it failed (state
``failed``), or while it waits for a flush interval longer than the window
(state ``deferred``). The spool is bounded: beyond ``max_bytes`` the oldest
windows are dropped, and windows older than ``max_age`` are dropped
because CloudWatch rejects timestamps older than two weeks. Each drop is
returned to the caller to be counted.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from watchdog.errors import StorageError
from watchdog.metrics.datums import MetricDatum, dump_datums, load_datums
from watchdog.metrics.limits import request_size
from watchdog.storage import Store
from watchdog.storage.models import MetricSpoolEntry

logger = logging.getLogger(__name__)

DEFERRED = "deferred"
FAILED = "failed"


@dataclass(frozen=True)
class OutgoingWindow:
    """The data points of one window, the unit that is published, spooled and backfilled."""

    start: datetime
    datums: tuple[MetricDatum, ...]
    # Spool row id, or None for a window that was never spooled.
    spool_id: int | None = None

    @property
    def items(self) -> int:
        """Number of MetricData items."""
        return len(self.datums)

    @property
    def size(self) -> int:
        """Estimated bytes of request body."""
        return sum(request_size(datum) for datum in self.datums)


@dataclass(frozen=True)
class SpoolStats:
    """How much the spool holds."""

    windows: int
    size_bytes: int
    oldest: datetime | None


class MetricSpool:
    """Reads and writes the ``metric_spool`` table."""

    def __init__(self, store: Store, max_bytes: int, max_age: timedelta) -> None:
        self._store = store
        self.max_bytes = max_bytes
        self.max_age = max_age

    def add(
        self, windows: Sequence[OutgoingWindow], state: str, now: datetime, error: str | None = None
    ) -> int:
        """Store ``windows`` and return how many windows were dropped to stay within the size."""
        rows = [
            MetricSpoolEntry(
                window_start=window.start,
                state=state,
                payload=dump_datums(list(window.datums)),
                item_count=window.items,
                size_bytes=window.size,
                attempts=1 if state == FAILED else 0,
                last_error=error,
                spooled_at=now,
            )
            for window in windows
        ]
        try:
            with self._store.write_session() as session:
                session.add_all(rows)
                session.flush()
                dropped = self._trim(session)
        except SQLAlchemyError as exc:
            raise StorageError(f"writing {len(rows)} windows to the metric spool failed: {exc}") from exc
        return dropped

    def _trim(self, session: Session) -> int:
        total = session.scalar(select(func.coalesce(func.sum(MetricSpoolEntry.size_bytes), 0))) or 0
        if total <= self.max_bytes:
            return 0
        dropped = 0
        oldest_first = session.execute(
            select(MetricSpoolEntry.id, MetricSpoolEntry.size_bytes).order_by(
                MetricSpoolEntry.window_start, MetricSpoolEntry.id
            )
        ).all()
        doomed = []
        for row_id, size in oldest_first:
            if total <= self.max_bytes:
                break
            doomed.append(row_id)
            total -= size
            dropped += 1
        session.execute(delete(MetricSpoolEntry).where(MetricSpoolEntry.id.in_(doomed)))
        logger.warning(
            "metric spool over its %d-byte limit (metrics.spool_max_bytes): dropped the %d oldest windows",
            self.max_bytes,
            dropped,
        )
        return dropped

    def deferred(self) -> list[OutgoingWindow]:
        """Return every window waiting for the next flush, oldest first."""
        return self._select(MetricSpoolEntry.state == DEFERRED, limit=None)

    def oldest_failed(self, limit: int) -> list[OutgoingWindow]:
        """Return up to ``limit`` windows waiting for backfill, oldest first."""
        return self._select(MetricSpoolEntry.state == FAILED, limit=limit)

    def _select(self, condition: ColumnElement[bool], limit: int | None) -> list[OutgoingWindow]:
        query = (
            select(MetricSpoolEntry)
            .where(condition)
            .order_by(MetricSpoolEntry.window_start, MetricSpoolEntry.id)
        )
        if limit is not None:
            query = query.limit(limit)
        try:
            with self._store.session() as session:
                rows = session.scalars(query).all()
                return [
                    OutgoingWindow(
                        start=row.window_start,
                        datums=tuple(load_datums(row.payload)),
                        spool_id=row.id,
                    )
                    for row in rows
                ]
        except SQLAlchemyError as exc:
            raise StorageError(f"reading the metric spool failed: {exc}") from exc

    def delete(self, windows: Sequence[OutgoingWindow]) -> None:
        """Remove windows that CloudWatch accepted (or rejected for good)."""
        ids = [window.spool_id for window in windows if window.spool_id is not None]
        if not ids:
            return
        try:
            with self._store.session() as session:
                session.execute(delete(MetricSpoolEntry).where(MetricSpoolEntry.id.in_(ids)))
        except SQLAlchemyError as exc:
            raise StorageError(f"removing {len(ids)} windows from the metric spool failed: {exc}") from exc

    def mark_failed(self, windows: Sequence[OutgoingWindow], error: str) -> None:
        """Record a failed attempt on spooled windows; deferred ones now wait for backfill."""
        ids = [window.spool_id for window in windows if window.spool_id is not None]
        if not ids:
            return
        try:
            with self._store.session() as session:
                session.execute(
                    update(MetricSpoolEntry)
                    .where(MetricSpoolEntry.id.in_(ids))
                    .values(
                        state=FAILED,
                        attempts=MetricSpoolEntry.attempts + 1,
                        last_error=error[:1000],
                    )
                )
        except SQLAlchemyError as exc:
            raise StorageError(f"updating the metric spool failed: {exc}") from exc

    def expire(self, now: datetime) -> int:
        """Drop windows older than ``max_age`` and return how many."""
        try:
            with self._store.session() as session:
                result = session.execute(
                    delete(MetricSpoolEntry).where(MetricSpoolEntry.window_start < now - self.max_age)
                )
                expired = int(getattr(result, "rowcount", 0) or 0)
        except SQLAlchemyError as exc:
            raise StorageError(f"expiring old windows from the metric spool failed: {exc}") from exc
        if expired:
            logger.warning(
                "dropped %d spooled windows older than %s: CloudWatch rejects such timestamps",
                expired,
                self.max_age,
            )
        return expired

    def oldest_failed_start(self) -> datetime | None:
        """Return the start of the oldest window waiting for backfill, or None."""
        try:
            with self._store.session() as session:
                return session.scalar(
                    select(MetricSpoolEntry.window_start)
                    .where(MetricSpoolEntry.state == FAILED)
                    .order_by(MetricSpoolEntry.window_start)
                    .limit(1)
                )
        except SQLAlchemyError as exc:
            raise StorageError(f"reading the metric spool failed: {exc}") from exc

    def stats(self) -> SpoolStats:
        """Return the number of windows, their size and the oldest window's start."""
        try:
            with self._store.session() as session:
                count, size, oldest = session.execute(
                    select(
                        func.count(MetricSpoolEntry.id),
                        func.coalesce(func.sum(MetricSpoolEntry.size_bytes), 0),
                        func.min(MetricSpoolEntry.window_start),
                    )
                ).one()
        except SQLAlchemyError as exc:
            raise StorageError(f"reading the metric spool failed: {exc}") from exc
        return SpoolStats(windows=int(count), size_bytes=int(size), oldest=oldest)
