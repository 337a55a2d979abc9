"""EstimatedCharges readings across the 1st: the reset starts a new month, never a drop."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from watchdog.spend.estimated_charges import ChargeReading, assign_months, month_to_date


def reading(month: int, day: int, hour: int, amount: str) -> ChargeReading:
    return ChargeReading(datetime(2026, month, day, hour, tzinfo=UTC), Decimal(amount))


def test_reset_after_midnight_starts_new_month() -> None:
    readings = [
        reading(11, 30, 20, "3150.00"),
        reading(12, 1, 0, "3190.25"),
        reading(12, 1, 4, "4.20"),
        reading(12, 1, 8, "12.40"),
    ]

    assigned = assign_months(readings)

    assert [month for _, month in assigned] == ["2026-11", "2026-11", "2026-12", "2026-12"]
    assert month_to_date(assigned, "2026-11") == Decimal("3190.25")
    assert month_to_date(assigned, "2026-12") == Decimal("12.40")


def test_previous_stored_reading_seeds_the_month() -> None:
    previous = reading(11, 30, 22, "3180.00")

    assigned = assign_months([reading(12, 1, 2, "3190.25")], previous)

    assert assigned == [(reading(12, 1, 2, "3190.25"), "2026-11")]


def test_no_drop_after_grace_counts_for_new_month() -> None:
    readings = [reading(11, 30, 20, "0.50"), reading(12, 3, 0, "0.90")]

    assigned = assign_months(readings)

    assert [month for _, month in assigned] == ["2026-11", "2026-12"]


def test_month_without_readings_has_no_total() -> None:
    assert month_to_date(assign_months([reading(11, 30, 20, "1.00")]), "2026-12") is None
