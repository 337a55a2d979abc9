"""Settings of the metrics pipeline: scraping, CloudWatch publishing, the spool, rollups, alarms."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field, field_validator, model_validator

from watchdog.config.sections import Section
from watchdog.config.types import ByteSize, Duration

# CloudWatch rejects data points with timestamps older than two weeks.
CLOUDWATCH_MAX_AGE = timedelta(days=14)

PresetName = Literal["reference", "triton", "torchserve", "vllm"]


class AlarmSettings(Section):
    """The CloudWatch alarms that the command inference-watchdog cloudwatch ensure-alarms creates."""

    sns_topic_arn: str | None = Field(
        None,
        description="SNS topic that receives the alarms' ALARM and OK notifications; unset "
        "creates alarms without actions.",
    )
    name_prefix: str = Field(
        "inference-watchdog",
        description="Start of every alarm name; the service, host and alarm kind follow.",
    )
    period: Duration = Field(
        timedelta(minutes=1),
        description="Period over which each alarm evaluates its statistic: 10s, 30s or a multiple of 60s.",
    )
    evaluation_periods: int = Field(
        3, ge=1, le=100, description="Consecutive periods that must breach before an alarm fires."
    )
    p99_latency_ms: float = Field(
        500.0, gt=0, description="p99 InferenceTime, in milliseconds, above which the alarm fires."
    )
    queue_depth: float = Field(50.0, gt=0, description="Maximum QueueDepth above which the alarm fires.")
    memory_rss: ByteSize = Field(
        2 * 1024**3, gt=0, description="Maximum worker MemoryRSS above which the alarm fires."
    )

    @field_validator("sns_topic_arn")
    @classmethod
    def _arn_shape(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("arn:aws"):
            raise ValueError("expected an SNS topic ARN such as 'arn:aws:sns:us-east-1:123456789012:alerts'")
        return value

    @field_validator("period")
    @classmethod
    def _alarm_period(cls, value: timedelta) -> timedelta:
        seconds = value.total_seconds()
        if seconds not in (10, 30) and (seconds < 60 or seconds % 60):
            raise ValueError("CloudWatch alarm periods are 10s, 30s or a multiple of 60s")
        return value


class MetricsSettings(Section):
    """Scraping of the worker, and publishing of its numbers to CloudWatch."""

    enabled: bool = Field(True, description="Scrape the worker and publish its metrics.")
    interval: Duration = Field(
        timedelta(seconds=10),
        description="Length of one metric window; scrapes run on the wall clock at multiples "
        "of it. Must divide a minute evenly.",
    )
    flush_interval: Duration = Field(
        timedelta(seconds=10),
        description="How often windows are sent to CloudWatch, a multiple of the interval. "
        "60s sends six 10-second points in one request and cuts the request cost six-fold.",
    )
    preset: PresetName = Field(
        "reference",
        description="Metric names of the worker's /metrics: 'reference' (the bundled worker), "
        "'triton', 'torchserve' or 'vllm'.",
    )
    scrape_timeout: Duration = Field(
        timedelta(seconds=2), description="Time limit of one scrape of /metrics, body included."
    )
    scrape_max_bytes: ByteSize = Field(
        4 * 1024**2,
        gt=0,
        description="Largest /metrics body accepted; a larger one skips the tick.",
    )
    memory_source: Literal["process_tree", "cgroup"] = Field(
        "process_tree",
        description="'process_tree' sums the RSS of the worker and its children; 'cgroup' reads "
        "the worker's cgroup usage (memory.current, or memory.usage_in_bytes on cgroup v1).",
    )
    service_level_copy: bool = Field(
        False,
        description="Also publish every metric with only the 'Service' dimension, for fleet-wide "
        "graphs; doubles the number of custom metrics billed.",
    )
    publish_timeout: Duration = Field(
        timedelta(seconds=3),
        description="Connect and read timeout of each PutMetricData request.",
    )
    throttle_attempts: int = Field(
        3, ge=1, le=10, description="Attempts per PutMetricData request when CloudWatch throttles."
    )
    spool_max_bytes: ByteSize = Field(
        128 * 1024**2,
        gt=0,
        description="Size limit of the spool of unsent windows; the oldest are dropped, and "
        "counted, beyond it.",
    )
    spool_max_age: Duration = Field(
        CLOUDWATCH_MAX_AGE,
        description="Age beyond which spooled windows are dropped and counted; at most 14 days, "
        "since CloudWatch rejects older timestamps.",
    )
    backfill_requests_per_run: int = Field(
        20,
        ge=1,
        le=1000,
        description="PutMetricData requests one backfill run may send, to spread a long backlog.",
    )
    rollup_retention: Duration = Field(
        timedelta(days=400),
        description="How long minute rollups are kept for alerts and monthly reports.",
    )
    alarms: AlarmSettings = Field(default_factory=AlarmSettings)

    @field_validator("interval")
    @classmethod
    def _interval_divides_minute(cls, value: timedelta) -> timedelta:
        seconds = value.total_seconds()
        if seconds < 1 or seconds != int(seconds) or 60 % int(seconds):
            raise ValueError("use whole seconds that divide a minute, such as 5s, 10s, 30s or 60s")
        return value

    @field_validator("spool_max_age")
    @classmethod
    def _within_cloudwatch_window(cls, value: timedelta) -> timedelta:
        if value > CLOUDWATCH_MAX_AGE or value <= timedelta(0):
            raise ValueError("use at most 14d: CloudWatch rejects timestamps older than two weeks")
        return value

    @model_validator(mode="after")
    def _flush_is_multiple_of_interval(self) -> MetricsSettings:
        flush = self.flush_interval.total_seconds()
        interval = self.interval.total_seconds()
        if flush < interval or flush % interval or flush > 900:
            raise ValueError(
                f"invalid metrics.flush_interval {flush:g}s: use a multiple of metrics.interval "
                f"({interval:g}s) of at most 15 minutes"
            )
        return self
