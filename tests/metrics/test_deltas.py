"""Counter and histogram deltas, resets included."""

from __future__ import annotations

import math

from watchdog.metrics.deltas import bucket_values, counter_delta, histogram_delta, series_delta
from watchdog.metrics.presets import HistogramSeries


def test_counter_growth_is_the_difference() -> None:
    assert counter_delta(10.0, 25.0) == 15.0


def test_counter_that_went_down_counts_from_zero() -> None:
    assert counter_delta(500.0, 12.0) == 12.0


def test_known_restart_counts_from_zero_even_when_higher() -> None:
    assert counter_delta(10.0, 40.0, restarted=True) == 40.0


def test_new_series_counts_from_zero() -> None:
    assert counter_delta(None, 3.0) == 3.0


def test_series_reset_one_at_a_time() -> None:
    previous = {"ok": 100.0, "error": 5.0}
    current = {"ok": 130.0, "error": 1.0, "queue_full": 2.0}

    assert series_delta(previous, current) == 30.0 + 1.0 + 2.0


def test_vanished_series_adds_nothing() -> None:
    assert series_delta({"ok": 100.0, "old": 50.0}, {"ok": 101.0}) == 1.0


def histogram(
    cumulative: tuple[float, ...], bounds: tuple[float, ...] = (0.1, 1.0, math.inf)
) -> HistogramSeries:
    return HistogramSeries(bounds=bounds, cumulative=cumulative, sum=0.0, count=cumulative[-1])


def test_histogram_delta_per_bucket() -> None:
    bounds, counts = histogram_delta(histogram((2, 5, 6)), histogram((4, 10, 12)))

    assert bounds == (0.1, 1.0, math.inf)
    assert counts == (2.0, 3.0, 1.0)


def test_histogram_lower_count_is_a_reset() -> None:
    _, counts = histogram_delta(histogram((40, 50, 60)), histogram((1, 2, 3)))

    assert counts == (1.0, 1.0, 1.0)


def test_histogram_lower_bucket_is_a_reset() -> None:
    # Same total, but one bucket went down: only a restart explains it.
    _, counts = histogram_delta(histogram((5, 6, 6)), histogram((1, 6, 6)))

    assert counts == (1.0, 5.0, 0.0)


def test_histogram_new_layout_is_a_reset() -> None:
    previous = histogram((1, 2, 3))
    current = histogram((4, 4), bounds=(0.5, math.inf))

    bounds, counts = histogram_delta(previous, current)

    assert bounds == (0.5, math.inf)
    assert counts == (4.0, 0.0)


def test_bucket_values_are_midpoints_in_ms() -> None:
    values = bucket_values((0.01, 0.025, 0.05, math.inf), to_ms=1000.0)

    assert values == (5.0, 17.5, 37.5, 50.0)
