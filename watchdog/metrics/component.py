"""The metrics component: builds the pipeline from the settings and schedules its jobs.

Jobs, all on the wall clock in UTC:

- ``metrics-tick`` at every multiple of ``metrics.interval`` (``:00``,
  ``:10``, ...): scrape, build the window, record it, publish it, and hand
  it to the alert rules with the spool depth and CloudWatch failures;
- ``metrics-backfill`` half an interval later: drain the spool;
- ``metrics-rollup-purge`` hourly: delete rollups past their retention.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from watchdog.alerts.rules import HealthRules, HealthSample, MetricRules
from watchdog.metrics.alerting import alert_window
from watchdog.metrics.datums import dimension_sets
from watchdog.metrics.memory import MemoryReader
from watchdog.metrics.pipeline import MetricsPipeline, PipelineSettings
from watchdog.metrics.presets import PRESETS
from watchdog.metrics.publisher import CloudWatchPublisher
from watchdog.metrics.records import MetricsRecorder, RollupInferenceCounts
from watchdog.metrics.scrape import MetricsScraper
from watchdog.metrics.spool import MetricSpool
from watchdog.scheduler import JobSpec, utc_now

if TYPE_CHECKING:
    from watchdog.daemon import DaemonContext

logger = logging.getLogger(__name__)


def second_field(interval: int, offset: int = 0) -> str:
    """Return a cron ``second`` field that fires every ``interval`` seconds from ``offset``."""
    if interval >= 60:
        return str(offset % 60)
    return f"{offset % interval}/{interval}"


class MetricsComponent:
    """Publishes the worker's metrics to CloudWatch every interval."""

    name = "metrics"

    def __init__(self, context: DaemonContext) -> None:
        self._context = context
        self._settings = context.settings.metrics
        self.pipeline: MetricsPipeline | None = None
        settings = context.settings
        labels = {"service": settings.service_name, "host": settings.host_name}
        self.rules = MetricRules(settings.alerts.rules, labels)
        self.health = HealthRules(settings.alerts.health, labels)
        if context.services.inference_counts is None:
            # The spend nowcast multiplies these live counts by the last known cost per inference.
            context.services.inference_counts = RollupInferenceCounts(context.store)

    def jobs(self) -> list[JobSpec]:
        if not self._settings.enabled:
            return []
        interval = int(self._settings.interval.total_seconds())
        # A tick later than half an interval would read the next window's data: skip it.
        grace = max(interval // 2, 1)
        return [
            JobSpec(
                "metrics-tick",
                self.tick,
                CronTrigger(second=second_field(interval), timezone="UTC"),
                description="scrape the worker and publish one metric window",
                misfire_grace_time=grace,
            ),
            JobSpec(
                "metrics-backfill",
                self.backfill,
                CronTrigger(second=second_field(interval, interval // 2), timezone="UTC"),
                description="send spooled metric windows to CloudWatch, oldest first",
                misfire_grace_time=grace,
                # Usually finds an empty spool; its counters show in the metrics status.
                record=False,
            ),
            JobSpec(
                "metrics-rollup-purge",
                self.purge_rollups,
                IntervalTrigger(hours=1, timezone="UTC"),
                description="delete minute rollups past metrics.rollup_retention",
            ),
        ]

    def start(self) -> None:
        if not self._settings.enabled:
            logger.info("metrics disabled (metrics.enabled = false)")
            return
        self.pipeline = build_pipeline(self._context)
        logger.info(
            "metrics: %s preset, %ds windows, flush every %ds, namespace %s",
            self._settings.preset,
            self._settings.interval.total_seconds(),
            self._settings.flush_interval.total_seconds(),
            self._context.settings.aws.namespace,
        )

    def stop(self) -> None:
        if self.pipeline is not None:
            self.pipeline.scraper.close()

    def tick(self) -> None:
        """Run one tick of the pipeline and pass what it saw to the alert rules."""
        if self.pipeline is None:
            return
        window = self.pipeline.tick()
        if window is None:
            return

        events = []
        observed = alert_window(window)
        if observed is not None:
            events.extend(self.rules.evaluate(observed))
        health = HealthSample(
            at=window.start + timedelta(seconds=window.seconds),
            spool_depth=self.pipeline.spool.stats().windows,
            cloudwatch_consecutive_failures=self.pipeline.consecutive_failures,
        )
        events.extend(self.health.evaluate(health))
        sink = self._context.services.alert_sink
        for event in events:
            sink.emit(event)

    def backfill(self) -> None:
        """Run one backfill pass of the pipeline."""
        if self.pipeline is not None:
            self.pipeline.backfill()

    def purge_rollups(self) -> None:
        """Delete rollups older than the retention."""
        if self.pipeline is None:
            return
        before = utc_now() - self._settings.rollup_retention
        purged = self.pipeline.recorder.purge_rollups(before)
        if purged:
            logger.info("purged %d minute rollups before %s", purged, before.isoformat())


def build_pipeline(context: DaemonContext) -> MetricsPipeline:
    """Build the pipeline and its adapters from the daemon's context."""
    settings = context.settings
    metrics = settings.metrics
    client = context.aws.client("cloudwatch", max_attempts=1, timeout=metrics.publish_timeout.total_seconds())
    return MetricsPipeline(
        preset=PRESETS[metrics.preset],
        scraper=MetricsScraper(metrics.scrape_timeout.total_seconds(), metrics.scrape_max_bytes),
        memory=MemoryReader(metrics.memory_source),
        publisher=CloudWatchPublisher(client, settings.aws.namespace, metrics.throttle_attempts),
        spool=MetricSpool(context.store, metrics.spool_max_bytes, metrics.spool_max_age),
        recorder=MetricsRecorder(context.store),
        worker=lambda: context.services.worker,
        settings=PipelineSettings(
            interval_seconds=int(metrics.interval.total_seconds()),
            flush_seconds=int(metrics.flush_interval.total_seconds()),
            dimension_sets=dimension_sets(
                settings.service_name, settings.host_name, metrics.service_level_copy
            ),
            backfill_requests_per_run=metrics.backfill_requests_per_run,
        ),
        clock=context.now,
    )
