"""A month of spend, rollups and worker events whose figures are worked out by hand in the tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from watchdog.reports.figures import (
    DaemonUsage,
    MinuteRollup,
    Month,
    MonthInputs,
    SpendRow,
    WorkerTransition,
)

MIB = 1024 * 1024
NOVEMBER = Month(2026, 11)


def november_spend() -> list[SpendRow]:
    """EC2 $10 and CloudWatch $0.50 a day, a $20 credit on the 15th; the 30th still estimated."""
    rows = []
    for offset in range(30):
        day = date(2026, 11, 1) + timedelta(days=offset)
        rows.append(
            SpendRow(day, "Amazon Elastic Compute Cloud - Compute", "Usage", Decimal("10.00"), day.day == 30)
        )
        rows.append(SpendRow(day, "AmazonCloudWatch", "Usage", Decimal("0.50"), False))
    rows.append(
        SpendRow(
            date(2026, 11, 15), "Amazon Elastic Compute Cloud - Compute", "Credit", Decimal("-20.00"), False
        )
    )
    return rows


def october_spend() -> list[SpendRow]:
    """EC2 $8 and CloudWatch $0.40 a day over October's 31 days."""
    rows = []
    for offset in range(31):
        day = date(2026, 10, 1) + timedelta(days=offset)
        rows.append(SpendRow(day, "Amazon Elastic Compute Cloud - Compute", "Usage", Decimal("8.00"), False))
        rows.append(SpendRow(day, "AmazonCloudWatch", "Usage", Decimal("0.40"), False))
    return rows


def november_rollups() -> list[MinuteRollup]:
    """Four busy minutes: 100, 200, 300 and 400 requests."""
    start = datetime(2026, 11, 5, 12, 0, tzinfo=UTC)
    table = [
        (100, 1, 10.0, 50.0, 100 * MIB),
        (200, 0, 20.0, 60.0, 200 * MIB),
        (300, 2, 30.0, 70.0, 150 * MIB),
        (400, 0, 40.0, 80.0, 300 * MIB),
    ]
    return [
        MinuteRollup(start + timedelta(minutes=i), requests, errors, p50, p99, 3.0, float(memory))
        for i, (requests, errors, p50, p99, memory) in enumerate(table)
    ]


def november_transitions() -> list[WorkerTransition]:
    """Down 6 h on the 10th (a crash) and 30 min on the 20th (an OOM kill)."""
    return [
        WorkerTransition(datetime(2026, 11, 10, 0, 0, tzinfo=UTC), up=False),
        WorkerTransition(datetime(2026, 11, 10, 6, 0, tzinfo=UTC), up=True, restart=True),
        WorkerTransition(datetime(2026, 11, 20, 12, 0, tzinfo=UTC), up=False, oom_kill=True),
        WorkerTransition(datetime(2026, 11, 20, 12, 30, tzinfo=UTC), up=True, restart=True),
    ]


def november_inputs() -> MonthInputs:
    """The whole fixture month."""
    return MonthInputs(
        month=NOVEMBER,
        spend=november_spend(),
        previous_spend=october_spend(),
        baseline=Decimal("250.00"),
        rollups=november_rollups(),
        transitions=november_transitions(),
        worker_up_at_start=True,
        alerts_sent={"spend_threshold": 2, "worker_restart": 2},
        alerts_suppressed={"worker_restart": 7},
        daemon_usage=DaemonUsage(
            cost_explorer_requests=120, put_metric_data_requests=259_200, custom_metrics=10
        ),
        inference_services=frozenset({"Amazon Elastic Compute Cloud - Compute"}),
    )
