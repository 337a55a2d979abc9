"""CloudWatch data points: the MetricDatum type and the formatting of a window into them.

Formatting is pure; ``publisher`` sends what it returns. Every point has
``StorageResolution=1``: without it CloudWatch stores the 10-second points
at one-minute resolution. CloudWatch keeps sub-minute points for 3 hours,
then rolls them up to one minute.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from watchdog.metrics.window import Window

# CloudWatch metric names and units of one window.
INFERENCE_TIME = "InferenceTime"
REQUEST_COUNT = "RequestCount"
ERROR_COUNT = "ErrorCount"
QUEUE_DEPTH = "QueueDepth"
IN_FLIGHT = "InFlight"
MEMORY_RSS = "MemoryRSS"
MEMORY_PER_REQUEST = "MemoryPerRequest"
WORKER_UP = "WorkerUp"
WATCHDOG_HEARTBEAT = "WatchdogHeartbeat"

Dimensions = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class MetricDatum:
    """One item of ``PutMetricData``'s ``MetricData``: a single value or a distribution."""

    name: str
    dimensions: Dimensions
    timestamp: datetime
    unit: str
    value: float | None = None
    values: tuple[float, ...] = ()
    counts: tuple[float, ...] = ()
    storage_resolution: int = 1

    def to_request(self) -> dict[str, Any]:
        """Return the item in the shape boto3's ``put_metric_data`` takes."""
        item: dict[str, Any] = {
            "MetricName": self.name,
            "Dimensions": [{"Name": name, "Value": value} for name, value in self.dimensions],
            "Timestamp": self.timestamp,
            "Unit": self.unit,
            "StorageResolution": self.storage_resolution,
        }
        if self.values:
            item["Values"] = list(self.values)
            item["Counts"] = list(self.counts)
        else:
            item["Value"] = self.value
        return item

    def to_json(self) -> dict[str, Any]:
        """Return the item as JSON-ready data for the spool."""
        return {
            "name": self.name,
            "dimensions": [list(pair) for pair in self.dimensions],
            "timestamp": self.timestamp.isoformat(),
            "unit": self.unit,
            "value": self.value,
            "values": list(self.values),
            "counts": list(self.counts),
            "storage_resolution": self.storage_resolution,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MetricDatum:
        """Rebuild an item written by ``to_json``."""
        return cls(
            name=str(data["name"]),
            dimensions=tuple((str(name), str(value)) for name, value in data["dimensions"]),
            timestamp=datetime.fromisoformat(str(data["timestamp"])),
            unit=str(data["unit"]),
            value=None if data["value"] is None else float(data["value"]),
            values=tuple(float(value) for value in data["values"]),
            counts=tuple(float(count) for count in data["counts"]),
            storage_resolution=int(data["storage_resolution"]),
        )


def dump_datums(datums: list[MetricDatum]) -> str:
    """Serialize data points for the spool (NaN and infinities are already dropped)."""
    return json.dumps([datum.to_json() for datum in datums], separators=(",", ":"))


def load_datums(text: str) -> list[MetricDatum]:
    """Deserialize data points written by ``dump_datums``."""
    return [MetricDatum.from_json(item) for item in json.loads(text)]


def dimension_sets(service: str, host: str, service_level_copy: bool) -> list[Dimensions]:
    """Return the dimension sets every metric is published with."""
    sets: list[Dimensions] = [(("Service", service), ("Host", host))]
    if service_level_copy:
        sets.append((("Service", service),))
    return sets


def _count_value(count: int) -> float:
    """Return a distribution count as a float; infinity when it is too large for one.

    ``enforce_limits`` then drops the infinite count and counts the drop.
    """
    try:
        return float(count)
    except OverflowError:
        return math.inf


def format_window(window: Window, dimension_sets: list[Dimensions]) -> list[MetricDatum]:
    """Return the CloudWatch data points of one window, for every dimension set.

    A metric whose value is unknown in this window is left out, so
    CloudWatch shows a gap rather than a made-up zero. ``InferenceTime`` is
    left out when no request finished.
    """
    singles: list[tuple[str, str, float | None]] = [
        (REQUEST_COUNT, "Count", window.request_count),
        (ERROR_COUNT, "Count", window.error_count),
        (QUEUE_DEPTH, "Count", window.queue_depth),
        (IN_FLIGHT, "Count", window.in_flight),
        (MEMORY_RSS, "Bytes", window.memory_rss),
        (MEMORY_PER_REQUEST, "Bytes", window.memory_per_request),
        (WORKER_UP, "None", 1.0 if window.worker_up else 0.0),
        (WATCHDOG_HEARTBEAT, "Count", 1.0),
    ]
    latency = sorted(window.latency_ms.items())

    datums: list[MetricDatum] = []
    for dimensions in dimension_sets:
        if latency:
            datums.append(
                MetricDatum(
                    name=INFERENCE_TIME,
                    dimensions=dimensions,
                    timestamp=window.start,
                    unit="Milliseconds",
                    values=tuple(value for value, _ in latency),
                    counts=tuple(_count_value(count) for _, count in latency),
                )
            )
        for name, unit, value in singles:
            if value is None:
                continue
            datums.append(
                MetricDatum(name=name, dimensions=dimensions, timestamp=window.start, unit=unit, value=value)
            )
    return datums
