"""Latency distributions: a value in milliseconds -> how many requests it stands for.

The same distribution is sent to CloudWatch as ``Values``/``Counts`` (from
which CloudWatch computes p99) and kept in the minute rollups, so the
rollups' p50 and p99 match what CloudWatch reports for those values.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

Distribution = Mapping[float, int]


def from_buckets(values: Iterable[float], counts: Iterable[float]) -> dict[float, int]:
    """Build a distribution from bucket values and per-bucket counts, skipping empty buckets."""
    distribution: dict[float, int] = {}
    for value, count in zip(values, counts, strict=True):
        # A NaN or infinite count (a broken counter) stands for no known requests.
        if not math.isfinite(count) or not math.isfinite(value):
            continue
        whole = round(count)
        if whole <= 0:
            continue
        key = round(value, 6)
        distribution[key] = distribution.get(key, 0) + whole
    return distribution


def from_mean(total: float, count: float, to_ms: float) -> dict[float, int]:
    """Build a one-value distribution from summed durations and a request count."""
    if not math.isfinite(count) or not math.isfinite(total) or total < 0:
        return {}
    whole = round(count)
    if whole <= 0:
        return {}
    return {round(total / count * to_ms, 6): whole}


def merge(*distributions: Distribution) -> dict[float, int]:
    """Add distributions value by value."""
    merged: dict[float, int] = {}
    for distribution in distributions:
        for value, count in distribution.items():
            merged[value] = merged.get(value, 0) + count
    return merged


def quantile(distribution: Distribution, q: float) -> float | None:
    """Return the smallest value with at least ``q`` of the counts at or below it (nearest rank)."""
    total = sum(distribution.values())
    if total <= 0:
        return None
    rank = max(math.ceil(q * total), 1)
    seen = 0
    for value in sorted(distribution):
        seen += distribution[value]
        if seen >= rank:
            return value
    return max(distribution)
