"""The metrics component inside a real daemon loop, ticking on the wall clock."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import select

from tests.metrics.conftest import (
    CallCounter,
    ExpositionServer,
    ReferenceWorkerMetrics,
    StaticWorker,
)
from watchdog.aws import AwsClients
from watchdog.config import load_settings
from watchdog.daemon import Daemon
from watchdog.embedded.aws import EmbeddedAws
from watchdog.metrics.component import MetricsComponent, second_field
from watchdog.status import collect_status
from watchdog.storage import open_store
from watchdog.storage.models import JobRun
from watchdog.systemd import Notifier

DEADLINE_SECONDS = 60


def test_cron_second_fields() -> None:
    assert second_field(10) == "0/10"
    assert second_field(10, 5) == "5/10"
    assert second_field(30, 15) == "15/30"
    assert second_field(60) == "0"
    assert second_field(60, 30) == "30"


def test_daemon_publishes_one_aligned_window_per_tick(
    tmp_path: Path,
    moto_server: EmbeddedAws,
    aws_clients: AwsClients,
    exposition_server: ExpositionServer,
) -> None:
    worker_metrics = ReferenceWorkerMetrics()
    exposition_server.body = worker_metrics.text
    namespace = f"Test{uuid.uuid4().hex[:12]}"
    loaded = load_settings(
        overrides={
            "mode": "production",
            "state_dir": tmp_path,
            "host_name": "test-host",
            "aws": {"endpoint_url": moto_server.endpoint_url, "namespace": namespace},
        },
        environ={},
    )
    daemon = Daemon(loaded, aws=aws_clients, notifier=Notifier(None), factories=[MetricsComponent])
    daemon.context.services.worker = StaticWorker(pid=None, metrics_url=exposition_server.url)

    daemon.start()
    try:
        component = daemon.components[0]
        assert isinstance(component, MetricsComponent)
        assert component.pipeline is not None
        counter = CallCounter(component.pipeline.publisher.client)
        deadline = time.monotonic() + DEADLINE_SECONDS
        while counter.calls < 3 and time.monotonic() < deadline:
            worker_metrics.serve(4, 0.02)
            time.sleep(0.5)
    finally:
        daemon.stop()

    assert counter.calls >= 3
    starts: list[Any] = []
    for request in counter.requests:
        stamps = {item["Timestamp"] for item in request["MetricData"]}
        assert len(stamps) == 1
        stamp = stamps.pop()
        assert stamp.second % 10 == 0
        assert stamp.microsecond == 0
        starts.append(stamp)
    assert len(set(starts)) == len(starts)

    store = open_store(loaded.settings.resolved_database_url())
    try:
        with store.session() as session:
            tick_job = session.scalars(select(JobRun).where(JobRun.job_id == "metrics-tick")).one()
        status = collect_status(store, loaded.settings)
    finally:
        store.close()
    # Ticks that ran before the counter was attached also published one request each.
    assert status["metrics"]["put_metric_data_requests"] == tick_job.runs
    assert status["metrics"]["published"] == tick_job.runs
    assert tick_job.failures == 0
