"""Each window goes to the alert rules, with the spool depth and CloudWatch failures."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

from tests.metrics.conftest import (
    ExpositionServer,
    ReferenceWorkerMetrics,
    StaticWorker,
    closed_port_url,
    cloudwatch_client,
    recent_tick_clock,
)
from watchdog.alerts.events import AlertEvent
from watchdog.aws import AwsClients
from watchdog.config import Settings
from watchdog.daemon import DaemonContext
from watchdog.metrics.alerting import alert_window
from watchdog.metrics.component import MetricsComponent
from watchdog.metrics.window import Window
from watchdog.slack import SlackClients
from watchdog.storage import Store

START = datetime(2026, 3, 1, 12, 0, 10, tzinfo=UTC)


class RecordingSink:
    def __init__(self) -> None:
        self.events: list[AlertEvent] = []

    def emit(self, event: AlertEvent) -> None:
        self.events.append(event)


def test_alert_window_carries_the_window_values() -> None:
    window = Window(
        start=START,
        seconds=10,
        worker_up=True,
        request_count=100.0,
        error_count=3.0,
        latency_ms={20.0: 98, 400.0: 2},
        queue_depth=7.0,
        memory_rss=500e6,
        memory_per_request=2e6,
    )

    observed = alert_window(window)

    assert observed is not None
    assert observed.start == START
    assert observed.end == datetime(2026, 3, 1, 12, 0, 20, tzinfo=UTC)
    assert observed.requests == 100
    assert observed.errors == 3
    assert observed.p99_latency_seconds == 0.4
    assert observed.queue_depth == 7.0
    assert observed.memory_bytes == 500_000_000
    assert observed.memory_per_request_bytes == 2e6


def test_alert_window_caps_errors_at_requests() -> None:
    window = Window(start=START, seconds=10, worker_up=True, request_count=2.0, error_count=5.0)

    observed = alert_window(window)

    assert observed is not None
    assert observed.errors == 2


def test_window_without_request_count_is_not_judged() -> None:
    assert alert_window(Window(start=START, seconds=10, worker_up=True)) is None


def test_component_emits_rule_and_health_events(
    tmp_path: Path, store: Store, aws_clients: AwsClients, exposition_server: ExpositionServer
) -> None:
    worker_metrics = ReferenceWorkerMetrics()
    exposition_server.body = worker_metrics.text
    clock = recent_tick_clock()
    settings = Settings(
        host_name="test-host",
        aws={"namespace": f"Test{uuid.uuid4().hex[:12]}"},
        alerts={"health": {"cloudwatch_failures": 2}},
    )
    context = DaemonContext(
        settings=settings,
        store=store,
        state_dir=tmp_path,
        aws=aws_clients,
        slack=SlackClients(settings.slack),
        embedded=None,
        now=clock,
    )
    sink = RecordingSink()
    context.services.alert_sink = sink
    context.services.worker = StaticWorker(pid=os.getpid(), metrics_url=exposition_server.url)
    component = MetricsComponent(context)
    component.start()
    assert component.pipeline is not None
    component.pipeline.publisher.client = cloudwatch_client(aws_clients, closed_port_url())

    for _ in range(3):
        worker_metrics.serve(30, 0.02)
        worker_metrics.queue_depth.set(80)
        component.tick()
        clock.advance(10)
    component.stop()

    # The first tick has no request count yet, so only the health rules judge it.
    first_tick = [event.rule for event in sink.events[:2]]
    last = {event.rule: event for event in sink.events}
    assert first_tick == ["spool_growing", "cloudwatch_failing"]
    assert set(last) == {
        "spool_growing",
        "cloudwatch_failing",
        "latency_p99",
        "queue_depth",
        "memory_per_request",
        "error_rate",
    }
    assert last["queue_depth"].state == "firing"
    assert last["queue_depth"].labels == {"service": "inference", "host": "test-host"}
    assert last["latency_p99"].state == "resolved"
    assert last["cloudwatch_failing"].state == "firing"
    assert "3 CloudWatch publishes failed in a row" in last["cloudwatch_failing"].summary
    assert last["spool_growing"].state == "resolved"
