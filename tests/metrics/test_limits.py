"""CloudWatch's PutMetricData limits, enforced by the project because moto does not."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from watchdog.metrics.datums import MetricDatum
from watchdog.metrics.limits import (
    DROP_DIMENSIONS,
    DROP_INVALID_COUNT,
    DROP_NON_FINITE,
    DROP_OUT_OF_RANGE,
    DROP_TOO_NEW,
    DROP_TOO_OLD,
    MAX_REQUEST_BYTES,
    enforce_limits,
    plan_requests,
    request_size,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DIMENSIONS = (("Service", "inference"), ("Host", "host-1"))


def single(value: float, name: str = "RequestCount", at: datetime = NOW) -> MetricDatum:
    return MetricDatum(name=name, dimensions=DIMENSIONS, timestamp=at, unit="Count", value=value)


def spread(values: int, at: datetime = NOW) -> MetricDatum:
    """A distribution whose values print with many digits, as real latencies do."""
    return MetricDatum(
        name="InferenceTime",
        dimensions=DIMENSIONS,
        timestamp=at,
        unit="Milliseconds",
        values=tuple(index * 1.0000001 + 0.123456789 for index in range(values)),
        counts=tuple(float(index % 7 + 1) for index in range(values)),
    )


def test_2500_items_become_three_requests() -> None:
    datums = [single(float(index)) for index in range(2500)]

    requests = plan_requests(datums)

    assert [len(request) for request in requests] == [1000, 1000, 500]
    assert [datum for request in requests for datum in request] == datums


def test_200_value_distribution_is_split() -> None:
    kept, drops = enforce_limits([spread(200)], NOW)

    assert [len(datum.values) for datum in kept] == [150, 50]
    assert kept[0].values + kept[1].values == spread(200).values
    assert kept[0].counts + kept[1].counts == spread(200).counts
    assert {datum.timestamp for datum in kept} == {NOW}
    assert not drops


def test_nan_is_dropped_and_counted() -> None:
    kept, drops = enforce_limits([single(math.nan), single(1.0)], NOW)

    assert kept == [single(1.0)]
    assert drops[DROP_NON_FINITE] == 1


def test_infinity_in_a_distribution_is_dropped_and_counted() -> None:
    datum = MetricDatum(
        name="InferenceTime",
        dimensions=DIMENSIONS,
        timestamp=NOW,
        unit="Milliseconds",
        values=(1.0, math.inf, -math.inf, 3.0),
        counts=(2.0, 1.0, 1.0, 4.0),
    )

    kept, drops = enforce_limits([datum], NOW)

    assert len(kept) == 1
    assert kept[0].values == (1.0, 3.0)
    assert kept[0].counts == (2.0, 4.0)
    assert drops[DROP_NON_FINITE] == 2


def test_distribution_of_only_nan_is_dropped() -> None:
    datum = MetricDatum(
        name="InferenceTime",
        dimensions=DIMENSIONS,
        timestamp=NOW,
        unit="Milliseconds",
        values=(math.nan,),
        counts=(1.0,),
    )

    kept, drops = enforce_limits([datum], NOW)

    assert kept == []
    assert drops[DROP_NON_FINITE] == 1


def test_negative_count_is_dropped_and_counted() -> None:
    datum = MetricDatum(
        name="InferenceTime",
        dimensions=DIMENSIONS,
        timestamp=NOW,
        unit="Milliseconds",
        values=(1.0, 2.0, 3.0),
        counts=(1.0, -1.0, 0.0),
    )

    kept, drops = enforce_limits([datum], NOW)

    assert kept[0].values == (1.0,)
    assert drops[DROP_INVALID_COUNT] == 1


def test_huge_value_dropped_and_counted() -> None:
    kept, drops = enforce_limits([single(2.0**361)], NOW)

    assert kept == []
    assert drops[DROP_OUT_OF_RANGE] == 1


def test_timestamp_15_days_old_is_dropped_and_counted() -> None:
    kept, drops = enforce_limits([single(1.0, at=NOW - timedelta(days=15)), single(2.0)], NOW)

    assert kept == [single(2.0)]
    assert drops[DROP_TOO_OLD] == 1


def test_timestamp_13_days_old_is_kept() -> None:
    kept, drops = enforce_limits([single(1.0, at=NOW - timedelta(days=13))], NOW)

    assert len(kept) == 1
    assert not drops


def test_timestamp_3_hours_ahead_is_dropped_and_counted() -> None:
    kept, drops = enforce_limits([single(1.0, at=NOW + timedelta(hours=3))], NOW)

    assert kept == []
    assert drops[DROP_TOO_NEW] == 1


def test_31_dimensions_are_dropped_and_counted() -> None:
    dimensions = tuple((f"D{index}", "x") for index in range(31))
    datum = MetricDatum(name="X", dimensions=dimensions, timestamp=NOW, unit="Count", value=1.0)

    kept, drops = enforce_limits([datum], NOW)

    assert kept == []
    assert drops[DROP_DIMENSIONS] == 1


def test_30_dimensions_are_kept() -> None:
    dimensions = tuple((f"D{index}", "x") for index in range(30))
    datum = MetricDatum(name="X", dimensions=dimensions, timestamp=NOW, unit="Count", value=1.0)

    kept, drops = enforce_limits([datum], NOW)

    assert kept == [datum]
    assert not drops


def test_requests_stay_under_one_megabyte() -> None:
    datums = [spread(150) for _ in range(400)]

    requests = plan_requests(datums)

    sizes = [sum(request_size(datum) for datum in request) for request in requests]
    assert len(requests) > 1
    assert all(size <= MAX_REQUEST_BYTES for size in sizes)
    assert sum(len(request) for request in requests) == 400
