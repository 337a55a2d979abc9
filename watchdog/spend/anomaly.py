"""The daily spend anomaly: a day that costs far more than the days before it.

A day is an anomaly when its spend is above ``multiple`` times the median
of the trailing days and above ``min_amount``. The median ignores one-off
spikes in the history, and the minimum keeps cheap accounts from alerting
on cents. A partial day counts too, so a runaway day is reported before it
ends.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal


@dataclass(frozen=True)
class AnomalyPolicy:
    """When a day counts as an anomaly."""

    multiple: Decimal = Decimal(3)
    min_amount: Decimal = Decimal(20)
    trailing_days: int = 14
    # Fewer trailing days with data than this gives no verdict.
    min_history_days: int = 7


@dataclass(frozen=True)
class Anomaly:
    """A day whose spend is an anomaly, with the median it was compared with."""

    day: date
    amount: Decimal
    trailing_median: Decimal


def detect_anomaly(
    daily_totals: Mapping[date, Decimal], day: date, policy: AnomalyPolicy
) -> Anomaly | None:
    """Return the anomaly of ``day``, or None when its spend is ordinary or unknown."""
    amount = daily_totals.get(day)
    if amount is None:
        return None
    trailing = [
        daily_totals[day - timedelta(days=offset)]
        for offset in range(1, policy.trailing_days + 1)
        if day - timedelta(days=offset) in daily_totals
    ]
    if len(trailing) < policy.min_history_days:
        return None

    median = Decimal(statistics.median(trailing))
    if amount > policy.min_amount and amount > policy.multiple * median:
        return Anomaly(day, amount, median)
    return None
