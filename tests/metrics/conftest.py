"""Fixtures of the metrics tests: a /metrics server, a worker handle, a clock and a pipeline."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from watchdog.aws import AwsClients
from watchdog.metrics.datums import dimension_sets
from watchdog.metrics.memory import MemoryReader
from watchdog.metrics.pipeline import MetricsPipeline, PipelineSettings
from watchdog.metrics.presets import REFERENCE, Preset
from watchdog.metrics.publisher import CloudWatchPublisher
from watchdog.metrics.records import MetricsRecorder
from watchdog.metrics.scrape import MetricsScraper
from watchdog.metrics.spool import MetricSpool
from watchdog.metrics.window import floor_time
from watchdog.storage import Store

FIXTURES = Path(__file__).parent / "fixtures"
SERVICE = "inference"
HOST = "test-host"


def fixture_text(name: str) -> str:
    """Return the text of a fixture file under tests/metrics/fixtures."""
    return (FIXTURES / name).read_text(encoding="utf-8")


class ExpositionServer:
    """An HTTP server on 127.0.0.1 that serves whatever body a test sets at /metrics."""

    def __init__(self) -> None:
        self.body: bytes | Callable[[], bytes] = b""
        self.status = 200
        self.delay = 0.0
        # Bytes per chunk and pause between chunks, to drip a body slowly.
        self.drip: tuple[int, float] | None = None
        self.declared_length: int | None = None
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests += 1
                if server.delay:
                    time.sleep(server.delay)
                body = server.body() if callable(server.body) else server.body
                self.send_response(server.status)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                if server.drip is None:
                    length = server.declared_length if server.declared_length is not None else len(body)
                    self.send_header("Content-Length", str(length))
                    self.end_headers()
                    try:
                        self.wfile.write(body)
                    except (BrokenPipeError, ConnectionResetError):
                        # The scraper hung up on a body over its size cap.
                        return
                    return
                self.send_header("Connection", "close")
                self.end_headers()
                size, pause = server.drip
                try:
                    for start in range(0, len(body), size):
                        self.wfile.write(body[start : start + size])
                        self.wfile.flush()
                        time.sleep(pause)
                except (BrokenPipeError, ConnectionResetError):
                    return

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        """URL of the /metrics endpoint."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/metrics"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def exposition_server() -> Iterator[ExpositionServer]:
    server = ExpositionServer()
    server.start()
    yield server
    server.stop()


@dataclass
class StaticWorker:
    """A worker handle whose fields a test sets, as supervision would."""

    pid: int | None = None
    is_up: bool = True
    started_at: datetime | None = None
    metrics_url: str | None = None


class ManualClock:
    """A clock that moves only when a test advances it."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def recent_tick_clock(minutes_ago: int = 30) -> ManualClock:
    """Return a clock just after a 10-second boundary ``minutes_ago`` in the past.

    Timestamps in the past are accepted by CloudWatch and keep tests apart
    from the wall clock.
    """
    start = floor_time(datetime.now(UTC) - timedelta(minutes=minutes_ago), 10)
    return ManualClock(start + timedelta(milliseconds=200))


@dataclass
class ReferenceWorkerMetrics:
    """prometheus_client metrics with the reference worker's names, in a registry of their own."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.duration = Histogram("inference_duration_seconds", "Model run time.", registry=self.registry)
        self.requests = Counter(
            "inference_requests_total", "Requests by outcome.", ["outcome"], registry=self.registry
        )
        self.queue_depth = Gauge("inference_queue_depth", "Queued requests.", registry=self.registry)
        self.in_flight = Gauge("inference_in_flight", "Running requests.", registry=self.registry)

    def serve(self, count: int, seconds: float, outcome: str = "ok") -> None:
        """Record ``count`` requests that each took ``seconds``."""
        for _ in range(count):
            self.duration.observe(seconds)
            self.requests.labels(outcome).inc()

    def text(self) -> bytes:
        return generate_latest(self.registry)


