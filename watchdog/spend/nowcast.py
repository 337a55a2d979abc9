"""Cost per inference, and the nowcast of spend between bill refreshes.

AWS cost data lags by hours, so a retry storm can run up most of a day's
bill before any bill shows it. Between refreshes the nowcast estimates the
days the bill does not cover yet as::

    inferences served that day * last known cost per inference
        + fixed daily cost * the part of the day that has passed

Inference counts come from an ``InferenceCountSource`` (the metric rollups
in production).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Protocol

from watchdog.spend.calendar import month_start, start_of_day, utc_day

CENT = Decimal("0.01")


class InferenceCountSource(Protocol):
    """The source of inference counts for the spend tracker."""

    def count_inferences(self, start: datetime, end: datetime) -> int:
        """Return the inferences served from ``start`` up to but not including ``end``."""
        ...


@dataclass(frozen=True)
class UnitCost:
    """The last known cost per inference and the fixed daily cost, and the days they come from."""

    per_inference: Decimal
    fixed_daily: Decimal
    days: tuple[date, ...]


@dataclass(frozen=True)
class Nowcast:
    """The estimated month-to-date spend, its daily amounts and which days are estimates."""

    month_to_date: Decimal
    daily: Mapping[date, Decimal]
    estimated_days: tuple[date, ...]
    # Inferences served on the estimated days.
    inferences: int


def cost_per_inference(
    variable_spend: Mapping[date, Decimal], inferences: Mapping[date, int]
) -> Decimal | None:
    """Return the spend divided by the inferences over the days that have both, or None."""
    days = [day for day in variable_spend if inferences.get(day, 0) > 0]
    served = sum(inferences[day] for day in days)
    if served == 0:
        return None
    spend = sum((variable_spend[day] for day in days), Decimal(0))
    return max(spend, Decimal(0)) / served


def cost_per_inference_by_day(
    spend: Mapping[date, Decimal], inferences: Mapping[date, int]
) -> dict[date, Decimal]:
    """Return each day's spend divided by its inferences, for the days that served any."""
    return {day: spend[day] / inferences[day] for day in spend if inferences.get(day, 0) > 0}


def unit_cost(
    total_spend: Mapping[date, Decimal],
    inference_spend: Mapping[date, Decimal] | None,
    inferences: Mapping[date, int],
    fixed_daily_cost: Decimal | None,
) -> UnitCost | None:
    """Derive the cost per inference and the fixed daily cost from complete days.

    With ``inference_spend`` (the spend of the services that scale with
    traffic), the fixed daily cost is the average spend of the other
    services unless ``fixed_daily_cost`` is given. Without it, every service
    scales with traffic except ``fixed_daily_cost`` (default $0).
    """
    days = tuple(sorted(day for day in total_spend if inferences.get(day, 0) > 0))
    if not days:
        return None

    if inference_spend is None:
        fixed = fixed_daily_cost if fixed_daily_cost is not None else Decimal(0)
        variable = {day: total_spend[day] - fixed for day in days}
    else:
        variable = {day: inference_spend.get(day, Decimal(0)) for day in days}
        if fixed_daily_cost is not None:
            fixed = fixed_daily_cost
        else:
            others = sum((total_spend[day] - variable[day] for day in days), Decimal(0))
            fixed = max(others / len(days), Decimal(0))

    per_inference = cost_per_inference(variable, inferences)
    if per_inference is None:
        return None
    return UnitCost(per_inference, fixed, days)


def nowcast_month_to_date(
    billed: Mapping[date, Decimal],
    inferences: Mapping[date, int],
    cost: UnitCost,
    now: datetime,
) -> Nowcast:
    """Estimate the month-to-date spend at ``now``.

    Days up to the last billed day keep their billed amount. The last billed
    day (often partial) and every day after it up to today take the larger
    of the billed amount and the estimate.
    """
    today = utc_day(now)
    first = month_start(today)
    billed_days = [day for day in billed if first <= day <= today]
    last_billed = max(billed_days, default=first)

    daily: dict[date, Decimal] = {}
    estimated: list[date] = []
    served = 0
    day = first
    while day <= today:
        amount = billed.get(day, Decimal(0))
        if day >= last_billed:
            elapsed = min(now - start_of_day(day), timedelta(days=1))
            fraction = Decimal(elapsed.total_seconds()) / Decimal(86400)
            count = inferences.get(day, 0)
            estimate = count * cost.per_inference + cost.fixed_daily * fraction
            if estimate > amount:
                amount = estimate
                estimated.append(day)
                served += count
        daily[day] = amount
        day += timedelta(days=1)
    total = sum(daily.values(), Decimal(0))
    return Nowcast(total.quantize(CENT), daily, tuple(estimated), served)
