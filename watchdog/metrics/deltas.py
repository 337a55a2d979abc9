"""Turning cumulative Prometheus counters and histograms into per-window deltas.

A counter only grows while its process lives. A value lower than the
previous one therefore means the worker restarted and the counter began
again at zero, so the delta is the new value itself, never a negative
number. The same holds when the caller knows of a restart (a new process
id or start time) even if the counter already climbed past its old value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TypeVar

from watchdog.metrics.presets import HistogramSeries

K = TypeVar("K")


def counter_delta(previous: float | None, current: float, restarted: bool = False) -> float:
    """Return how much a counter grew; a drop or a known restart counts from zero.

    ``previous`` is None for a series that did not exist at the last scrape,
    which also grew from zero.
    """
    if previous is None or restarted or current < previous:
        return current
    return current - previous


def series_delta(previous: Mapping[K, float], current: Mapping[K, float], restarted: bool = False) -> float:
    """Return the summed growth of every series of a counter, each reset handled on its own.

    A series that disappeared contributes nothing: the requests it counted
    since the last scrape cannot be known.
    """
    total = 0.0
    for key, value in current.items():
        total += counter_delta(previous.get(key), value, restarted)
    return total


def histogram_delta(
    previous: HistogramSeries | None, current: HistogramSeries, restarted: bool = False
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Return the bucket bounds and the observations that fell in each bucket since ``previous``.

    Counts are per bucket, not cumulative. A changed bucket layout, a lower
    count or any lower bucket means a reset, and every observation of
    ``current`` is new.
    """
    reset = (
        previous is None
        or restarted
        or previous.bounds != current.bounds
        or current.count < previous.count
        or any(now < before for now, before in zip(current.cumulative, previous.cumulative, strict=True))
    )
    if reset or previous is None:
        cumulative = current.cumulative
    else:
        cumulative = tuple(
            now - before for now, before in zip(current.cumulative, previous.cumulative, strict=True)
        )

    per_bucket = []
    below = 0.0
    for value in cumulative:
        per_bucket.append(max(value - below, 0.0))
        below = max(below, value)
    return current.bounds, tuple(per_bucket)


def bucket_values(bounds: tuple[float, ...], to_ms: float) -> tuple[float, ...]:
    """Return the value, in milliseconds, that stands for each bucket's observations.

    A bucket (lower, upper] is represented by its midpoint, the first one by
    half its bound. Observations above the last finite bound (the ``+Inf``
    bucket) are represented by that bound: nothing more is known of them.
    """
    values = []
    lower = 0.0
    for upper in bounds:
        if math.isinf(upper):
            representative = lower
        else:
            representative = (max(lower, 0.0) + upper) / 2
        values.append(round(representative * to_ms, 6))
        if not math.isinf(upper):
            lower = upper
    return tuple(values)
