"""Cost per inference and the nowcast of the days the bill does not cover yet."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from watchdog.spend.nowcast import UnitCost, cost_per_inference, nowcast_month_to_date, unit_cost


def day(number: int) -> date:
    return date(2026, 12, number)


def test_cost_per_inference_over_days_with_traffic() -> None:
    spend = {day(1): Decimal(14), day(2): Decimal(16), day(3): Decimal(5)}
    inferences = {day(1): 100_000, day(2): 100_000, day(3): 0}

    assert cost_per_inference(spend, inferences) == Decimal("0.00015")


def test_cost_per_inference_without_traffic_is_unknown() -> None:
    assert cost_per_inference({day(1): Decimal(14)}, {day(1): 0}) is None


def test_unit_cost_splits_fixed_services() -> None:
    total = {day(1): Decimal(14), day(2): Decimal(14)}
    inference_spend = {day(1): Decimal(4), day(2): Decimal(4)}
    inferences = {day(1): 100_000, day(2): 100_000}

    cost = unit_cost(total, inference_spend, inferences, fixed_daily_cost=None)

    assert cost == UnitCost(Decimal("0.00004"), Decimal(10), (day(1), day(2)))


def test_unit_cost_with_configured_fixed_cost() -> None:
    total = {day(1): Decimal(14)}

    cost = unit_cost(total, None, {day(1): 100_000}, fixed_daily_cost=Decimal(10))

    assert cost == UnitCost(Decimal("0.00004"), Decimal(10), (day(1),))


def test_nowcast_estimates_days_after_last_bill() -> None:
    billed = {day(number): Decimal(14) for number in range(1, 10)}
    inferences = {day(9): 100_000, day(10): 100_000, day(11): 50_000}
    cost = UnitCost(Decimal("0.00004"), Decimal(10), ())
    now = datetime(2026, 12, 11, 12, tzinfo=UTC)

    nowcast = nowcast_month_to_date(billed, inferences, cost, now)

    # Day 9 keeps its bill ($14 = the estimate), day 10 is $4 + $10, day 11 is $2 + $5.
    assert nowcast.estimated_days == (day(10), day(11))
    assert nowcast.daily[day(10)] == Decimal("14.00000")
    assert nowcast.daily[day(11)] == Decimal("7.00000")
    assert nowcast.month_to_date == Decimal("147.00")
    assert nowcast.inferences == 150_000


def test_nowcast_keeps_larger_billed_amount() -> None:
    billed = {day(1): Decimal(30)}
    cost = UnitCost(Decimal("0.0001"), Decimal(0), ())
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)

    nowcast = nowcast_month_to_date(billed, {day(1): 1000}, cost, now)

    assert nowcast.month_to_date == Decimal("30.00")
    assert nowcast.estimated_days == ()
