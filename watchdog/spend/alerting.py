"""Billing alert events: which lines a reading crossed, and the event announcing each.

Every billing alert is ``one_shot`` and carries its month in the labels, so
the alert engine announces it at most once. The spend tracker also records
it by (month, kind, level) before handing it over, so it is raised at most
once per month, even across restarts.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from watchdog.alerts.events import AlertEvent, Severity
from watchdog.spend.anomaly import Anomaly, AnomalyPolicy
from watchdog.spend.baseline import Baseline
from watchdog.spend.calendar import month_key
from watchdog.spend.thresholds import (
    CRITICAL,
    WARNING,
    Crossing,
    ThresholdPolicy,
    new_crossings,
    percent_of,
)

THRESHOLD_RULE = "spend_threshold"
ANOMALY_RULE = "spend_daily_anomaly"
MONTH_TO_DATE = "month_to_date"
FORECAST = "forecast"
DAILY_ANOMALY = "daily_anomaly"
CENT = Decimal("0.01")


@dataclass(frozen=True)
class BillingAlert:
    """An alert to record as raised and to hand to the alert sink."""

    month: str
    kind: str
    level: str
    threshold: Decimal
    observed: Decimal
    estimate: bool
    event: AlertEvent


def dollars(amount: Decimal) -> str:
    """Format an amount as ``$1,234.56``, with the sign before the dollar sign."""
    rounded = amount.quantize(CENT)
    sign = "-" if rounded < 0 else ""
    return f"{sign}${abs(rounded):,.2f}"


def threshold_alerts(
    month: str,
    kind: str,
    value: Decimal,
    baseline: Baseline,
    policy: ThresholdPolicy,
    *,
    fired: Collection[str],
    at: datetime,
    estimate: bool = False,
    note: str = "",
) -> list[BillingAlert]:
    """Return an alert for every line ``value`` newly crossed, in order of amount.

    ``kind`` is MONTH_TO_DATE or FORECAST. ``estimate`` marks a value that
    is a nowcast rather than a bill, and ``note`` describes how it was estimated.
    """
    alerts = []
    for crossing in new_crossings(baseline.amount, value, policy, fired):
        threshold = crossing.threshold
        event = AlertEvent(
            rule=THRESHOLD_RULE,
            labels={"month": month, "kind": kind, "level": threshold.level},
            severity=threshold.severity,
            state="firing",
            summary=_threshold_summary(month, kind, value, baseline, crossing, estimate=estimate)
            + (f" ({note})" if note else ""),
            at=at,
            details={
                "amount": str(value.quantize(CENT)),
                "threshold": str(threshold.amount.quantize(CENT)),
                "baseline": str(baseline.amount.quantize(CENT)),
                "baseline_method": baseline.describe(),
                "percent": str(percent_of(baseline.amount, value)),
                "estimate": "true" if estimate else "false",
            },
            one_shot=True,
        )
        alerts.append(
            BillingAlert(month, kind, threshold.level, threshold.amount, value, estimate, event)
        )
    return alerts


def _threshold_summary(
    month: str,
    kind: str,
    value: Decimal,
    baseline: Baseline,
    crossing: Crossing,
    *,
    estimate: bool,
) -> str:
    threshold = crossing.threshold
    percent = percent_of(baseline.amount, value)
    if kind == FORECAST:
        what = f"AWS spend for {month} is forecast to reach {dollars(value)} by the month's end"
    else:
        what = f"AWS spend for {month} reached {dollars(value)} month to date"
    if estimate:
        what = f"Estimate: {what}"
    if threshold.level == WARNING:
        line = f"the warning line {dollars(threshold.amount)}"
    elif threshold.level == CRITICAL:
        line = f"the critical line {dollars(threshold.amount)}"
    else:
        line = f"the {dollars(threshold.amount)} step"
        if crossing.passed_steps == 1:
            line += " (1 lower step passed at once)"
        elif crossing.passed_steps > 1:
            line += f" ({crossing.passed_steps} lower steps passed at once)"
    return f"{what}, {percent} % of the {dollars(baseline.amount)} baseline, crossing {line}"


def anomaly_alert(anomaly: Anomaly, policy: AnomalyPolicy, at: datetime) -> BillingAlert:
    """Return the alert announcing a day whose spend is an anomaly."""
    day = anomaly.day.isoformat()
    if anomaly.trailing_median > 0:
        ratio = f"{(anomaly.amount / anomaly.trailing_median).quantize(Decimal('0.1'))} times"
    else:
        ratio = "far above"
    summary = (
        f"AWS spend on {day} is {dollars(anomaly.amount)}, {ratio} the median of "
        f"{dollars(anomaly.trailing_median)} over the {policy.trailing_days} days before"
    )
    event = AlertEvent(
        rule=ANOMALY_RULE,
        # The month lets routes that group billing alerts by month take anomalies too.
        labels={"month": day[:7], "day": day},
        severity="warning",
        state="firing",
        summary=summary,
        at=at,
        details={
            "amount": str(anomaly.amount.quantize(CENT)),
            "trailing_median": str(anomaly.trailing_median.quantize(CENT)),
            "multiple": str(policy.multiple),
        },
        one_shot=True,
    )
    return BillingAlert(
        month_key(anomaly.day),
        DAILY_ANOMALY,
        day,
        policy.multiple * anomaly.trailing_median,
        anomaly.amount,
        False,
        event,
    )


def event_to_json(event: AlertEvent) -> dict[str, Any]:
    """Return the event as a JSON-ready mapping, to store beside the fired record."""
    return {
        "rule": event.rule,
        "labels": dict(event.labels),
        "severity": event.severity,
        "state": event.state,
        "summary": event.summary,
        "at": event.at.isoformat(),
        "details": dict(event.details),
        "one_shot": event.one_shot,
    }


def event_from_json(document: Mapping[str, Any]) -> AlertEvent:
    """Rebuild an event stored with ``event_to_json``."""
    severity: Severity = document["severity"]
    return AlertEvent(
        rule=str(document["rule"]),
        labels={str(key): str(value) for key, value in document["labels"].items()},
        severity=severity,
        state="firing",
        summary=str(document["summary"]),
        at=datetime.fromisoformat(str(document["at"])),
        details={str(key): str(value) for key, value in document["details"].items()},
        one_shot=bool(document["one_shot"]),
    )