def closed_port_url() -> str:
    """Return an http URL on 127.0.0.1 where nothing listens."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def cloudwatch_client(aws_clients: AwsClients, endpoint: str | None = None) -> Any:
    """Return a CloudWatch client as the pipeline builds it: no botocore retries, short timeout."""
    if endpoint is None:
        return aws_clients.client("cloudwatch", max_attempts=1, timeout=3)
    settings = aws_clients.settings.model_copy(update={"endpoint_url": endpoint})
    clients = AwsClients(
        settings,
        access_key_id=aws_clients.access_key_id,
        secret_access_key=aws_clients.secret_access_key,
    )
    return clients.client("cloudwatch", max_attempts=1, timeout=3)


class CallCounter:
    """Counts PutMetricData requests a client sends and keeps their parameters."""

    def __init__(self, client: Any) -> None:
        self.requests: list[dict[str, Any]] = []
        self.body_sizes: list[int] = []
        client.meta.events.register("before-parameter-build.cloudwatch.PutMetricData", self._before_call)
        client.meta.events.register("before-send.cloudwatch.PutMetricData", self._before_send)

    def _before_call(self, params: dict[str, Any], **kwargs: Any) -> None:
        self.requests.append(params)

    def _before_send(self, request: Any, **kwargs: Any) -> None:
        self.body_sizes.append(len(request.body))

    @property
    def calls(self) -> int:
        return len(self.requests)


@dataclass
class PipelineRig:
    """A pipeline on real adapters, and what a test needs to drive and inspect it."""

    pipeline: MetricsPipeline
    clock: ManualClock
    worker: StaticWorker
    namespace: str
    client: Any
    counter: CallCounter
    store: Store

    def tick(self) -> None:
        """Run one tick, then move the clock to the next boundary."""
        self.pipeline.tick()
        self.clock.advance(self.pipeline.settings.interval_seconds)

    def statistics(self, metric: str, statistics: list[str], minutes: int = 60) -> list[dict[str, Any]]:
        """Read a metric back from CloudWatch with 10-second periods, oldest first."""
        now = self.clock.now
        response = self.client.get_metric_statistics(
            Namespace=self.namespace,
            MetricName=metric,
            Dimensions=[{"Name": "Service", "Value": SERVICE}, {"Name": "Host", "Value": HOST}],
            StartTime=now - timedelta(minutes=minutes),
            EndTime=now + timedelta(minutes=1),
            Period=10,
            Statistics=statistics,
        )
        return sorted(response["Datapoints"], key=lambda point: point["Timestamp"])


@pytest.fixture
def make_rig(aws_clients: AwsClients, store: Store) -> Callable[..., PipelineRig]:
    """Build a pipeline that publishes to moto under a namespace of its own."""

    def build(
        *,
        worker: StaticWorker | None = None,
        preset: Preset = REFERENCE,
        flush_seconds: int = 10,
        clock: ManualClock | None = None,
        spool_max_bytes: int = 64 * 1024**2,
        memory: MemoryReader | None = None,
    ) -> PipelineRig:
        namespace = f"Test{uuid.uuid4().hex[:12]}"
        client = cloudwatch_client(aws_clients)
        counter = CallCounter(client)
        chosen_clock = clock or recent_tick_clock()
        chosen_worker = worker or StaticWorker()
        pipeline = MetricsPipeline(
            preset=preset,
            scraper=MetricsScraper(timeout=2.0, max_bytes=1024**2),
            memory=memory or MemoryReader(),
            publisher=CloudWatchPublisher(client, namespace, attempts=3, sleep=lambda _: None),
            spool=MetricSpool(store, spool_max_bytes, timedelta(days=14)),
            recorder=MetricsRecorder(store),
            worker=lambda: chosen_worker,
            settings=PipelineSettings(
                interval_seconds=10,
                flush_seconds=flush_seconds,
                dimension_sets=dimension_sets(SERVICE, HOST, service_level_copy=False),
                backfill_requests_per_run=20,
            ),
            clock=chosen_clock,
        )
        return PipelineRig(pipeline, chosen_clock, chosen_worker, namespace, client, counter, store)

    return build
