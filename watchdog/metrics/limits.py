"""CloudWatch's PutMetricData limits, enforced before anything is sent.

moto's server accepts much that CloudWatch rejects, so the project checks
the limits itself (CloudWatch API reference, PutMetricData and MetricDatum):

- at most 1,000 metric data items and 1 MB of request body per request;
- at most 150 distinct values in one item's ``Values``/``Counts``;
- at most 30 dimensions per item, names and values 1 to 255 characters;
- values within -2^360..2^360, and no NaN or infinity;
- timestamps at most two weeks in the past and two hours in the future.

``enforce_limits`` drops what CloudWatch would reject and counts each drop
by reason; it splits a distribution with too many values into several
items with the same name and timestamp, which CloudWatch aggregates.
``plan_requests`` packs items into requests.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from watchdog.metrics.datums import MetricDatum

MAX_ITEMS_PER_REQUEST = 1000
# 1 MB as CloudWatch counts it; kept below 1 MiB on purpose, with room for the envelope.
MAX_REQUEST_BYTES = 1_000_000
REQUEST_ENVELOPE_BYTES = 1_000
MAX_VALUES_PER_DISTRIBUTION = 150
MAX_DIMENSIONS = 30
MAX_NAME_LENGTH = 255
MAX_ABS_VALUE = 2.0**360
MAX_AGE = timedelta(days=14)
MAX_AHEAD = timedelta(hours=2)

# Reasons a value or item is dropped; each is a counter in ``status``.
DROP_NON_FINITE = "non_finite_values"
DROP_OUT_OF_RANGE = "out_of_range_values"
DROP_INVALID_COUNT = "invalid_counts"
DROP_TOO_OLD = "stale_timestamps"
DROP_TOO_NEW = "future_timestamps"
DROP_DIMENSIONS = "invalid_dimensions"


def _value_problem(value: float) -> str | None:
    if not math.isfinite(value):
        return DROP_NON_FINITE
    if abs(value) > MAX_ABS_VALUE:
        return DROP_OUT_OF_RANGE
    return None


def _dimensions_valid(datum: MetricDatum) -> bool:
    if len(datum.dimensions) > MAX_DIMENSIONS:
        return False
    return all(
        0 < len(name) <= MAX_NAME_LENGTH and 0 < len(value) <= MAX_NAME_LENGTH
        for name, value in datum.dimensions
    )


def _clean_distribution(datum: MetricDatum, drops: Counter[str]) -> MetricDatum | None:
    values: list[float] = []
    counts: list[float] = []
    for value, count in zip(datum.values, datum.counts, strict=True):
        problem = _value_problem(value)
        if problem is not None:
            drops[problem] += 1
            continue
        if count == 0:
            # A value seen zero times adds nothing; it is left out, not counted as a drop.
            continue
        if not math.isfinite(count) or count < 0 or count > MAX_ABS_VALUE:
            drops[DROP_INVALID_COUNT] += 1
            continue
        values.append(value)
        counts.append(count)
    if not values:
        return None
    return replace(datum, values=tuple(values), counts=tuple(counts))


def split_distribution(datum: MetricDatum, limit: int = MAX_VALUES_PER_DISTRIBUTION) -> list[MetricDatum]:
    """Split an item whose ``Values`` exceed ``limit`` into items of at most ``limit`` values."""
    if len(datum.values) <= limit:
        return [datum]
    parts = []
    for start in range(0, len(datum.values), limit):
        parts.append(
            replace(
                datum,
                values=datum.values[start : start + limit],
                counts=datum.counts[start : start + limit],
            )
        )
    return parts


def enforce_limits(datums: Iterable[MetricDatum], now: datetime) -> tuple[list[MetricDatum], Counter[str]]:
    """Return the items CloudWatch would accept, and the dropped values and items by reason."""
    kept: list[MetricDatum] = []
    drops: Counter[str] = Counter()
    for datum in datums:
        if datum.timestamp < now - MAX_AGE:
            drops[DROP_TOO_OLD] += 1
            continue
        if datum.timestamp > now + MAX_AHEAD:
            drops[DROP_TOO_NEW] += 1
            continue
        if not _dimensions_valid(datum):
            drops[DROP_DIMENSIONS] += 1
            continue

        if datum.values:
            cleaned = _clean_distribution(datum, drops)
            if cleaned is not None:
                kept.extend(split_distribution(cleaned))
            continue

        problem = _value_problem(datum.value if datum.value is not None else math.nan)
        if problem is not None:
            drops[problem] += 1
            continue
        kept.append(datum)
    return kept, drops


def request_size(datum: MetricDatum) -> int:
    """Return an upper estimate of the bytes ``datum`` adds to a PutMetricData body.

    botocore sends CloudWatch requests as JSON, with the timestamp as epoch
    seconds; the estimate is that JSON with room for the longest timestamp
    and separator.
    """
    item = datum.to_request()
    item["Timestamp"] = 0
    return len(json.dumps(item, separators=(",", ":"))) + 24


def plan_batches(
    sizes: Sequence[tuple[int, int]],
    max_items: int = MAX_ITEMS_PER_REQUEST,
    max_bytes: int = MAX_REQUEST_BYTES - REQUEST_ENVELOPE_BYTES,
) -> list[list[int]]:
    """Group units, each ``(items, bytes)``, in order into batches within both limits.

    Returns the indexes of the units in each batch. A unit larger than a
    whole request gets a batch of its own; the caller splits it first.
    """
    batches: list[list[int]] = []
    current: list[int] = []
    items = 0
    size = 0
    for index, (unit_items, unit_bytes) in enumerate(sizes):
        if current and (items + unit_items > max_items or size + unit_bytes > max_bytes):
            batches.append(current)
            current, items, size = [], 0, 0
        current.append(index)
        items += unit_items
        size += unit_bytes
    if current:
        batches.append(current)
    return batches


def plan_requests(datums: Sequence[MetricDatum]) -> list[list[MetricDatum]]:
    """Pack items, in order, into requests of at most 1,000 items and 1 MB."""
    sizes = [(1, request_size(datum)) for datum in datums]
    return [[datums[index] for index in batch] for batch in plan_batches(sizes)]
