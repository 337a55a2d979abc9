"""CloudWatch alarms on the published metrics, created or updated idempotently.

Four alarms per service and host:

- heartbeat: fewer ``WatchdogHeartbeat`` points than expected. Missing
  data counts as breaching, so the daemon's own death (or a host that
  stopped) raises the alarm, which no alarm on the worker's metrics can.
- p99 latency: ``InferenceTime`` p99 above the threshold. CloudWatch
  computes p99 from the ``Values``/``Counts`` distributions.
- queue depth and memory: their maximum above the threshold.

The specifications are pure; ``ensure_alarms`` reads the existing alarms
and sends ``PutMetricAlarm`` only for those that are missing or differ, so
running it again changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from watchdog.aws_retry import translate_aws_error
from watchdog.config import Settings
from watchdog.iam import requires_iam
from watchdog.metrics.datums import (
    INFERENCE_TIME,
    MEMORY_RSS,
    QUEUE_DEPTH,
    WATCHDOG_HEARTBEAT,
)

logger = logging.getLogger(__name__)

Outcome = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True)
class AlarmSpec:
    """One alarm, as PutMetricAlarm takes it."""

    name: str
    description: str
    metric: str
    dimensions: tuple[tuple[str, str], ...]
    comparison: str
    threshold: float
    period: int
    evaluation_periods: int
    treat_missing_data: str
    statistic: str | None = None
    extended_statistic: str | None = None

    def to_request(self, namespace: str, actions: list[str]) -> dict[str, Any]:
        """Return the keyword arguments of boto3's ``put_metric_alarm``."""
        request: dict[str, Any] = {
            "AlarmName": self.name,
            "AlarmDescription": self.description,
            "ActionsEnabled": bool(actions),
            "AlarmActions": actions,
            "OKActions": actions,
            "Namespace": namespace,
            "MetricName": self.metric,
            "Dimensions": [{"Name": name, "Value": value} for name, value in self.dimensions],
            "Period": self.period,
            "EvaluationPeriods": self.evaluation_periods,
            "DatapointsToAlarm": self.evaluation_periods,
            "Threshold": self.threshold,
            "ComparisonOperator": self.comparison,
            "TreatMissingData": self.treat_missing_data,
        }
        if self.extended_statistic is not None:
            request["ExtendedStatistic"] = self.extended_statistic
        else:
            request["Statistic"] = self.statistic
        return request


