"""The pipeline end to end: a real /metrics server, moto's CloudWatch, a migrated SQLite file.

Ticks are driven by a controlled clock, one window apart, at timestamps
half an hour in the past so that CloudWatch (and the limits) accept them.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from datetime import timedelta
from itertools import pairwise

import pytest
from prometheus_client import Gauge
from sqlalchemy import select

from tests.metrics.conftest import (
    ExpositionServer,
    PipelineRig,
    ReferenceWorkerMetrics,
    StaticWorker,
    closed_port_url,
    cloudwatch_client,
)
from watchdog.aws import AwsClients
from watchdog.config import Settings
from watchdog.metrics.status import metrics_status
from watchdog.storage import Store
from watchdog.storage.models import MetricRollup

RigFactory = Callable[..., PipelineRig]


@pytest.fixture
def worker_metrics(exposition_server: ExpositionServer) -> ReferenceWorkerMetrics:
    metrics = ReferenceWorkerMetrics()
    exposition_server.body = metrics.text
    return metrics


@pytest.fixture
def worker(exposition_server: ExpositionServer) -> StaticWorker:
    # The test process is the worker for memory readings, and its /metrics is the test server.
    return StaticWorker(pid=os.getpid(), is_up=True, metrics_url=exposition_server.url)


def total_requests(metrics: ReferenceWorkerMetrics) -> float:
    return sum(
        sample.value
        for family in metrics.registry.collect()
        if family.name == "inference_requests"
        for sample in family.samples
        if sample.name == "inference_requests_total"
    )


def test_one_put_metric_data_per_tick(
    make_rig: RigFactory, worker: StaticWorker, worker_metrics: ReferenceWorkerMetrics
) -> None:
    rig = make_rig(worker=worker)

    for _ in range(7):
        worker_metrics.serve(5, 0.02)
        rig.tick()

    assert rig.counter.calls == 7
    for request, tick in zip(rig.counter.requests, range(7), strict=True):
        items = request["MetricData"]
        expected_start = rig.clock.now - timedelta(seconds=10 * (7 - tick) + 10)
        assert {item["Timestamp"] for item in items} == {expected_start.replace(microsecond=0)}
        assert {item["StorageResolution"] for item in items} == {1}


def test_windows_read_back_ten_seconds_apart(
    make_rig: RigFactory, worker: StaticWorker, worker_metrics: ReferenceWorkerMetrics
) -> None:
    rig = make_rig(worker=worker)
    rig.tick()
    counted_from = total_requests(worker_metrics)

    for index in range(6):
        worker_metrics.serve(10 + index, 0.02)
        worker_metrics.serve(1, 0.3, outcome="error")
        worker_metrics.queue_depth.set(index)
        rig.tick()

    for metric in ("InferenceTime", "QueueDepth", "MemoryPerRequest"):
        points = rig.statistics(metric, ["SampleCount"])
        starts = [point["Timestamp"] for point in points]
        assert len(points) >= 5, metric
        assert all(later - earlier == timedelta(seconds=10) for earlier, later in pairwise(starts)), metric
    requests = rig.statistics("RequestCount", ["Sum"])
    assert sum(point["Sum"] for point in requests) == total_requests(worker_metrics) - counted_from
    errors = rig.statistics("ErrorCount", ["Sum"])
    assert sum(point["Sum"] for point in errors) == 6
    latency = rig.statistics("InferenceTime", ["SampleCount", "Maximum"])
    assert sum(point["SampleCount"] for point in latency) == sum(11 + index for index in range(6))
    assert max(point["Maximum"] for point in latency) == 375.0


def test_first_tick_publishes_no_counts(
    make_rig: RigFactory, worker: StaticWorker, worker_metrics: ReferenceWorkerMetrics
) -> None:
    worker_metrics.serve(50, 0.02)
    rig = make_rig(worker=worker)

    rig.tick()

    names = {item["MetricName"] for item in rig.counter.requests[0]["MetricData"]}
    assert "RequestCount" not in names
    assert "InferenceTime" not in names
    assert {"QueueDepth", "InFlight", "MemoryRSS", "WorkerUp", "WatchdogHeartbeat"} <= names


def test_first_tick_counts_new_process_from_zero(
    make_rig: RigFactory, worker: StaticWorker, worker_metrics: ReferenceWorkerMetrics
) -> None:
    rig = make_rig(worker=worker)
    # The worker process started after the pipeline began watching, so all it served is new.
    started = Gauge("process_start_time_seconds", "Start time", registry=worker_metrics.registry)
    started.set(time.time() + 1)
    worker_metrics.serve(50, 0.02)

    rig.tick()

    items = {item["MetricName"]: item for item in rig.counter.requests[0]["MetricData"]}
    assert items["RequestCount"]["Value"] == 50
    assert sum(items["InferenceTime"]["Counts"]) == 50


def test_first_tick_counts_start_read_early(
    make_rig: RigFactory, worker: StaticWorker, worker_metrics: ReferenceWorkerMetrics
) -> None:
    rig = make_rig(worker=worker)
    # Linux reports the boot time in whole seconds, so a process spawned just after the
    # pipeline began watching may report a start time up to a second before it.
    started = Gauge("process_start_time_seconds", "Start time", registry=worker_metrics.registry)
    started.set(time.time() - 0.9)
    worker_metrics.serve(50, 0.02)

    rig.tick()

    items = {item["MetricName"]: item for item in rig.counter.requests[0]["MetricData"]}
    assert items["RequestCount"]["Value"] == 50


def test_first_tick_baselines_older_process(
    make_rig: RigFactory, worker: StaticWorker, worker_metrics: ReferenceWorkerMetrics
) -> None:
    rig = make_rig(worker=worker)
    # A worker that was running well before the pipeline started: its counts are history.
    started = Gauge("process_start_time_seconds", "Start time", registry=worker_metrics.registry)
    started.set(time.time() - 60)
    worker_metrics.serve(50, 0.02)

    rig.tick()

    names = {item["MetricName"] for item in rig.counter.requests[0]["MetricData"]}
    assert "RequestCount" not in names


def test_cloudwatch_unreachable_then_backfilled_exactly_once(
    make_rig: RigFactory,
    worker: StaticWorker,
    worker_metrics: ReferenceWorkerMetrics,
    aws_clients: AwsClients,
    store: Store,
) -> None:
    rig = make_rig(worker=worker)
    moto_client = rig.pipeline.publisher.client
    rig.tick()
    counted_from = total_requests(worker_metrics)

    # 60 seconds without CloudWatch: six windows go to the spool.
    rig.pipeline.publisher.client = cloudwatch_client(aws_clients, closed_port_url())
    for _ in range(6):
        worker_metrics.serve(7, 0.02)
        rig.tick()
    spooled = rig.pipeline.spool.stats()
    assert spooled.windows == 6
    assert spooled.oldest == rig.clock.now.replace(microsecond=0) - timedelta(seconds=70)

    # Back: the next tick publishes directly, backfill sends the six spooled windows.
    rig.pipeline.publisher.client = moto_client
    for _ in range(3):
        worker_metrics.serve(7, 0.02)
        rig.tick()
    rig.pipeline.backfill()
    rig.pipeline.backfill()

    assert rig.pipeline.spool.stats().windows == 0
    beats = rig.statistics("WatchdogHeartbeat", ["SampleCount"])
    assert len(beats) == 10
    assert [point["SampleCount"] for point in beats] == [1.0] * 10
    starts = [point["Timestamp"] for point in beats]
    assert all(later - earlier == timedelta(seconds=10) for earlier, later in pairwise(starts))
    requests = rig.statistics("RequestCount", ["Sum", "SampleCount"])
    assert [point["SampleCount"] for point in requests] == [1.0] * 9
    assert sum(point["Sum"] for point in requests) == total_requests(worker_metrics) - counted_from

    with store.session() as session:
        minutes = session.scalars(select(MetricRollup)).all()
    assert sum(row.windows for row in minutes) == 10


def test_backfill_backs_off_until_tick_succeeds(
    make_rig: RigFactory,
    worker: StaticWorker,
    worker_metrics: ReferenceWorkerMetrics,
    aws_clients: AwsClients,
) -> None:
    rig = make_rig(worker=worker)
    moto_client = rig.pipeline.publisher.client
    rig.pipeline.publisher.client = cloudwatch_client(aws_clients, closed_port_url())
    rig.tick()
    rig.tick()

    assert rig.pipeline.backfill() == 0
    rig.pipeline.publisher.client = moto_client
    assert rig.pipeline.backfill() == 0

    rig.tick()
    assert rig.pipeline.backfill() == 2


def test_worker_restart_publishes_no_negative_count(
    make_rig: RigFactory, worker: StaticWorker, exposition_server: ExpositionServer
) -> None:
    first = ReferenceWorkerMetrics()
    exposition_server.body = first.text
    rig = make_rig(worker=worker)
    rig.tick()
    first.serve(500, 0.02)
    rig.tick()
    first.serve(300, 0.02)

    # The worker restarts: a new process whose counters start again below the old values.
    second = ReferenceWorkerMetrics()
    second.serve(40, 0.02)
    exposition_server.body = second.text
    worker.pid = worker.pid + 1 if worker.pid else 1
    rig.tick()
    second.serve(25, 0.02)
    rig.tick()

    requests = rig.statistics("RequestCount", ["Sum", "Minimum"])
    assert min(point["Minimum"] for point in requests) >= 0
    # 300 requests of the old process after its last scrape are lost with it.
    assert [point["Sum"] for point in requests] == [500.0, 40.0, 25.0]
    latency = rig.statistics("InferenceTime", ["SampleCount", "Minimum"])
    assert [point["SampleCount"] for point in latency] == [500.0, 40.0, 25.0]


def test_counter_drop_without_pid_change_is_a_reset(
    make_rig: RigFactory, exposition_server: ExpositionServer
) -> None:
    # Attach mode: no pid, and the restart shows only in the counters.
    first = ReferenceWorkerMetrics()
    first.serve(200, 0.02)
    exposition_server.body = first.text
    rig = make_rig(worker=StaticWorker(pid=None, metrics_url=exposition_server.url))
    rig.tick()
    second = ReferenceWorkerMetrics()
    second.serve(12, 0.02)
    exposition_server.body = second.text
    rig.tick()

    requests = rig.statistics("RequestCount", ["Sum"])
    assert [point["Sum"] for point in requests] == [12.0]


def test_flush_interval_sends_six_windows_in_one_request(
    make_rig: RigFactory, worker: StaticWorker, worker_metrics: ReferenceWorkerMetrics
) -> None:
    rig = make_rig(worker=worker, flush_seconds=60)
    # Start just after a minute boundary, so that the sixth tick is the flush.
    rig.clock.now = rig.clock.now.replace(second=10, microsecond=200_000)

    for _ in range(6):
        worker_metrics.serve(3, 0.02)
        rig.tick()

    assert rig.counter.calls == 1
    starts = {item["Timestamp"] for item in rig.counter.requests[0]["MetricData"]}
    assert len(starts) == 6
    assert rig.pipeline.spool.stats().windows == 0


def test_bad_scrape_skips_one_tick(
    make_rig: RigFactory,
    worker: StaticWorker,
    worker_metrics: ReferenceWorkerMetrics,
    exposition_server: ExpositionServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    rig = make_rig(worker=worker)
    rig.tick()
    worker_metrics.serve(10, 0.02)

    exposition_server.body = b"inference_requests_total{outcome=ok 3\n"
    with caplog.at_level(logging.WARNING, logger="watchdog.metrics"):
        rig.tick()
    exposition_server.body = worker_metrics.text
    worker_metrics.serve(4, 0.02)
    rig.tick()

    problems = [record.getMessage() for record in caplog.records if record.name.startswith("watchdog")]
    assert len(problems) == 1
    assert "scrape of " + exposition_server.url in problems[0]
    assert "invalid Prometheus exposition" in problems[0]
    # The skipped window still carries the heartbeat; its requests land in the next window.
    assert len(rig.statistics("WatchdogHeartbeat", ["SampleCount"])) == 3
    assert [point["Sum"] for point in rig.statistics("RequestCount", ["Sum"])] == [14.0]


def test_oversized_scrape_is_skipped(
    make_rig: RigFactory,
    worker: StaticWorker,
    exposition_server: ExpositionServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    rig = make_rig(worker=worker)
    exposition_server.body = b"# " + b"x" * (2 * 1024**2) + b"\n"

    with caplog.at_level(logging.WARNING, logger="watchdog.metrics"):
        rig.tick()

    problems = [record.getMessage() for record in caplog.records if record.name.startswith("watchdog")]
    assert len(problems) == 1
    assert "over the 1048576-byte limit" in problems[0]


def test_worker_without_handle_publishes_heartbeat_and_down(make_rig: RigFactory) -> None:
    rig = make_rig(worker=StaticWorker(pid=None, is_up=False, metrics_url=None))

    rig.tick()

    items = {item["MetricName"]: item for item in rig.counter.requests[0]["MetricData"]}
    assert set(items) == {"WorkerUp", "WatchdogHeartbeat"}
    assert items["WorkerUp"]["Value"] == 0.0
    assert items["WatchdogHeartbeat"]["Value"] == 1.0


def test_spool_full_drops_oldest_and_counts(
    make_rig: RigFactory,
    worker: StaticWorker,
    worker_metrics: ReferenceWorkerMetrics,
    aws_clients: AwsClients,
) -> None:
    # Room for about three windows of this size.
    rig = make_rig(worker=worker, spool_max_bytes=3 * 1700)
    rig.pipeline.publisher.client = cloudwatch_client(aws_clients, closed_port_url())

    for _ in range(6):
        worker_metrics.serve(2, 0.02)
        rig.tick()

    stats = rig.pipeline.spool.stats()
    assert stats.size_bytes <= 3 * 1700
    assert stats.windows >= 2
    status = metrics_status(rig.store, Settings())
    assert status["spooled"] == 6
    assert status["dropped"]["spool_full_windows"] == 6 - stats.windows


def test_spooled_window_past_max_age_expires_and_counts(
    make_rig: RigFactory, worker: StaticWorker, aws_clients: AwsClients
) -> None:
    rig = make_rig(worker=worker)
    rig.pipeline.publisher.client = cloudwatch_client(aws_clients, closed_port_url())
    rig.tick()

    rig.clock.advance(15 * 24 * 3600)
    rig.pipeline.backfill()

    status = metrics_status(rig.store, Settings())
    assert rig.pipeline.spool.stats().windows == 0
    assert status["dropped"]["expired_windows"] == 1


def test_worker_not_up_is_not_scraped(
    make_rig: RigFactory, worker: StaticWorker, exposition_server: ExpositionServer
) -> None:
    worker.is_up = False
    rig = make_rig(worker=worker)

    rig.tick()

    items = {item["MetricName"]: item for item in rig.counter.requests[0]["MetricData"]}
    assert exposition_server.requests == 0
    assert items["WorkerUp"]["Value"] == 0.0
    assert items["MemoryRSS"]["Value"] > 0
    assert "MemoryPerRequest" not in items
    assert "QueueDepth" not in items


def test_recovered_health_check_is_not_a_restart(
    make_rig: RigFactory, worker: StaticWorker, worker_metrics: ReferenceWorkerMetrics
) -> None:
    # Attach mode moves started_at when the worker recovers, though the process is the same.
    rig = make_rig(worker=worker)
    rig.tick()
    worker_metrics.serve(100, 0.02)
    rig.tick()

    worker.started_at = rig.clock.now
    worker_metrics.serve(5, 0.02)
    rig.tick()

    requests = rig.statistics("RequestCount", ["Sum"])
    assert [point["Sum"] for point in requests] == [100.0, 5.0]


def test_restart_resumes_after_last_window(make_rig: RigFactory, worker: StaticWorker) -> None:
    first = make_rig(worker=worker)
    first.tick()
    again = make_rig(worker=worker, clock=first.clock)
    # A restart inside the same 10-second slot: the window is already closed.
    again.clock.advance(-5)

    same_slot = again.pipeline.tick()
    again.clock.advance(5)
    next_slot = again.pipeline.tick()

    assert same_slot is None
    assert next_slot is not None
    assert len(first.counter.requests) + len(again.counter.requests) == 2


def test_skipped_windows_counted_as_unobserved(make_rig: RigFactory, worker: StaticWorker) -> None:
    rig = make_rig(worker=worker)
    rig.tick()

    # The daemon was down for four windows.
    rig.clock.advance(4 * 10)
    rig.tick()

    status = metrics_status(rig.store, Settings())
    assert status["dropped"]["unobserved_windows"] == 4
    assert status["dropped_total"] == 4
