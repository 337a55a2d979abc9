"""Tables of the metrics pipeline: the spool of unsent windows, minute rollups and counters."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from watchdog.storage.models.base import Base
from watchdog.storage.types import UtcDateTime


class MetricSpoolEntry(Base):
    """One metric window waiting for CloudWatch, as the formatted MetricDatum list.

    ``state`` is ``deferred`` while the window waits for the next flush
    (flush interval longer than the window) and ``failed`` once a
    PutMetricData request carrying it failed; the backfill job drains
    ``failed`` rows oldest first.
    """

    __tablename__ = "metric_spool"
    __table_args__ = (Index("ix_metric_spool_state_window_start", "state", "window_start"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UtcDateTime())
    state: Mapped[str] = mapped_column(String(10))
    # JSON list of MetricDatum objects (see watchdog.metrics.datums).
    payload: Mapped[str] = mapped_column(Text)
    item_count: Mapped[int] = mapped_column(Integer)
    # Estimated size of the items in a PutMetricData request body, in bytes.
    size_bytes: Mapped[int] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    spooled_at: Mapped[datetime] = mapped_column(UtcDateTime())


class MetricRollup(Base):
    """The worker's numbers over one UTC minute, merged from its metric windows."""

    __tablename__ = "metric_rollups"

    minute: Mapped[datetime] = mapped_column(UtcDateTime(), primary_key=True)
    windows: Mapped[int] = mapped_column(Integer, default=0)
    worker_up_windows: Mapped[int] = mapped_column(Integer, default=0)
    request_count: Mapped[int] = mapped_column(BigInteger, default=0)
    error_count: Mapped[int] = mapped_column(BigInteger, default=0)
    # Latency distribution as [[milliseconds, count], ...], the same values sent to CloudWatch.
    latency_ms: Mapped[list[list[float]]] = mapped_column(JSON, default=list)
    p50_ms: Mapped[float | None] = mapped_column(nullable=True)
    p99_ms: Mapped[float | None] = mapped_column(nullable=True)
    max_queue_depth: Mapped[float | None] = mapped_column(nullable=True)
    max_in_flight: Mapped[float | None] = mapped_column(nullable=True)
    max_memory_rss: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    max_memory_per_request: Mapped[float | None] = mapped_column(nullable=True)


class MetricCounter(Base):
    """A monthly counter of the pipeline: windows published, spooled, dropped, requests sent."""

    __tablename__ = "metric_counters"

    # UTC month as "YYYY-MM".
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class MetricState(Base):
    """The latest value of one fact about the pipeline, such as the last publish error."""

    __tablename__ = "metric_state"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