def alarm_specs(settings: Settings) -> list[AlarmSpec]:
    """Return the four alarms for this service and host."""
    alarms = settings.metrics.alarms
    dimensions = (("Service", settings.service_name), ("Host", settings.host_name))
    prefix = f"{alarms.name_prefix}/{settings.service_name}/{settings.host_name}"
    period = int(alarms.period.total_seconds())
    # One heartbeat per window; fewer than half of them in a period means the daemon is stalling.
    expected_beats = max(period // int(settings.metrics.interval.total_seconds()), 1)
    return [
        AlarmSpec(
            name=f"{prefix}/heartbeat",
            description="inference-watchdog stopped publishing its heartbeat: the daemon or the "
            "host is down, or CloudWatch is unreachable from it.",
            metric=WATCHDOG_HEARTBEAT,
            dimensions=dimensions,
            statistic="SampleCount",
            comparison="LessThanThreshold",
            threshold=max(expected_beats / 2, 1.0),
            period=period,
            evaluation_periods=alarms.evaluation_periods,
            treat_missing_data="breaching",
        ),
        AlarmSpec(
            name=f"{prefix}/p99-latency",
            description=f"p99 inference time above {alarms.p99_latency_ms:g} ms.",
            metric=INFERENCE_TIME,
            dimensions=dimensions,
            extended_statistic="p99",
            comparison="GreaterThanThreshold",
            threshold=alarms.p99_latency_ms,
            period=period,
            evaluation_periods=alarms.evaluation_periods,
            treat_missing_data="notBreaching",
        ),
        AlarmSpec(
            name=f"{prefix}/queue-depth",
            description=f"worker queue deeper than {alarms.queue_depth:g} requests.",
            metric=QUEUE_DEPTH,
            dimensions=dimensions,
            statistic="Maximum",
            comparison="GreaterThanThreshold",
            threshold=alarms.queue_depth,
            period=period,
            evaluation_periods=alarms.evaluation_periods,
            treat_missing_data="notBreaching",
        ),
        AlarmSpec(
            name=f"{prefix}/memory",
            description=f"worker memory (RSS) above {alarms.memory_rss} bytes.",
            metric=MEMORY_RSS,
            dimensions=dimensions,
            statistic="Maximum",
            comparison="GreaterThanThreshold",
            threshold=float(alarms.memory_rss),
            period=period,
            evaluation_periods=alarms.evaluation_periods,
            treat_missing_data="notBreaching",
        ),
    ]


# Fields of a DescribeAlarms entry compared with the desired request.
_COMPARED = (
    "AlarmDescription",
    "ActionsEnabled",
    "Namespace",
    "MetricName",
    "Period",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "Statistic",
    "ExtendedStatistic",
)


def _dimension_pairs(dimensions: list[Mapping[str, str]]) -> list[tuple[str, str]]:
    return sorted((item["Name"], item["Value"]) for item in dimensions)


def alarm_differs(existing: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
    """Whether an alarm as DescribeAlarms returned it differs from a PutMetricAlarm request."""
    for key in _COMPARED:
        if existing.get(key) != desired.get(key):
            return True
    if sorted(existing.get("AlarmActions", [])) != sorted(desired["AlarmActions"]):
        return True
    if sorted(existing.get("OKActions", [])) != sorted(desired["OKActions"]):
        return True
    return _dimension_pairs(existing.get("Dimensions", [])) != _dimension_pairs(desired["Dimensions"])


class AlarmClient:
    """The CloudWatch calls that managing alarms needs."""

    def __init__(self, client: Any) -> None:
        self._client = client

    @requires_iam("cloudwatch:DescribeAlarms")
    def find_alarms(self, names: list[str]) -> dict[str, dict[str, Any]]:
        """Return the metric alarms among ``names`` that exist, by name."""
        try:
            response = self._client.describe_alarms(AlarmNames=names, AlarmTypes=["MetricAlarm"])
        except (ClientError, BotoCoreError) as exc:
            raise translate_aws_error("CloudWatch", "DescribeAlarms", exc) from exc
        return {alarm["AlarmName"]: alarm for alarm in response.get("MetricAlarms", [])}

    @requires_iam("cloudwatch:PutMetricAlarm")
    def write_alarm(self, request: Mapping[str, Any]) -> None:
        """Create or replace one alarm."""
        try:
            self._client.put_metric_alarm(**request)
        except (ClientError, BotoCoreError) as exc:
            raise translate_aws_error("CloudWatch", "PutMetricAlarm", exc) from exc


def ensure_alarms(
    client: AlarmClient,
    specs: list[AlarmSpec],
    namespace: str,
    topic_arn: str | None,
    dry_run: bool = False,
) -> list[tuple[str, Outcome]]:
    """Create missing alarms and update changed ones; return each alarm's outcome."""
    actions = [topic_arn] if topic_arn else []
    existing = client.find_alarms([spec.name for spec in specs])
    outcomes: list[tuple[str, Outcome]] = []
    for spec in specs:
        request = spec.to_request(namespace, actions)
        current = existing.get(spec.name)
        outcome: Outcome
        if current is None:
            outcome = "created"
        elif alarm_differs(current, request):
            outcome = "updated"
        else:
            outcome = "unchanged"
        if outcome != "unchanged" and not dry_run:
            client.write_alarm(request)
            logger.info("alarm %s %s", spec.name, outcome)
        outcomes.append((spec.name, outcome))
    return outcomes
