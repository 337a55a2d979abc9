"""The simulated account bill: its months, its clock, and its Cost Explorer pages."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from watchdog.config.spend import EmbeddedBillSettings
from watchdog.embedded.bill import (
    COMPUTE,
    COST_EXPLORER,
    BillModel,
    EmbeddedBill,
    FastClock,
    load_clock,
)
from watchdog.spend.calendar import iter_days, next_month_start

DECEMBER = date(2026, 12, 1)
MODEL = BillModel(DECEMBER)


def month_total(first: date) -> Decimal:
    end = datetime.combine(next_month_start(first), datetime.min.time(), UTC)
    return MODEL.month_to_date(end - timedelta(seconds=1))


def test_earlier_months_average_near_420() -> None:
    totals = [month_total(date(2026, month, 1)) for month in (9, 10, 11)]

    assert totals == [Decimal("414.98"), Decimal("428.65"), Decimal("414.02")]
    assert sum(totals) / 3 == Decimal("419.2166666666666666666666667")


def test_current_month_climbs_to_about_3200() -> None:
    assert month_total(DECEMBER) == Decimal("3200.23")
    assert MODEL.month_to_date(datetime(2026, 12, 3, 23, 59, tzinfo=UTC)) < Decimal(45)


def test_credit_and_rounding_rows_are_negative() -> None:
    credit_day = MODEL.costs_as_of(date(2026, 11, 15), datetime(2026, 11, 16, tzinfo=UTC))
    rounding_day = MODEL.costs_as_of(date(2026, 11, 16), datetime(2026, 11, 17, tzinfo=UTC))

    assert credit_day[(COMPUTE, "Credit")] == Decimal("-10.00")
    assert rounding_day[(COST_EXPLORER, "Usage")] == Decimal("0.0499999711")


def test_inferences_between_spread_evenly() -> None:
    day = date(2026, 12, 10)
    start = datetime(2026, 12, 10, tzinfo=UTC)

    half = MODEL.inferences_between(start, start + timedelta(hours=12))

    assert half == MODEL.inferences_on(day) // 2


def test_fast_clock_rate_and_end() -> None:
    real = [datetime(2026, 12, 4, 12, tzinfo=UTC)]
    clock = FastClock(
        datetime(2026, 12, 1, tzinfo=UTC),
        real[0],
        seconds_per_day=6,
        end=datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC),
        real_now=lambda: real[0],
    )

    real[0] += timedelta(seconds=9)
    at_nine_seconds = clock.now()
    real[0] += timedelta(minutes=10)

    assert clock.rate == 14400
    assert at_nine_seconds == datetime(2026, 12, 2, 12, tzinfo=UTC)
    assert clock.now() == datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)


def test_restart_continues_the_simulated_month(tmp_path: Path) -> None:
    real = [datetime(2026, 12, 4, 12, tzinfo=UTC)]
    load_clock(tmp_path, 6, real_now=lambda: real[0])

    real[0] += timedelta(seconds=30)
    restarted = load_clock(tmp_path, 6, real_now=lambda: real[0])

    assert restarted.now() == datetime(2026, 12, 6, tzinfo=UTC)
    stored = json.loads((tmp_path / "embedded-bill.json").read_text())
    assert stored["real_start"] == "2026-12-04T12:00:00+00:00"


def started_bill(tmp_path: Path, real_now: datetime) -> EmbeddedBill:
    bill = EmbeddedBill(
        "http://127.0.0.1:9", tmp_path, EmbeddedBillSettings(seconds_per_day=6), ("a", "b")
    )
    bill._clock = load_clock(tmp_path, 6, real_now=lambda: real_now)
    bill._model = BillModel(DECEMBER)
    return bill


def test_cost_page_splits_long_periods(tmp_path: Path) -> None:
    bill = started_bill(tmp_path, datetime(2026, 12, 4, 12, tzinfo=UTC))
    params = {
        "TimePeriod": {"Start": "2026-09-01", "End": "2026-12-02"},
        "Metrics": ["UnblendedCost"],
    }

    first = bill.cost_page(params)
    last = bill.cost_page({**params, "NextPageToken": "page-2"})

    assert first["NextPageToken"] == "page-1"
    assert [r["TimePeriod"]["Start"] for r in first["ResultsByTime"]][:2] == [
        "2026-09-01",
        "2026-09-02",
    ]
    assert "NextPageToken" not in last
    assert [r["TimePeriod"]["Start"] for r in last["ResultsByTime"]] == [
        day.isoformat() for day in iter_days(date(2026, 11, 2), date(2026, 12, 2))
    ]


def test_cost_page_lags_and_marks_open_month_estimated(tmp_path: Path) -> None:
    bill = started_bill(tmp_path, datetime(2026, 12, 4, 12, tzinfo=UTC))
    bill._clock = FastClock(
        datetime(2026, 12, 10, 6, tzinfo=UTC),
        datetime(2026, 12, 4, 12, tzinfo=UTC),
        6,
        datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC),
        real_now=lambda: datetime(2026, 12, 4, 12, tzinfo=UTC),
    )
    params = {
        "TimePeriod": {"Start": "2026-12-08", "End": "2026-12-11"},
        "Metrics": ["UnblendedCost"],
    }

    page = bill.cost_page(params)

    results = page["ResultsByTime"]
    assert [r["Estimated"] for r in results] == [True, True, True]
    assert [len(r["Groups"]) for r in results] == [4, 4, 0]
    compute = {
        r["TimePeriod"]["Start"]: g["Metrics"]["UnblendedCost"]["Amount"]
        for r in results
        for g in r["Groups"]
        if g["Keys"] == [COMPUTE, "Usage"]
    }
    # Eight hours of lag: at 06:00 on the 10th, Cost Explorer has the 9th up to 22:00.
    full_day = Decimal("9.80") + MODEL.inferences_on(date(2026, 12, 9)) * Decimal("0.00003")
    expected = (full_day * 22 / 24).quantize(Decimal("0.0000000001"))
    assert Decimal(compute["2026-12-09"]) == expected
