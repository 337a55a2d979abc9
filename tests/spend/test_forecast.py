"""The run-rate forecast of a month's total."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from watchdog.spend.forecast import Observation, observations_from_daily, run_rate_forecast

DECEMBER = date(2026, 12, 1)
WINDOW = timedelta(days=3)
MIN_ELAPSED = timedelta(days=1)


def at(day: int, hour: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, tzinfo=UTC)


def test_steady_spend_forecasts_month_total() -> None:
    daily = {date(2026, 12, day): Decimal(14) for day in range(1, 11)}
    observations = observations_from_daily(daily, DECEMBER, at(11))

    forecast = run_rate_forecast(observations, DECEMBER, WINDOW, MIN_ELAPSED)

    assert forecast == Decimal("434.00")


def test_recent_spike_raises_forecast() -> None:
    daily = {date(2026, 12, day): Decimal(14) for day in range(1, 8)}
    daily |= {date(2026, 12, day): Decimal(100) for day in range(8, 11)}
    observations = observations_from_daily(daily, DECEMBER, at(11))

    forecast = run_rate_forecast(observations, DECEMBER, WINDOW, MIN_ELAPSED)

    # $398 so far plus 21 days at the last three days' $100 a day.
    assert forecast == Decimal("2498.00")


def test_no_forecast_before_min_elapsed() -> None:
    observations = [Observation(at(1, 20), Decimal(12))]

    assert run_rate_forecast(observations, DECEMBER, WINDOW, MIN_ELAPSED) is None


def test_falling_spend_forecasts_month_to_date() -> None:
    observations = [Observation(at(5), Decimal(100)), Observation(at(9), Decimal(90))]

    forecast = run_rate_forecast(observations, DECEMBER, timedelta(days=2), MIN_ELAPSED)

    assert forecast == Decimal("90.00")


def test_latest_partial_day_observed_at_fetch_time() -> None:
    daily = {date(2026, 12, 1): Decimal(24), date(2026, 12, 2): Decimal(6)}

    observations = observations_from_daily(daily, DECEMBER, at(2, 6))

    assert observations == [
        Observation(at(2), Decimal(24)),
        Observation(at(2, 6), Decimal(30)),
    ]


def test_other_months_ignored() -> None:
    observations = [
        Observation(datetime(2026, 11, 30, tzinfo=UTC), Decimal(3000)),
        Observation(at(3), Decimal(30)),
    ]

    forecast = run_rate_forecast(observations, DECEMBER, WINDOW, MIN_ELAPSED)

    # $30 in two days, then $15 a day for the 29 days left.
    assert forecast == Decimal("465.00")
