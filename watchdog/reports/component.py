"""The daemon's monthly summary job: on the configured day, queue last month's summary once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from watchdog.config import Settings
from watchdog.metrics import datums
from watchdog.reports.chart import render_daily_chart
from watchdog.reports.collect import collect_inputs
from watchdog.reports.figures import Month, MonthlyReport, build_report
from watchdog.reports.post import queue_report
from watchdog.reports.schedule import due_month
from watchdog.scheduler import JobSpec, utc_now
from watchdog.storage import Store
from watchdog.storage.models import DaemonRun, MonthlyReportRecord

if TYPE_CHECKING:
    from watchdog.daemon import DaemonContext

logger = logging.getLogger(__name__)

# Each metric name and dimension set is one billed custom metric.
PUBLISHED_METRIC_NAMES = (
    datums.INFERENCE_TIME,
    datums.REQUEST_COUNT,
    datums.ERROR_COUNT,
    datums.QUEUE_DEPTH,
    datums.IN_FLIGHT,
    datums.MEMORY_RSS,
    datums.MEMORY_PER_REQUEST,
    datums.WORKER_UP,
    datums.WATCHDOG_HEARTBEAT,
)


def custom_metric_count(settings: Settings) -> int:
    """Return how many custom metrics the configuration publishes (name x dimension set)."""
    copies = 2 if settings.metrics.service_level_copy else 1
    return len(PUBLISHED_METRIC_NAMES) * copies


def report_target(settings: Settings) -> str:
    """Return where the summary goes: the report channel, else the default channel."""
    return settings.report.channel or settings.slack.default_channel


def build_month(
    session: Session, settings: Settings, month: Month, now: datetime
) -> tuple[MonthlyReport, bytes]:
    """Build the report of ``month`` and its chart from the store."""
    inputs = collect_inputs(
        session,
        month,
        custom_metrics=custom_metric_count(settings),
        inference_services=frozenset(settings.report.inference_services),
        now=now,
    )
    report = build_report(inputs)
    per_day = report.baseline / month.days if report.baseline is not None else None
    chart = render_daily_chart(report.daily, f"Daily spend, {month} (UTC)", baseline_per_day=per_day)
    return report, chart


def first_run_start(session: Session) -> datetime | None:
    """Return when the daemon first started on this database."""
    return session.scalar(select(func.min(DaemonRun.started_at)))


def posted_months(session: Session) -> set[str]:
    """Return the months whose summary was already queued."""
    return set(session.scalars(select(MonthlyReportRecord.month)).all())


def post_month(store: Store, settings: Settings, month: Month, now: datetime, trigger: str) -> bool:
    """Queue the summary of ``month`` unless it was queued before; return whether it was queued now.

    The record of the month and the outbox rows are written in one
    transaction, so a crash leaves either both or neither.
    """
    with store.session() as session:
        report, chart = build_month(session, settings, month, now)
    try:
        with store.write_session() as session:
            if session.get(MonthlyReportRecord, str(month)) is not None:
                return False
            target = report_target(settings)
            session.add(MonthlyReportRecord(month=str(month), queued_at=now, target=target, trigger=trigger))
            queue_report(session, report, chart, target, now)
    except IntegrityError:
        # Another process queued the same month between the check and the insert.
        return False
    logger.info("queued the monthly summary for %s to %s", month, report_target(settings))
    return True


class ReportComponent:
    """Checks every few minutes (and at start) whether a monthly summary is due."""

    name = "report"

    def __init__(self, context: DaemonContext) -> None:
        self._store: Store = context.store
        self._settings: Settings = context.settings
        self._now: Callable[[], datetime] = context.now

    def jobs(self) -> list[JobSpec]:
        if not self._settings.report.enabled:
            return []
        return [
            JobSpec(
                "monthly-report",
                self.check,
                "interval",
                {"minutes": 5, "next_run_time": utc_now()},
                description="queue last month's cost and capacity summary when it is due",
            )
        ]

    def start(self) -> None:
        return None

    def stop(self) -> None:
        return None

    def check(self) -> Month | None:
        """Queue the summary if one is due and not yet queued; return the month queued."""
        now = self._now()
        report = self._settings.report
        with self._store.session() as session:
            posted = posted_months(session)
            first_start = first_run_start(session)
        month = due_month(now, report.day, report.time, report.timezone, posted)
        if month is None:
            return None
        if first_start is None or first_start >= month.end:
            # A daemon installed after the month ended has nothing to summarise for it.
            logger.debug("no monthly summary for %s: the daemon first started %s", month, first_start)
            return None
        if post_month(self._store, self._settings, month, now, "scheduled"):
            return month
        return None
