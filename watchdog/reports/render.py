"""Renderings of a ``MonthlyReport``: JSON, plain text, Markdown and Slack Block Kit."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from watchdog.reports.figures import MIB, MonthlyReport

# Slack limits (api.slack.com/reference/block-kit): 50 blocks per message,
# 3,000 characters per section text; message text is truncated past 4,000.
SLACK_MAX_BLOCKS = 50
SLACK_MAX_SECTION_TEXT = 3000
SLACK_MAX_TEXT = 3900


def _usd(value: Decimal | None) -> str:
    return "n/a" if value is None else f"${value:,.2f}"


def _signed_usd(value: Decimal) -> str:
    sign = "+" if value >= 0 else "-"
    return f"{sign}${abs(value):,.2f}"


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} ms"


def to_json(report: MonthlyReport) -> dict[str, Any]:
    """Return the report as JSON-ready values; money as strings so no precision is lost."""
    advice = report.advice
    return {
        "month": str(report.month),
        "spend": {
            "total": str(report.total),
            "final": report.final,
            "baseline": None if report.baseline is None else str(report.baseline),
            "percent_of_baseline": (
                None if report.percent_of_baseline is None else str(report.percent_of_baseline)
            ),
            "previous_month": None if report.previous_total is None else str(report.previous_total),
            "credits": str(report.credits),
            "daily": [{"day": day.isoformat(), "amount": str(amount)} for day, amount in report.daily],
            "top_services": [
                {
                    "service": cost.service,
                    "amount": str(cost.amount),
                    "previous": str(cost.previous),
                    "change": str(cost.change),
                }
                for cost in report.top_services
            ],
        },
        "inferences": {
            "served": report.inferences,
            "errors": report.errors,
            "cost_per_1000": (
                None if report.cost_per_1000_inferences is None else str(report.cost_per_1000_inferences)
            ),
            "p50_ms": report.p50_ms,
            "p99_ms": report.p99_ms,
        },
        "worker": {
            "uptime_percent": str(report.uptime_percent),
            "restarts": report.restarts,
            "oom_kills": report.oom_kills,
        },
        "alerts": {"sent": report.alerts_sent, "suppressed": report.alerts_suppressed},
        "daemon_aws_usage": {
            "cost_explorer_requests": report.daemon_usage.cost_explorer_requests,
            "put_metric_data_requests": report.daemon_usage.put_metric_data_requests,
            "custom_metrics": report.daemon_usage.custom_metrics,
            "estimated_cost": str(report.daemon_usage.cost),
        },
        "recommendations": None
        if advice is None
        else {
            "memory_request_bytes": advice.memory_request_bytes,
            "memory_limit_bytes": advice.memory_limit_bytes,
            "memory_high_bytes": advice.memory_high_bytes,
            "rate_limit_per_second": str(advice.rate_limit_per_second),
            "hpa_cpu_target_percent": advice.hpa_cpu_target_percent,
            "observed_max_memory_bytes": advice.observed_max_memory_bytes,
            "observed_peak_requests_per_second": str(advice.observed_peak_requests_per_second),
            "kubernetes_resources": advice.kubernetes_resources(),
            "systemd": advice.systemd_properties(),
        },
        "notes": report.notes,
    }


def _sections(report: MonthlyReport) -> list[tuple[str, list[str]]]:
    """Return the report as titled lists of lines, shared by text, Markdown and Slack."""
    status = "final" if report.final else "still estimated"
    spend = [f"Total: {_usd(report.total)} ({status})"]
    if report.baseline is not None:
        spend.append(f"Baseline: {_usd(report.baseline)} ({report.percent_of_baseline}% of baseline)")
    else:
        spend.append("Baseline: no baseline yet")
    if report.previous_total is not None:
        change = report.total - report.previous_total
        spend.append(f"Previous month: {_usd(report.previous_total)} ({_signed_usd(change)})")
    if report.credits:
        spend.append(f"Credits and refunds: {_usd(report.credits)}")

    services = [
        f"{cost.service}: {_usd(cost.amount)} ({_signed_usd(cost.change)} vs previous month)"
        for cost in report.top_services
    ] or ["no spend recorded"]

    traffic = [
        f"Inferences served: {report.inferences:,} ({report.errors:,} errors)",
        "Cost per 1,000 inferences: "
        + ("n/a" if report.cost_per_1000_inferences is None else f"${report.cost_per_1000_inferences}"),
        f"Latency: p50 {_ms(report.p50_ms)}, p99 {_ms(report.p99_ms)}",
    ]
    worker = [
        f"Uptime: {report.uptime_percent}%",
        f"Restarts: {report.restarts}, OOM kills: {report.oom_kills}",
    ]
    kinds = sorted(set(report.alerts_sent) | set(report.alerts_suppressed))
    alerts = [
        f"{kind}: {report.alerts_sent.get(kind, 0)} sent, {report.alerts_suppressed.get(kind, 0)} suppressed"
        for kind in kinds
    ] or ["no alerts"]
    usage = report.daemon_usage
    daemon = [
        f"Cost Explorer requests: {usage.cost_explorer_requests:,}",
        f"PutMetricData requests: {usage.put_metric_data_requests:,}",
        f"Custom metrics: {usage.custom_metrics}",
        f"Estimated cost: {_usd(usage.cost)}",
    ]
    sections = [
        ("Spend", spend),
        ("Top services", services),
        ("Traffic", traffic),
        ("Worker", worker),
        ("Alerts", alerts),
        ("The watchdog's own AWS cost", daemon),
    ]
    advice = report.advice
    if advice is not None:
        sections.append(
            (
                "Capacity advice",
                [
                    f"Observed max memory {advice.observed_max_memory_bytes / MIB:.0f} MiB, "
                    f"peak {advice.observed_peak_requests_per_second} requests/s",
                    f"Rate limit: {advice.rate_limit_per_second} requests/s (120 % of the peak)",
                    f"Autoscaler CPU target: {advice.hpa_cpu_target_percent} %",
                ],
            )
        )
    if report.notes:
        sections.append(("Notes", list(report.notes)))
    return sections


def to_text(report: MonthlyReport) -> str:
    """Return the report as plain text."""
    lines = [f"Monthly summary for {report.month}"]
    for title, body in _sections(report):
        lines.append("")
        lines.append(f"{title}:")
        lines.extend(f"  {line}" for line in body)
    if report.advice is not None:
        lines.append("")
        lines.append("Kubernetes:")
        lines.extend(f"  {line}" for line in report.advice.kubernetes_resources().splitlines())
        lines.append("systemd:")
        lines.extend(f"  {line}" for line in report.advice.systemd_properties().splitlines())
    return "\n".join(lines) + "\n"


def to_markdown(report: MonthlyReport) -> str:
    """Return the report as Markdown."""
    lines = [f"# Monthly summary for {report.month}"]
    for title, body in _sections(report):
        lines.append("")
        lines.append(f"## {title}")
        lines.append("")
        lines.extend(f"- {line}" for line in body)
    if report.advice is not None:
        lines.append("")
        lines.append("```yaml")
        lines.append(report.advice.kubernetes_resources().rstrip())
        lines.append("```")
        lines.append("")
        lines.append("```ini")
        lines.append("[Service]")
        lines.append(report.advice.systemd_properties().rstrip())
        lines.append("```")
    return "\n".join(lines) + "\n"


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    marker = "\n... (truncated)"
    return text[: limit - len(marker)] + marker


def to_slack(report: MonthlyReport) -> tuple[str, list[dict[str, Any]]]:
    """Return fallback text and Block Kit blocks, within Slack's limits."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"Monthly summary for {report.month}"}}
    ]
    for title, body in _sections(report):
        text = f"*{title}*\n" + "\n".join(f"• {line}" for line in body)
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, SLACK_MAX_SECTION_TEXT)}}
        )
    if report.advice is not None:
        snippet = (
            "```"
            + report.advice.kubernetes_resources()
            + "```\n```"
            + report.advice.systemd_properties()
            + "```"
        )
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": _clip(snippet, SLACK_MAX_SECTION_TEXT)}}
        )
    blocks = blocks[:SLACK_MAX_BLOCKS]
    fallback = _clip(to_text(report), SLACK_MAX_TEXT)
    return fallback, blocks
