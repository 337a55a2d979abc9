"""The run-rate forecast of a month's total from month-to-date observations.

An observation is a month-to-date amount and the time it describes. The
forecast takes the latest observation, measures how fast spend grew over
the trailing ``window`` before it, and extends that rate to the end of the
month. A falling rate (credits, refunds) counts as zero, so the forecast is
never below the month-to-date amount.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from watchdog.spend.calendar import month_start, next_month_start, start_of_day

CENT = Decimal("0.01")


@dataclass(frozen=True, order=True)
class Observation:
    """The month-to-date amount as it stood at ``at``."""

    at: datetime
    month_to_date: Decimal


def observations_from_daily(
    daily: Mapping[date, Decimal], month: date, observed_at: datetime | None
) -> list[Observation]:
    """Turn daily amounts into cumulative observations at the end of each day.

    The latest day is usually incomplete, so its observation is placed at
    ``observed_at`` (when the data was fetched) if that is earlier than the
    day's end.

    NOTE: Cost Explorer data lags by hours, so the day before the latest may
    be incomplete too, and a forecast from it runs low.
    """
    first = month_start(month)
    end = next_month_start(month)
    days = sorted(day for day in daily if first <= day < end)
    observations: list[Observation] = []
    total = Decimal(0)
    for index, day in enumerate(days):
        total += daily[day]
        at = start_of_day(day + timedelta(days=1))
        if index == len(days) - 1 and observed_at is not None:
            at = max(min(at, observed_at), start_of_day(day))
        observations.append(Observation(at, total))
    return observations


def run_rate_forecast(
    observations: Sequence[Observation],
    month: date,
    window: timedelta,
    min_elapsed: timedelta,
) -> Decimal | None:
    """Return the forecast month-end total, or None before ``min_elapsed`` of data exists.

    Observations outside ``month`` are ignored.
    """
    begin = start_of_day(month_start(month))
    end = start_of_day(next_month_start(month))
    inside = sorted(item for item in observations if begin <= item.at <= end)
    if not inside:
        return None
    latest = inside[-1]
    if latest.at - begin < min_elapsed:
        return None

    # The month starts at $0, so the month's start is the reference of last resort.
    reference = Observation(begin, Decimal(0))
    for item in inside:
        if item.at <= latest.at - window:
            reference = item
    span = Decimal((latest.at - reference.at).total_seconds())
    if span <= 0:
        return latest.month_to_date.quantize(CENT)

    rate_per_second = max((latest.month_to_date - reference.month_to_date) / span, Decimal(0))
    remaining = Decimal((end - latest.at).total_seconds())
    return (latest.month_to_date + rate_per_second * remaining).quantize(CENT)
