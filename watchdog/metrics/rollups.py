"""Minute rollups: the windows of one UTC minute merged into one row for alerts and reports.

Merging is pure and works one window at a time, so a minute whose windows
arrive across a daemon restart still adds up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from watchdog.metrics import distribution
from watchdog.metrics.window import Window, finite_or_none


@dataclass(frozen=True)
class RollupValues:
    """The numbers of one minute."""

    minute: datetime
    windows: int = 0
    worker_up_windows: int = 0
    request_count: int = 0
    error_count: int = 0
    latency_ms: dict[float, int] = field(default_factory=dict)
    max_queue_depth: float | None = None
    max_in_flight: float | None = None
    max_memory_rss: int | None = None
    max_memory_per_request: float | None = None

    @property
    def p50_ms(self) -> float | None:
        """Median latency in milliseconds, or None without requests."""
        return distribution.quantile(self.latency_ms, 0.50)

    @property
    def p99_ms(self) -> float | None:
        """99th percentile latency in milliseconds, or None without requests."""
        return distribution.quantile(self.latency_ms, 0.99)


def minute_of(moment: datetime) -> datetime:
    """Return the start of the UTC minute that contains ``moment``."""
    return moment.replace(second=0, microsecond=0)


def _max(current: float | None, new: float | None) -> float | None:
    new = finite_or_none(new)
    if new is None:
        return current
    if current is None:
        return new
    return max(current, new)


# Largest count one window adds to a rollup: 2^53 is the end of a float's exact
# integers, and a minute contains at most 60 windows, so the sum stays within
# SQLite's signed 64-bit INTEGER.
MAX_COUNT = 2**53


def _count(value: float | None) -> int:
    """Return a window's count as a whole number; 0 when unknown, negative or too large to store."""
    value = finite_or_none(value)
    if value is None or value < 0 or value > MAX_COUNT:
        return 0
    return round(value)


def merge_window(existing: RollupValues | None, window: Window) -> RollupValues:
    """Fold ``window`` into the rollup of its minute (a new one when ``existing`` is None)."""
    base = existing if existing is not None else RollupValues(minute=minute_of(window.start))
    memory = _max(float(base.max_memory_rss) if base.max_memory_rss is not None else None, window.memory_rss)
    latency = {
        value: count for value, count in window.latency_ms.items() if math.isfinite(value) and count > 0
    }
    return RollupValues(
        minute=base.minute,
        windows=base.windows + 1,
        worker_up_windows=base.worker_up_windows + (1 if window.worker_up else 0),
        request_count=base.request_count + _count(window.request_count),
        error_count=base.error_count + _count(window.error_count),
        latency_ms=distribution.merge(base.latency_ms, latency),
        max_queue_depth=_max(base.max_queue_depth, window.queue_depth),
        max_in_flight=_max(base.max_in_flight, window.in_flight),
        max_memory_rss=round(memory) if memory is not None else None,
        max_memory_per_request=_max(base.max_memory_per_request, window.memory_per_request),
    )
