"""CloudWatch alarms, created and updated idempotently against moto's server."""

from __future__ import annotations

import uuid
from typing import Any

from tests.metrics.conftest import cloudwatch_client
from watchdog.aws import AwsClients
from watchdog.config import Settings
from watchdog.metrics.alarms import AlarmClient, alarm_specs, ensure_alarms

TOPIC = "arn:aws:sns:us-east-1:123456789012:inference-alerts"


def settings_for(host: str, **alarms: Any) -> Settings:
    return Settings(
        service_name="inference",
        host_name=host,
        metrics={"alarms": {"sns_topic_arn": TOPIC, **alarms}},
    )


class PutCounter:
    def __init__(self, client: Any) -> None:
        self.calls = 0
        client.meta.events.register("after-call.cloudwatch.PutMetricAlarm", self._count)

    def _count(self, **kwargs: Any) -> None:
        self.calls += 1


def test_alarms_created_then_unchanged(aws_clients: AwsClients) -> None:
    host = f"host-{uuid.uuid4().hex[:8]}"
    settings = settings_for(host)
    client = cloudwatch_client(aws_clients)
    puts = PutCounter(client)
    alarms = AlarmClient(client)

    first = ensure_alarms(alarms, alarm_specs(settings), "InferenceWatchdog", TOPIC)
    second = ensure_alarms(alarms, alarm_specs(settings), "InferenceWatchdog", TOPIC)

    prefix = f"inference-watchdog/inference/{host}"
    assert first == [
        (f"{prefix}/heartbeat", "created"),
        (f"{prefix}/p99-latency", "created"),
        (f"{prefix}/queue-depth", "created"),
        (f"{prefix}/memory", "created"),
    ]
    assert [outcome for _, outcome in second] == ["unchanged"] * 4
    assert puts.calls == 4


def test_changed_threshold_updates_only_that_alarm(aws_clients: AwsClients) -> None:
    host = f"host-{uuid.uuid4().hex[:8]}"
    client = cloudwatch_client(aws_clients)
    alarms = AlarmClient(client)
    ensure_alarms(alarms, alarm_specs(settings_for(host)), "InferenceWatchdog", TOPIC)

    outcomes = ensure_alarms(
        alarms, alarm_specs(settings_for(host, p99_latency_ms=250)), "InferenceWatchdog", TOPIC
    )

    assert dict(outcomes) == {
        f"inference-watchdog/inference/{host}/heartbeat": "unchanged",
        f"inference-watchdog/inference/{host}/p99-latency": "updated",
        f"inference-watchdog/inference/{host}/queue-depth": "unchanged",
        f"inference-watchdog/inference/{host}/memory": "unchanged",
    }
    stored = client.describe_alarms(AlarmNames=[f"inference-watchdog/inference/{host}/p99-latency"])
    assert stored["MetricAlarms"][0]["Threshold"] == 250.0


def test_heartbeat_alarm_treats_missing_data_as_breaching(aws_clients: AwsClients) -> None:
    host = f"host-{uuid.uuid4().hex[:8]}"
    client = cloudwatch_client(aws_clients)
    ensure_alarms(AlarmClient(client), alarm_specs(settings_for(host)), "InferenceWatchdog", TOPIC)

    name = f"inference-watchdog/inference/{host}/heartbeat"
    alarm = client.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]

    assert alarm["MetricName"] == "WatchdogHeartbeat"
    assert alarm["TreatMissingData"] == "breaching"
    assert alarm["ComparisonOperator"] == "LessThanThreshold"
    assert alarm["Statistic"] == "SampleCount"
    assert alarm["Threshold"] == 3.0
    assert alarm["AlarmActions"] == [TOPIC]
    assert alarm["OKActions"] == [TOPIC]
    assert sorted((d["Name"], d["Value"]) for d in alarm["Dimensions"]) == [
        ("Host", host),
        ("Service", "inference"),
    ]


def test_p99_alarm_uses_the_extended_statistic() -> None:
    specs = {spec.name.rsplit("/", 1)[1]: spec for spec in alarm_specs(settings_for("h"))}

    request = specs["p99-latency"].to_request("InferenceWatchdog", [TOPIC])

    assert request["ExtendedStatistic"] == "p99"
    assert "Statistic" not in request
    assert request["MetricName"] == "InferenceTime"
    assert request["Threshold"] == 500.0


def test_dry_run_changes_nothing(aws_clients: AwsClients) -> None:
    host = f"host-{uuid.uuid4().hex[:8]}"
    client = cloudwatch_client(aws_clients)
    puts = PutCounter(client)

    outcomes = ensure_alarms(
        AlarmClient(client),
        alarm_specs(settings_for(host)),
        "InferenceWatchdog",
        TOPIC,
        dry_run=True,
    )

    assert [outcome for _, outcome in outcomes] == ["created"] * 4
    assert puts.calls == 0
