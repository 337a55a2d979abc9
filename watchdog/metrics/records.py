"""What the pipeline writes besides the spool: minute rollups, monthly counters, latest state.

Each tick writes its window's rollup and its counters in one transaction,
so ``status`` (another process) sees them consistent.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from watchdog.errors import StorageError
from watchdog.metrics.rollups import RollupValues, merge_window, minute_of
from watchdog.metrics.window import Window
from watchdog.storage import Store
from watchdog.storage.models import MetricCounter, MetricRollup, MetricState

# Counter names. Windows are counted whole; drops name their unit in the reason.
PUBLISHED = "published_windows"
SPOOLED = "spooled_windows"
BACKFILLED = "backfilled_windows"
REQUESTS = "put_metric_data_requests"
DROP_PREFIX = "dropped."
DROP_SPOOL_FULL = "spool_full_windows"
DROP_EXPIRED = "expired_windows"
DROP_REJECTED = "rejected_windows"
# Windows no tick closed, such as while the daemon was down or a tick missed its slot.
DROP_UNOBSERVED = "unobserved_windows"

# State names.
LAST_WINDOW = "last_window_start"
LAST_PUBLISHED = "last_published_at"
LAST_ERROR = "last_publish_error"
LAST_ERROR_AT = "last_publish_error_at"


def month_of(moment: datetime) -> str:
    """Return the UTC month of ``moment`` as ``YYYY-MM``."""
    return moment.strftime("%Y-%m")


def _to_row(values: RollupValues, row: MetricRollup) -> None:
    row.windows = values.windows
    row.worker_up_windows = values.worker_up_windows
    row.request_count = values.request_count
    row.error_count = values.error_count
    row.latency_ms = [[value, count] for value, count in sorted(values.latency_ms.items())]
    row.p50_ms = values.p50_ms
    row.p99_ms = values.p99_ms
    row.max_queue_depth = values.max_queue_depth
    row.max_in_flight = values.max_in_flight
    row.max_memory_rss = values.max_memory_rss
    row.max_memory_per_request = values.max_memory_per_request


def _from_row(row: MetricRollup) -> RollupValues:
    return RollupValues(
        minute=row.minute,
        windows=row.windows,
        worker_up_windows=row.worker_up_windows,
        request_count=row.request_count,
        error_count=row.error_count,
        latency_ms={float(value): int(count) for value, count in row.latency_ms},
        max_queue_depth=row.max_queue_depth,
        max_in_flight=row.max_in_flight,
        max_memory_rss=row.max_memory_rss,
        max_memory_per_request=row.max_memory_per_request,
    )


class MetricsRecorder:
    """Writes rollups, counters and state to the store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def record_window(
        self,
        window: Window,
        counts: Mapping[str, int],
        state: Mapping[str, str | None],
        now: datetime,
    ) -> None:
        """Merge ``window`` into its minute's rollup and add ``counts``, in one transaction."""
        try:
            with self._store.write_session() as session:
                minute = minute_of(window.start)
                row = session.get(MetricRollup, minute)
                existing = _from_row(row) if row is not None else None
                if row is None:
                    row = MetricRollup(minute=minute)
                    session.add(row)
                _to_row(merge_window(existing, window), row)
                self._add_counts(session, counts, now)
                self._set_state(session, state, now)
        except SQLAlchemyError as exc:
            raise StorageError(f"recording the window at {window.start.isoformat()} failed: {exc}") from exc

    def add_counts(
        self,
        counts: Mapping[str, int],
        now: datetime,
        state: Mapping[str, str | None] | None = None,
    ) -> None:
        """Add ``counts`` to this month's counters and set ``state``."""
        if not counts and not state:
            return
        try:
            with self._store.write_session() as session:
                self._add_counts(session, counts, now)
                self._set_state(session, state or {}, now)
        except SQLAlchemyError as exc:
            raise StorageError(f"updating the metric counters failed: {exc}") from exc

    @staticmethod
    def _add_counts(session: Session, counts: Mapping[str, int], now: datetime) -> None:
        month = month_of(now)
        for name, amount in counts.items():
            if amount == 0:
                continue
            row = session.get(MetricCounter, (month, name))
            if row is None:
                session.add(MetricCounter(month=month, name=name, value=amount))
            else:
                row.value += amount

    @staticmethod
    def _set_state(session: Session, state: Mapping[str, str | None], now: datetime) -> None:
        for name, value in state.items():
            row = session.get(MetricState, name)
            if row is None:
                session.add(MetricState(name=name, value=value, updated_at=now))
            else:
                row.value = value
                row.updated_at = now

    def last_window_start(self) -> datetime | None:
        """Return the start of the last window recorded, by this process or an earlier one."""
        try:
            with self._store.session() as session:
                row = session.get(MetricState, LAST_WINDOW)
                value = row.value if row is not None else None
        except SQLAlchemyError as exc:
            raise StorageError(f"reading the last metric window failed: {exc}") from exc
        return datetime.fromisoformat(value) if value else None

    def purge_rollups(self, before: datetime) -> int:
        """Delete rollups of minutes before ``before`` and return how many."""
        try:
            with self._store.session() as session:
                result = session.execute(delete(MetricRollup).where(MetricRollup.minute < before))
                return int(getattr(result, "rowcount", 0) or 0)
        except SQLAlchemyError as exc:
            raise StorageError(f"purging metric rollups failed: {exc}") from exc


def read_counters(session: Session) -> dict[str, int]:
    """Return every counter summed over all months."""
    totals: dict[str, int] = {}
    for name, value in session.execute(select(MetricCounter.name, MetricCounter.value)):
        totals[name] = totals.get(name, 0) + int(value)
    return totals


def read_state(session: Session) -> dict[str, str | None]:
    """Return every state value by name."""
    return {row.name: row.value for row in session.scalars(select(MetricState))}


class RollupInferenceCounts:
    """Inferences served, summed from the minute rollups; the spend nowcast's live count."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def count_inferences(self, start: datetime, end: datetime) -> int:
        """Return the requests counted in rollup minutes from ``start`` up to but not including ``end``.

        A rollup row is keyed by the start of its minute, so a minute that
        began before ``start`` is not counted and the current minute counts
        the windows recorded so far.
        """
        with self._store.session() as session:
            total = session.scalar(
                select(func.coalesce(func.sum(MetricRollup.request_count), 0)).where(
                    MetricRollup.minute >= start, MetricRollup.minute < end
                )
            )
        return int(total or 0)
