"""The spend baseline of a month: what a normal month costs.

It is, in order of precedence, an amount set with ``spend baseline set``
(method ``manual``), a fixed amount from the config (``fixed``), or the
average total of the last N complete months before the month (``average``).
A month counts as complete when the stored history covers all of it. With
fewer than N such months, or an average of $0, there is no baseline yet,
and nothing is compared with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

from watchdog.spend.calendar import month_key, previous_month_start

BaselineMethod = Literal["manual", "fixed", "average"]
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Baseline:
    """A month's baseline amount and how it was computed."""

    amount: Decimal
    method: BaselineMethod
    # The months averaged, oldest first; empty unless the method is "average".
    months: tuple[str, ...] = ()

    def describe(self) -> str:
        """Return how the amount was computed, for status lines and alert details."""
        if self.method == "average":
            return f"average of {', '.join(self.months)}"
        if self.method == "fixed":
            return "fixed in the config"
        return "set with 'spend baseline set'"


def baseline_months(month: date, count: int) -> list[date]:
    """Return the first days of the ``count`` months before ``month``, oldest first."""
    months: list[date] = []
    current = month
    for _ in range(count):
        current = previous_month_start(current)
        months.append(current)
    return list(reversed(months))


def compute_baseline(
    month: date,
    monthly_totals: Mapping[str, Decimal],
    history_start: date | None,
    count: int,
    *,
    fixed: Decimal | None = None,
    manual: Decimal | None = None,
) -> Baseline | None:
    """Return the baseline of ``month``, or None while there is no baseline yet.

    ``monthly_totals`` maps ``YYYY-MM`` to the month's stored spend; a month
    inside the history but absent from it cost $0. ``history_start`` is the
    first day the store has complete cost data for.
    """
    if manual is not None and manual > 0:
        return Baseline(manual, "manual")
    if fixed is not None and fixed > 0:
        return Baseline(fixed, "fixed")
    if history_start is None or count < 1:
        return None

    previous = baseline_months(month, count)
    if history_start > previous[0]:
        return None
    totals = [monthly_totals.get(month_key(first), Decimal(0)) for first in previous]
    average = (sum(totals, Decimal(0)) / count).quantize(CENT)
    if average <= 0:
        return None
    return Baseline(average, "average", tuple(month_key(first) for first in previous))


def complete_months_available(month: date, history_start: date | None, count: int) -> int:
    """Return how many of the ``count`` months before ``month`` the history covers."""
    if history_start is None:
        return 0
    return sum(1 for first in baseline_months(month, count) if first >= history_start)
