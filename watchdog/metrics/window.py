"""Metric windows: what the worker did during one interval on the wall clock.

A tick runs at a multiple of the interval (``:00``, ``:10``, ...). The
window it closes starts one interval earlier, and that start is the
timestamp of every data point sent for it. Counters become the growth
since the previous successful scrape; gauges and memory are the values
read at the tick.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from watchdog.metrics import distribution
from watchdog.metrics.deltas import bucket_values, histogram_delta, series_delta
from watchdog.metrics.presets import HistogramLatency, Preset, WorkerReading

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Window:
    """The numbers of one window, before formatting for CloudWatch."""

    start: datetime
    seconds: int
    worker_up: bool
    # None when unknown: the first scrape, a failed scrape, or a server without the metric.
    request_count: float | None = None
    error_count: float | None = None
    latency_ms: Mapping[float, int] = field(default_factory=dict)
    queue_depth: float | None = None
    in_flight: float | None = None
    memory_rss: float | None = None
    memory_per_request: float | None = None


@dataclass(frozen=True)
class WorkerIdentity:
    """The values that distinguish one worker process from the next."""

    pid: int | None
    # Unix start time the worker's process collector reports (process_start_time_seconds).
    process_start: float | None

    def replaced(self, other: WorkerIdentity) -> bool:
        """Return whether ``other`` is a different process, judged by every field both have.

        The handle's ``started_at`` is not compared: in attach mode it moves
        when a worker recovers from failed health checks without restarting,
        and a false restart would publish the counters' whole lifetime as one
        window.
        """
        pairs: tuple[tuple[object, object], ...] = (
            (self.pid, other.pid),
            (self.process_start, other.process_start),
        )
        return any(mine is not None and theirs is not None and mine != theirs for mine, theirs in pairs)


def floor_time(moment: datetime, interval_seconds: int) -> datetime:
    """Return ``moment`` rounded down to a multiple of the interval since the Unix epoch."""
    elapsed = (moment - _EPOCH) // timedelta(seconds=interval_seconds)
    return _EPOCH + timedelta(seconds=elapsed * interval_seconds)


def closing_window_start(tick: datetime, interval_seconds: int) -> datetime:
    """Return the start of the window that a tick at ``tick`` closes."""
    return floor_time(tick, interval_seconds) - timedelta(seconds=interval_seconds)


@dataclass(frozen=True)
class Deltas:
    """What the worker's counters say happened between two scrapes."""

    request_count: float | None
    error_count: float | None
    latency_ms: dict[float, int]


NO_DELTAS = Deltas(request_count=None, error_count=None, latency_ms={})


def compute_deltas(
    preset: Preset, previous: WorkerReading, current: WorkerReading, restarted: bool
) -> Deltas:
    """Return the growth of the preset's counters from ``previous`` to ``current``."""
    requests = series_delta(previous.counters["requests"], current.counters["requests"], restarted)
    errors: float | None = None
    if "errors" in current.counters:
        errors = series_delta(previous.counters.get("errors", {}), current.counters["errors"], restarted)

    latency: dict[float, int] = {}
    if isinstance(preset.latency, HistogramLatency):
        parts = []
        for labels, series in current.histograms.items():
            bounds, counts = histogram_delta(previous.histograms.get(labels), series, restarted)
            parts.append(distribution.from_buckets(bucket_values(bounds, preset.latency.to_ms), counts))
        latency = distribution.merge(*parts)
    else:
        total = series_delta(previous.counters["latency_total"], current.counters["latency_total"], restarted)
        count = series_delta(previous.counters["latency_count"], current.counters["latency_count"], restarted)
        latency = distribution.from_mean(total, count, preset.latency.to_ms)
    return Deltas(request_count=requests, error_count=errors, latency_ms=latency)


def build_window(
    start: datetime,
    seconds: int,
    *,
    worker_up: bool,
    deltas: Deltas,
    current: WorkerReading | None,
    memory_rss: int | None,
    memory_per_request: float | None,
) -> Window:
    """Assemble one window from the deltas and the values read at the tick."""
    return Window(
        start=start,
        seconds=seconds,
        worker_up=worker_up,
        request_count=deltas.request_count,
        error_count=deltas.error_count,
        latency_ms=deltas.latency_ms,
        queue_depth=current.queue_depth if current is not None else None,
        in_flight=current.in_flight if current is not None else None,
        memory_rss=float(memory_rss) if memory_rss is not None else None,
        memory_per_request=memory_per_request,
    )


def finite_or_none(value: float | None) -> float | None:
    """Return ``value`` if it is a finite number, else None."""
    if value is None or not math.isfinite(value):
        return None
    return value
