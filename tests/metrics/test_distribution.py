"""Latency distributions and their percentiles."""

from __future__ import annotations

from watchdog.metrics import distribution


def test_from_buckets_skips_empty_buckets() -> None:
    assert distribution.from_buckets((5.0, 17.5, 37.5), (0.0, 3.0, 1.0)) == {17.5: 3, 37.5: 1}


def test_from_mean_divides_total_by_count() -> None:
    assert distribution.from_mean(2_000_000.0, 100.0, to_ms=0.001) == {20.0: 100}


def test_from_mean_without_requests_is_empty() -> None:
    assert distribution.from_mean(0.0, 0.0, to_ms=0.001) == {}


def test_merge_adds_counts_per_value() -> None:
    assert distribution.merge({1.0: 2, 5.0: 1}, {5.0: 3}) == {1.0: 2, 5.0: 4}


def test_quantile_nearest_rank() -> None:
    latency = {10.0: 98, 200.0: 1, 900.0: 1}

    assert distribution.quantile(latency, 0.50) == 10.0
    assert distribution.quantile(latency, 0.99) == 200.0
    assert distribution.quantile(latency, 1.0) == 900.0


def test_quantile_of_nothing_is_none() -> None:
    assert distribution.quantile({}, 0.99) is None
