"""The daily anomaly check against the trailing median."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from watchdog.spend.anomaly import Anomaly, AnomalyPolicy, detect_anomaly

POLICY = AnomalyPolicy(multiple=Decimal(3), min_amount=Decimal(20), trailing_days=14)
DAY = date(2026, 12, 15)


def history(amount: str, days: int = 14) -> dict[date, Decimal]:
    return {DAY - timedelta(days=offset): Decimal(amount) for offset in range(1, days + 1)}


def test_day_above_multiple_and_minimum_is_anomaly() -> None:
    daily = history("14") | {DAY: Decimal("42.01")}

    assert detect_anomaly(daily, DAY, POLICY) == Anomaly(DAY, Decimal("42.01"), Decimal(14))


def test_day_at_multiple_is_not_anomaly() -> None:
    daily = history("14") | {DAY: Decimal(42)}

    assert detect_anomaly(daily, DAY, POLICY) is None


def test_cheap_account_below_minimum_is_not_anomaly() -> None:
    daily = history("1") | {DAY: Decimal(19)}

    assert detect_anomaly(daily, DAY, POLICY) is None


def test_one_old_spike_does_not_move_median() -> None:
    daily = history("14") | {DAY - timedelta(days=3): Decimal(900), DAY: Decimal(50)}

    anomaly = detect_anomaly(daily, DAY, POLICY)

    assert anomaly is not None
    assert anomaly.trailing_median == Decimal(14)


def test_short_history_gives_no_verdict() -> None:
    daily = history("14", days=6) | {DAY: Decimal(500)}

    assert detect_anomaly(daily, DAY, POLICY) is None


def test_unknown_day_gives_no_verdict() -> None:
    assert detect_anomaly(history("14"), DAY, POLICY) is None
