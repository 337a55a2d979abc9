"""Read one month's inputs for the summary from the store: spend, rollups, worker events, counts."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from watchdog.alerts.counters import ANNOUNCED, FOLDED_MONTHLY, SUPPRESSED, read_monthly_counts
from watchdog.reports.figures import (
    DaemonUsage,
    MinuteRollup,
    Month,
    MonthInputs,
    SpendRow,
    WorkerTransition,
)
from watchdog.storage.models import (
    MetricCounter,
    MetricRollup,
    SpendApiRequests,
    SpendBaseline,
    SpendDailyCost,
    WorkerEvent,
)

RUNNING = "running"
# Transitions into STARTING that begin a new worker process after one ended.
RESTART_FROM = frozenset({"backoff", "stopping", "fatal"})
OOM_KIND = "oom"
PUT_METRIC_DATA_REQUESTS = "put_metric_data_requests"


def spend_rows(session: Session, month: Month) -> list[SpendRow]:
    """Return the stored daily costs of ``month``."""
    rows = session.scalars(
        select(SpendDailyCost).where(
            SpendDailyCost.day >= month.first_day, SpendDailyCost.day < month.next().first_day
        )
    ).all()
    return [SpendRow(r.day, r.service, r.record_type, r.amount, r.estimated) for r in rows]


def minute_rollups(session: Session, month: Month) -> list[MinuteRollup]:
    """Return the month's minute rollups that saw the worker."""
    rows = session.scalars(
        select(MetricRollup)
        .where(MetricRollup.minute >= month.start, MetricRollup.minute < month.end)
        .order_by(MetricRollup.minute)
    ).all()
    return [
        MinuteRollup(
            minute=row.minute,
            requests=int(row.request_count),
            errors=int(row.error_count),
            p50_ms=row.p50_ms,
            p99_ms=row.p99_ms,
            max_queue_depth=row.max_queue_depth,
            max_memory_bytes=float(row.max_memory_rss) if row.max_memory_rss is not None else None,
            latency=tuple((float(value), int(count)) for value, count in row.latency_ms or ()),
        )
        for row in rows
    ]


def worker_transitions(session: Session, month: Month) -> tuple[list[WorkerTransition], bool]:
    """Return the worker's up and down transitions in ``month``, and whether it was up at its start."""
    before = session.scalars(
        select(WorkerEvent)
        .where(WorkerEvent.at < month.start)
        .order_by(WorkerEvent.at.desc(), WorkerEvent.id.desc())
        .limit(1)
    ).first()
    up_at_start = before is not None and before.to_state == RUNNING

    events = session.scalars(
        select(WorkerEvent)
        .where(WorkerEvent.at >= month.start, WorkerEvent.at < month.end)
        .order_by(WorkerEvent.at, WorkerEvent.id)
    ).all()
    transitions = []
    for event in events:
        oom = event.exit_kind == OOM_KIND
        restart = event.to_state == "starting" and event.from_state in RESTART_FROM
        if event.to_state == RUNNING:
            transitions.append(WorkerTransition(event.at, up=True))
        elif event.from_state == RUNNING or oom or restart:
            transitions.append(WorkerTransition(event.at, up=False, oom_kill=oom, restart=restart))
    return transitions, up_at_start


def daemon_usage(session: Session, month: Month, custom_metrics: int) -> DaemonUsage:
    """Return the daemon's own Cost Explorer and PutMetricData requests in ``month``."""
    cost_explorer = sum(
        session.scalars(select(SpendApiRequests.requests).where(SpendApiRequests.month == str(month))).all()
    )
    put_metric_data = session.scalars(
        select(MetricCounter.value).where(
            MetricCounter.month == str(month), MetricCounter.name == PUT_METRIC_DATA_REQUESTS
        )
    ).first()
    return DaemonUsage(
        cost_explorer_requests=int(cost_explorer),
        put_metric_data_requests=int(put_metric_data or 0),
        custom_metrics=custom_metrics,
    )


def baseline_of(session: Session, month: Month) -> Decimal | None:
    """Return the baseline stored for ``month``, if one was computed."""
    row = session.get(SpendBaseline, str(month))
    return row.amount if row is not None else None


def collect_inputs(
    session: Session,
    month: Month,
    *,
    custom_metrics: int,
    inference_services: frozenset[str],
    now: datetime,
) -> MonthInputs:
    """Gather everything ``build_report`` needs for ``month`` in one read transaction."""
    counts = read_monthly_counts(session, str(month))
    sent: dict[str, int] = {}
    for outcome in (ANNOUNCED, FOLDED_MONTHLY):
        for rule, value in counts.get(outcome, {}).items():
            sent[rule] = sent.get(rule, 0) + value
    transitions, up_at_start = worker_transitions(session, month)
    return MonthInputs(
        month=month,
        spend=spend_rows(session, month),
        previous_spend=spend_rows(session, month.previous()),
        baseline=baseline_of(session, month),
        rollups=minute_rollups(session, month),
        transitions=transitions,
        worker_up_at_start=up_at_start,
        alerts_sent=sent,
        alerts_suppressed=dict(counts.get(SUPPRESSED, {})),
        daemon_usage=daemon_usage(session, month, custom_metrics),
        inference_services=inference_services,
        measured_until=min(now, month.end),
    )
