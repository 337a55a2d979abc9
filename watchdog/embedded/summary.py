"""The summary that ``run --for DURATION`` prints at the end of an embedded run.

The metric counts are read back from the embedded CloudWatch, not taken
from the daemon's own counters, so the summary shows what landed. The rest
comes from the store: alert counters and outbox, worker restarts, spend.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from watchdog.alerts import counters
from watchdog.config import Settings
from watchdog.embedded.demo import PhaseOutcome
from watchdog.status import collect_status
from watchdog.storage import Store
from watchdog.storage.models import AlertMonthlyCount

REQUEST_COUNT = "RequestCount"
# GetMetricData takes at most 500 queries per request.
MAX_QUERIES = 500
# Sub-minute points are kept for 3 hours, so a longer run reads back only its last 3 hours.
HIGH_RESOLUTION_RETENTION = timedelta(hours=3)


@dataclass(frozen=True)
class PublishedMetrics:
    """Counts of what the embedded CloudWatch contains in the daemon's namespace for one run."""

    namespace: str
    metrics: int
    points: int
    requests: int


def read_published_metrics(
    cloudwatch: Any, namespace: str, start: datetime, end: datetime
) -> PublishedMetrics:
    """Count the metrics and 10-second points in ``namespace`` between ``start`` and ``end``.

    It calls ListMetrics and GetMetricData on the embedded CloudWatch only, so the
    IAM policy of a real host does not list them.
    """
    start = max(start, end - HIGH_RESOLUTION_RETENTION)
    unique: dict[tuple[str, tuple[tuple[str, str], ...]], dict[str, Any]] = {}
    for page in cloudwatch.get_paginator("list_metrics").paginate(Namespace=namespace):
        for metric in page["Metrics"]:
            # moto 5.2 lists a metric once per data point; AWS lists it once.
            dimensions = tuple(sorted((d["Name"], d["Value"]) for d in metric.get("Dimensions", [])))
            unique[(metric["MetricName"], dimensions)] = metric
    metrics = list(unique.values())

    points = 0
    requests = 0.0
    for offset in range(0, len(metrics), MAX_QUERIES):
        batch = metrics[offset : offset + MAX_QUERIES]
        queries = [
            {
                "Id": f"m{index}",
                "MetricStat": {
                    "Metric": {
                        "Namespace": namespace,
                        "MetricName": metric["MetricName"],
                        "Dimensions": metric.get("Dimensions", []),
                    },
                    "Period": 10,
                    "Stat": "Sum" if metric["MetricName"] == REQUEST_COUNT else "SampleCount",
                },
                "ReturnData": True,
            }
            for index, metric in enumerate(batch)
        ]
        paginator = cloudwatch.get_paginator("get_metric_data")
        for page in paginator.paginate(MetricDataQueries=queries, StartTime=start, EndTime=end):
            for result in page["MetricDataResults"]:
                points += len(result["Values"])
                metric = batch[int(result["Id"][1:])]
                # Only the series with the full dimension set: the service-only aggregate
                # repeats the same requests.
                if metric["MetricName"] == REQUEST_COUNT and len(metric.get("Dimensions", [])) > 1:
                    requests += sum(result["Values"])
    return PublishedMetrics(namespace, len(metrics), points, round(requests))


def alert_counts_by_rule(store: Store) -> dict[str, dict[str, int]]:
    """Return ``{rule: {outcome: count}}`` from ``alert_monthly_counts``, summed over months."""
    with store.session() as session:
        rows = session.execute(
            select(AlertMonthlyCount.rule, AlertMonthlyCount.outcome, func.sum(AlertMonthlyCount.value))
            .group_by(AlertMonthlyCount.rule, AlertMonthlyCount.outcome)
        ).all()
    counts: dict[str, dict[str, int]] = {}
    for rule, outcome, value in rows:
        counts.setdefault(rule, {})[outcome] = int(value)
    return counts


def render_summary(
    store: Store,
    settings: Settings,
    published: PublishedMetrics | str,
    *,
    phases: Sequence[PhaseOutcome],
    state_dir: str,
    slack_log: str,
) -> str:
    """Render the end-of-run summary; ``published`` is the read-back or why it failed."""
    status = collect_status(store, settings)
    lines = ["", "summary:"]

    if isinstance(published, PublishedMetrics):
        lines.append(
            f"  metrics in CloudWatch  {published.metrics} metrics, {published.points} points of "
            f"10 s in {published.namespace}, {published.requests} requests (read back with "
            "ListMetrics and GetMetricData)"
        )
    else:
        lines.append(f"  metrics in CloudWatch  not read back: {published}")

    alerts = status["alerts"]
    lines.append(
        f"  alerts                 {alerts['sent']} messages sent to Slack, "
        f"{alerts['suppressed']} repeats suppressed, {alerts['folded']} folded into digests, "
        f"{alerts['outbox_pending']} waiting in the outbox, {alerts['dead_letters']} dead letters"
    )
    by_rule = alert_counts_by_rule(store)
    if by_rule:
        lines.append("  alerts by rule         (announced: named in a message, as firing or as resolved)")
    for rule, outcomes in sorted(by_rule.items()):
        counted = ", ".join(
            f"{outcomes.get(outcome, 0)} {outcome}"
            for outcome in (counters.ANNOUNCED, counters.SUPPRESSED, counters.FOLDED_MONTHLY)
        )
        lines.append(f"    {rule:<22} {counted}")

    worker = status["worker"]
    lines.append(f"  worker                 {worker['restarts']} restarts, state {worker['state']}")

    spend = status["spend"]
    percent = f" ({float(spend['percent']):.0f} % of baseline)" if spend["percent"] else ""
    lines.append(
        f"  spend                  {spend['month']}: {_dollars(spend['month_to_date'])} month to "
        f"date against a baseline of {_dollars(spend['baseline'])}{percent}; "
        f"{spend['alerts_raised']} billing alerts raised"
    )

    for outcome in phases:
        lines.append(f"  demo traffic           {outcome.describe()}")
    for job_id, job in status["jobs"].items():
        lines.append(f"  job {job_id}: {job['runs']} runs, {job['failures']} failed")
    lines.append(f"  Slack request log: {slack_log}")
    lines.append(f"  state directory: {state_dir}")
    return "\n".join(lines)


def _dollars(amount: str | None) -> str:
    """Return ``$amount`` for a decimal string; a note such as "no baseline yet" as it is."""
    if amount is None:
        return "none"
    return f"${amount}" if amount[:1].isdigit() or amount[:1] == "-" else amount
