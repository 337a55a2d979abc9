"""The baseline: manual, fixed, or the average of the last complete months."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from watchdog.spend.baseline import Baseline, complete_months_available, compute_baseline

DECEMBER = date(2026, 12, 1)
HISTORY = {"2026-09": Decimal("410.00"), "2026-10": Decimal("420.00"), "2026-11": Decimal("430.01")}


def test_average_of_last_three_months() -> None:
    baseline = compute_baseline(DECEMBER, HISTORY, date(2026, 9, 1), 3)

    assert baseline == Baseline(Decimal("420.00"), "average", ("2026-09", "2026-10", "2026-11"))


def test_partial_first_month_gives_no_baseline() -> None:
    baseline = compute_baseline(DECEMBER, HISTORY, date(2026, 9, 15), 3)

    assert baseline is None
    assert complete_months_available(DECEMBER, date(2026, 9, 15), 3) == 2


def test_no_history_gives_no_baseline() -> None:
    assert compute_baseline(DECEMBER, {}, None, 3) is None
    assert complete_months_available(DECEMBER, None, 3) == 0


def test_month_without_rows_inside_history_costs_zero() -> None:
    history = {"2026-10": Decimal("300.00"), "2026-11": Decimal("300.00")}

    baseline = compute_baseline(DECEMBER, history, date(2026, 9, 1), 3)

    assert baseline == Baseline(Decimal("200.00"), "average", ("2026-09", "2026-10", "2026-11"))


def test_zero_average_gives_no_baseline() -> None:
    assert compute_baseline(DECEMBER, {}, date(2026, 1, 1), 3) is None


def test_fixed_amount_needs_no_history() -> None:
    baseline = compute_baseline(DECEMBER, {}, None, 3, fixed=Decimal(500))

    assert baseline == Baseline(Decimal(500), "fixed")


def test_manual_amount_wins_over_fixed_and_average() -> None:
    baseline = compute_baseline(
        DECEMBER, HISTORY, date(2026, 9, 1), 3, fixed=Decimal(500), manual=Decimal(450)
    )

    assert baseline == Baseline(Decimal(450), "manual")


def test_january_averages_previous_year() -> None:
    history = {"2026-10": Decimal(100), "2026-11": Decimal(200), "2026-12": Decimal(300)}

    baseline = compute_baseline(date(2027, 1, 1), history, date(2026, 10, 1), 3)

    assert baseline == Baseline(Decimal("200.00"), "average", ("2026-10", "2026-11", "2026-12"))
