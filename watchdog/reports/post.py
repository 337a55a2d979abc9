"""Queue the monthly summary in the alert outbox: the message, and the chart where a file can go.

Both go through the outbox, so the summary gets the same delivery
guarantees as alerts: frozen payloads, retries that honour Slack's
``Retry-After``, and a dedup key per month, so a month is queued once.
"""

from __future__ import annotations

import base64
from datetime import datetime

from sqlalchemy.orm import Session

from watchdog.alerts.delivery import WEBHOOK_PREFIX
from watchdog.alerts.outbox import QueuedMessage, enqueue
from watchdog.reports.figures import MonthlyReport
from watchdog.reports.render import to_slack

REPORT_KIND = "report"


def summary_key(report: MonthlyReport) -> str:
    """Return the outbox dedup key of the month's summary message."""
    return f"report:{report.month}:summary"


def chart_key(report: MonthlyReport) -> str:
    """Return the outbox dedup key of the month's chart upload."""
    return f"report:{report.month}:chart"


def queue_report(
    session: Session, report: MonthlyReport, chart_png: bytes, target: str, now: datetime
) -> list[str]:
    """Queue the summary (and its chart, unless ``target`` is a webhook); return the keys queued.

    Incoming webhooks cannot upload files, so a webhook target gets the
    message alone; the daily amounts stay available through ``report monthly``.
    """
    fallback, blocks = to_slack(report)
    queued = []
    summary = QueuedMessage(
        dedup_key=summary_key(report),
        target=target,
        kind="message",
        subject=f"monthly summary for {report.month}",
        payload={"text": fallback, "blocks": blocks},
    )
    if enqueue(session, summary, now):
        queued.append(summary.dedup_key)

    if target.startswith(WEBHOOK_PREFIX):
        return queued
    chart = QueuedMessage(
        dedup_key=chart_key(report),
        target=target,
        kind="file",
        subject=f"daily spend chart for {report.month}",
        payload={
            "content_base64": base64.b64encode(chart_png).decode("ascii"),
            "filename": f"spend-{report.month}.png",
            "title": f"Daily spend, {report.month} (UTC)",
            "initial_comment": (
                f"Daily spend for {report.month}; the dashed line is the baseline's daily share."
            ),
        },
    )
    if enqueue(session, chart, now):
        queued.append(chart.dedup_key)
    return queued
