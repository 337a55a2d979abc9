"""The month overview that ``spend show`` and ``status`` print, read from the store."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from watchdog.config import Settings
from watchdog.scheduler import utc_now
from watchdog.spend import repository
from watchdog.spend.alerting import dollars
from watchdog.spend.calendar import month_key, month_start, start_of_day
from watchdog.spend.nowcast import (
    InferenceCountSource,
    cost_per_inference,
    cost_per_inference_by_day,
)
from watchdog.spend.repository import StoredCost
from watchdog.spend.summary import NO_BASELINE, SpendPolicy, load_month, summarize_month
from watchdog.storage import Store
from watchdog.storage.models import SpendFiredThreshold, SpendSourceState

# Cost Explorer bills each GetCostAndUsage request and page at $0.01.
COST_EXPLORER_REQUEST_PRICE = Decimal("0.01")
# Alerts listed by the text overview; the JSON document lists them all.
SHOWN_ALERTS = 8


def _money(value: Decimal | None) -> str | None:
    return str(value.quantize(Decimal("0.01"))) if value is not None else None


def month_overview(
    store: Store,
    settings: Settings,
    month: date,
    inferences: InferenceCountSource | None = None,
) -> dict[str, Any]:
    """Return a month's spend, baseline, forecast, next threshold, alerts and costs by service.

    With ``inferences`` it also returns the cost per inference, per day and for the month.
    """
    policy = SpendPolicy.from_settings(settings.spend)
    first = month_start(month)
    with store.session() as session:
        data = load_month(session, first, policy)
        alerts = session.scalars(
            select(SpendFiredThreshold)
            .where(SpendFiredThreshold.month == month_key(first))
            .order_by(SpendFiredThreshold.fired_at)
        ).all()
        fired = [
            {
                "kind": row.kind,
                "level": row.level,
                "threshold": _money(row.threshold),
                "observed": _money(row.observed),
                "estimate": row.estimate,
                "fired_at": row.fired_at.isoformat(),
                "handed_over": row.handed_over_at is not None,
            }
            for row in alerts
        ]
        sources = {
            row.source: {
                "last_success_at": row.last_success_at.isoformat() if row.last_success_at else None,
                "last_error": row.last_error,
            }
            for row in session.scalars(select(SpendSourceState))
        }

    summary = summarize_month(data, policy)
    upcoming = summary.next_threshold()
    services: dict[str, Decimal] = {}
    for cost in data.costs:
        services[cost.service] = services.get(cost.service, Decimal(0)) + cost.amount
    ce_requests = summary.requests.get("ce:GetCostAndUsage", 0)

    return {
        "month": summary.month,
        "month_to_date": _money(summary.month_to_date),
        "cost_explorer_total": _money(summary.cost_explorer_total),
        "estimated_charges_total": _money(summary.estimated_charges_total),
        "final": summary.final,
        "baseline": _money(summary.baseline.amount) if summary.baseline else NO_BASELINE,
        "baseline_method": summary.baseline.method if summary.baseline else None,
        "baseline_note": summary.baseline_note,
        "percent": str(summary.percent) if summary.percent is not None else None,
        "forecast": _money(summary.forecast),
        "next_threshold": (
            {
                "level": upcoming.threshold.level,
                "amount": _money(upcoming.threshold.amount),
                "remaining": _money(upcoming.remaining),
            }
            if upcoming is not None
            else None
        ),
        "alerts": fired,
        "services": {
            name: _money(amount)
            for name, amount in sorted(services.items(), key=lambda item: -item[1])
        },
        "days": {day.isoformat(): _money(amount) for day, amount in sorted(data.daily.items())},
        "requests": summary.requests,
        "cost_explorer_cost": _money(ce_requests * COST_EXPLORER_REQUEST_PRICE),
        "sources": sources,
        "cost_per_inference": _cost_per_inference(data.costs, settings, inferences),
    }


def _cost_per_inference(
    costs: list[StoredCost], settings: Settings, inferences: InferenceCountSource | None
) -> dict[str, Any] | None:
    if inferences is None:
        return None
    services = settings.spend.inference_services or None
    spend = repository.daily_totals(costs, services)
    counts = {
        day: inferences.count_inferences(start_of_day(day), start_of_day(day + timedelta(days=1)))
        for day in spend
    }
    month = cost_per_inference(spend, counts)
    return {
        "month": _per_inference(month),
        "month_per_1000": _money(month * 1000) if month is not None else None,
        "inferences": sum(counts.values()),
        "days": {
            day.isoformat(): _per_inference(value)
            for day, value in sorted(cost_per_inference_by_day(spend, counts).items())
        },
    }


def _per_inference(value: Decimal | None) -> str | None:
    return str(value.quantize(Decimal("0.00000001"))) if value is not None else None


def format_overview(overview: Mapping[str, Any]) -> str:
    """Render ``month_overview`` as aligned text for a terminal."""
    def amount(key: str) -> str:
        value = overview[key]
        return dollars(Decimal(value)) if value is not None else "-"

    state = "final" if overview["final"] else "not final"
    lines = [f"spend {overview['month']} ({state})"]
    lines.append(f"  month to date     {amount('month_to_date')}")
    lines.append(
        f"    Cost Explorer {amount('cost_explorer_total')}, "
        f"EstimatedCharges {amount('estimated_charges_total')}"
    )
    if overview["baseline_method"] is None:
        lines.append(f"  baseline          {overview['baseline_note']}")
    else:
        lines.append(f"  baseline          {amount('baseline')} ({overview['baseline_note']})")
        lines.append(f"  percent           {overview['percent']} %")
    lines.append(f"  forecast          {amount('forecast')} at the month's end")
    upcoming = overview["next_threshold"]
    if upcoming is not None:
        lines.append(
            f"  next threshold    {upcoming['level']} at {dollars(Decimal(upcoming['amount']))}, "
            f"{dollars(Decimal(upcoming['remaining']))} away"
        )
    alerts = overview["alerts"]
    if len(alerts) > SHOWN_ALERTS:
        lines.append(f"  alerts            {len(alerts)} raised, the latest {SHOWN_ALERTS}:")
    for alert in alerts[-SHOWN_ALERTS:]:
        marker = " (estimate)" if alert["estimate"] else ""
        lines.append(
            f"  alert             {alert['kind']} {alert['level']} at "
            f"{dollars(Decimal(alert['threshold']))}{marker}, {alert['fired_at']}"
        )
    for name, value in list(overview["services"].items())[:5]:
        lines.append(f"  service           {dollars(Decimal(value)):>12}  {name}")
    unit = overview["cost_per_inference"]
    if unit is not None and unit["month_per_1000"] is not None:
        lines.append(
            f"  per inference     {dollars(Decimal(unit['month_per_1000']))} per 1,000 inferences "
            f"({unit['inferences']:,} served)"
        )
    requests = overview["requests"].get("ce:GetCostAndUsage", 0)
    lines.append(
        f"  Cost Explorer     {requests} requests this month "
        f"({dollars(Decimal(overview['cost_explorer_cost']))})"
    )
    return "\n".join(lines)


def spend_status(store: Store, settings: Settings) -> dict[str, Any]:
    """Return the ``spend`` section of ``status``: the current month in brief."""
    overview = month_overview(store, settings, utc_now().date())
    keys = (
        "month",
        "month_to_date",
        "baseline",
        "baseline_note",
        "percent",
        "forecast",
        "next_threshold",
        "final",
    )
    section = {key: overview[key] for key in keys}
    section["cost_explorer_requests"] = overview["requests"].get("ce:GetCostAndUsage", 0)
    section["alerts_raised"] = len(overview["alerts"])
    return section
