"""CloudWatch unreachable for many windows while traffic flows: each window lands exactly once.

The metrics pipeline runs on real adapters: a /metrics server whose
counters grow by a different amount in every window, moto's CloudWatch
behind a TCP gate on 127.0.0.1, and a migrated SQLite file for the spool.
The gate is stopped (connections refused) or made to hang (requests time
out) for the outage, and started again afterwards. A controlled clock moves
one window per tick, so many windows of outage take a few seconds. The
backfill job runs half a window after each tick, as the daemon schedules it.

Every window is then read back from moto, 10-second bucket by bucket: each
must hold exactly one heartbeat and exactly the requests served in it.
"""

from __future__ import annotations

import os
import select
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.metrics.conftest import (
    HOST,
    SERVICE,
    CallCounter,
    ExpositionServer,
    ManualClock,
    ReferenceWorkerMetrics,
    StaticWorker,
    recent_tick_clock,
)
from tests.reliability.conftest import FaultLedger
from watchdog.aws import AwsClients
from watchdog.config import Settings
from watchdog.embedded.aws import EmbeddedAws
from watchdog.metrics.datums import dimension_sets
from watchdog.metrics.limits import (
    MAX_AGE,
    MAX_ITEMS_PER_REQUEST,
    MAX_REQUEST_BYTES,
    MAX_VALUES_PER_DISTRIBUTION,
)
from watchdog.metrics.memory import MemoryReader
from watchdog.metrics.pipeline import MetricsPipeline, PipelineSettings
from watchdog.metrics.presets import REFERENCE
from watchdog.metrics.publisher import CloudWatchPublisher
from watchdog.metrics.records import MetricsRecorder
from watchdog.metrics.scrape import MetricsScraper
from watchdog.metrics.spool import MetricSpool
from watchdog.metrics.status import metrics_status
from watchdog.storage import Store

INTERVAL = 10
# Connect and read timeout of the CloudWatch client, the default metrics.publish_timeout. A
# shorter one can give up on a slow but working moto, whose data then lands twice on retry.
CLIENT_TIMEOUT = 3.0


class TcpGate:
    """A TCP proxy on 127.0.0.1 in front of one server, to cut the path to it on demand.

    ``stop`` closes the listening socket and every open connection, so new
    connections are refused; ``start`` listens on the same port again.
    ``hang`` keeps accepting but never responds, so clients time out.
    """

    def __init__(self, target_port: int) -> None:
        self._target = ("127.0.0.1", target_port)
        self._lock = threading.Lock()
        self._connections: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self.hanging = False
        self.port = 0
        self.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._thread = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        listener = self._listener
        if listener is None:
            return
        self._listener = None
        # shutdown() wakes the blocked accept() and makes the kernel refuse new connections.
        listener.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
        listener.close()
        self._close_connections()

    def hang(self, hanging: bool) -> None:
        self.hanging = hanging
        self._close_connections()

    def _close_connections(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            with self._lock:
                self._connections.append(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream: socket.socket | None = None
        try:
            if not self.hanging:
                upstream = socket.create_connection(self._target)
                with self._lock:
                    self._connections.append(upstream)
            self._pump(client, upstream)
        except OSError:
            pass
        finally:
            client.close()
            if upstream is not None:
                upstream.close()

    def _pump(self, client: socket.socket, upstream: socket.socket | None) -> None:
        sockets = [client] if upstream is None else [client, upstream]
        while True:
            readable, _, _ = select.select(sockets, [], [], 1.0)
            for source in readable:
                data = source.recv(65536)
                if not data:
                    return
                if upstream is None:
                    # Hanging: read the request and never respond.
                    continue
                target = upstream if source is client else client
                target.sendall(data)


@pytest.fixture
def exposition_server() -> Iterator[ExpositionServer]:
    server = ExpositionServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def cloudwatch_gate(moto_server: EmbeddedAws) -> Iterator[TcpGate]:
    port = int(moto_server.endpoint_url.rsplit(":", 1)[1].split("/")[0])
    gate = TcpGate(port)
    yield gate
    gate.stop()


@dataclass
class OutageRig:
    """The pipeline, its clock and traffic, and the record of what each window served."""

    pipeline: MetricsPipeline
    clock: ManualClock
    traffic: ReferenceWorkerMetrics
    counter: CallCounter
    namespace: str
    reader: Any
    store: Store
    # Requests served in each closed window, by the window's start.
    served: dict[datetime, int]

    def run_window(self, requests: int) -> None:
        """Serve ``requests`` in the window, close it, and run the backfill job half a window later."""
        self.traffic.serve(requests, 0.02)
        window = self.pipeline.tick()
        assert window is not None
        self.served[window.start] = requests
        self.clock.advance(INTERVAL / 2)
        self.pipeline.backfill()
        self.clock.advance(INTERVAL / 2)

    def read_back(self, metric: str, statistic: str, start: datetime, end: datetime) -> dict[datetime, float]:
        """Return ``statistic`` of ``metric`` per 10-second bucket in ``[start, end)``."""
        response = self.reader.get_metric_statistics(
            Namespace=self.namespace,
            MetricName=metric,
            Dimensions=[{"Name": "Service", "Value": SERVICE}, {"Name": "Host", "Value": HOST}],
            StartTime=start,
            EndTime=end,
            Period=INTERVAL,
            Statistics=[statistic],
        )
        return {point["Timestamp"]: point[statistic] for point in response["Datapoints"]}


def build_rig(
    aws_clients: AwsClients,
    gate: TcpGate,
    store: Store,
    exposition_server: ExpositionServer,
    clock: ManualClock,
) -> OutageRig:
    traffic = ReferenceWorkerMetrics()
    exposition_server.body = traffic.text
    namespace = f"Outage{uuid.uuid4().hex[:12]}"
    gated = AwsClients(
        aws_clients.settings.model_copy(update={"endpoint_url": gate.endpoint}),
        access_key_id=aws_clients.access_key_id,
        secret_access_key=aws_clients.secret_access_key,
    )
    # Built as the metrics component builds it: no botocore retries, a short timeout.
    client = gated.client("cloudwatch", max_attempts=1, timeout=CLIENT_TIMEOUT)
    counter = CallCounter(client)
    pipeline = MetricsPipeline(
        preset=REFERENCE,
        scraper=MetricsScraper(timeout=2.0, max_bytes=1024**2),
        memory=MemoryReader(),
        publisher=CloudWatchPublisher(client, namespace, attempts=3, sleep=lambda _: None),
        spool=MetricSpool(store, 64 * 1024**2, MAX_AGE),
        recorder=MetricsRecorder(store),
        worker=lambda: StaticWorker(pid=os.getpid(), is_up=True, metrics_url=exposition_server.url),
        settings=PipelineSettings(
            interval_seconds=INTERVAL,
            flush_seconds=INTERVAL,
            # The service-level copy doubles the items, so the backlog needs several requests.
            dimension_sets=dimension_sets(SERVICE, HOST, service_level_copy=True),
            # One request per backfill run: the backlog drains over several runs, between ticks.
            backfill_requests_per_run=1,
        ),
        clock=clock,
    )
    reader = aws_clients.client("cloudwatch", max_attempts=1, timeout=10)
    return OutageRig(pipeline, clock, traffic, counter, namespace, reader, store, {})


RigFactory = Callable[[ManualClock], OutageRig]


@pytest.fixture
def make_outage_rig(
    aws_clients: AwsClients, cloudwatch_gate: TcpGate, store: Store, exposition_server: ExpositionServer
) -> RigFactory:
    def build(clock: ManualClock) -> OutageRig:
        return build_rig(aws_clients, cloudwatch_gate, store, exposition_server, clock)

    return build


def requests_in(window: int) -> int:
    """Return the requests served in window number ``window``: a different count in neighbours."""
    return 1 + (window * 7) % 13


def check_requests(counter: CallCounter) -> list[str]:
    """Return every PutMetricData request that broke one of CloudWatch's limits."""
    problems = []
    for number, (request, size) in enumerate(zip(counter.requests, counter.body_sizes, strict=False)):
        items = request["MetricData"]
        if len(items) > MAX_ITEMS_PER_REQUEST:
            problems.append(f"request {number}: {len(items)} items")
        if size > MAX_REQUEST_BYTES:
            problems.append(f"request {number}: {size} bytes")
        if any(len(item.get("Values", ())) > MAX_VALUES_PER_DISTRIBUTION for item in items):
            problems.append(f"request {number}: a distribution over {MAX_VALUES_PER_DISTRIBUTION} values")
    return problems


def test_long_outage_backfills_each_window_once(
    make_outage_rig: RigFactory,
    cloudwatch_gate: TcpGate,
    store: Store,
    fault_ledger: FaultLedger,
    request: pytest.FixtureRequest,
) -> None:
    rig = make_outage_rig(recent_tick_clock(minutes_ago=40))
    # The first window only sets the counters' starting point; it carries no RequestCount.
    rig.traffic.serve(5, 0.02)
    rig.pipeline.tick()
    rig.clock.advance(INTERVAL)
    window = 0

    for _ in range(3):
        rig.run_window(requests_in(window))
        window += 1

    # Ten minutes refused, with a stretch of a hanging endpoint in the middle.
    cloudwatch_gate.stop()
    for _ in range(28):
        rig.run_window(requests_in(window))
        window += 1
    cloudwatch_gate.start()
    cloudwatch_gate.hang(True)
    for _ in range(2):
        rig.run_window(requests_in(window))
        window += 1
    cloudwatch_gate.hang(False)
    cloudwatch_gate.stop()
    for _ in range(30):
        rig.run_window(requests_in(window))
        window += 1
    outage_windows = 60
    spooled = rig.pipeline.spool.stats().windows

    cloudwatch_gate.start()
    for _ in range(12):
        rig.run_window(requests_in(window))
        window += 1

    first = min(rig.served)
    end = max(rig.served) + timedelta(seconds=INTERVAL)
    beats = rig.read_back("WatchdogHeartbeat", "SampleCount", first, end)
    counts = rig.read_back("RequestCount", "Sum", first, end)
    missing = sorted(start for start in rig.served if start not in beats)
    doubled = sorted(start for start, samples in beats.items() if samples != 1.0)
    wrong = sorted(start for start, served in rig.served.items() if counts.get(start) != served)
    status = metrics_status(store, Settings())
    fault_ledger.record(
        request,
        scenario="CloudWatch unreachable for 60 windows, then back",
        fault="window published while CloudWatch refused or hung",
        injected=outage_windows,
        checked_item="windows read back from CloudWatch",
        checked=len(beats),
        lost=len(missing) + len(wrong),
        duplicated=len(doubled),
    )

    assert spooled >= outage_windows
    assert missing == []
    assert doubled == []
    assert wrong == []
    assert len(beats) == len(rig.served) == 75
    assert rig.pipeline.spool.stats().windows == 0
    assert status["dropped_total"] == 0
    # A window whose request failed before the outage also goes through the spool.
    assert status["backfilled"] >= outage_windows
    assert status["spooled"] == status["backfilled"]
    assert status["published"] + status["backfilled"] == len(rig.served) + 1
    assert check_requests(rig.counter) == []
    # 60 windows in two dimension sets are over 1,000 items, so the backlog took several requests.
    backfill_requests = [
        sent for sent in rig.counter.requests if len({item["Timestamp"] for item in sent["MetricData"]}) > 1
    ]
    assert len(backfill_requests) >= 2


def test_outage_past_two_weeks_counts_expired_windows(
    make_outage_rig: RigFactory,
    cloudwatch_gate: TcpGate,
    store: Store,
    fault_ledger: FaultLedger,
    request: pytest.FixtureRequest,
) -> None:
    # Far enough back that the clock, two weeks on, is still before the wall clock.
    clock = recent_tick_clock(minutes_ago=14 * 24 * 60 + 60)
    rig = make_outage_rig(clock)
    rig.traffic.serve(5, 0.02)
    rig.pipeline.tick()
    rig.clock.advance(INTERVAL)
    cloudwatch_gate.stop()

    # 30 windows of outage, then the host is suspended for most of two weeks with
    # CloudWatch still down, then 6 more windows of outage.
    for window in range(30):
        rig.run_window(requests_in(window))
    before_sleep = dict(rig.served)
    rig.clock.advance(MAX_AGE.total_seconds() - 120)
    for window in range(30, 36):
        rig.run_window(requests_in(window))
    cloudwatch_gate.start()
    for window in range(36, 42):
        rig.run_window(requests_in(window))

    first = min(rig.served)
    later = min(start for start in rig.served if start not in before_sleep)
    last = max(rig.served) + timedelta(seconds=INTERVAL)
    beats = {
        **rig.read_back("WatchdogHeartbeat", "SampleCount", first, max(before_sleep) + timedelta(minutes=1)),
        **rig.read_back("WatchdogHeartbeat", "SampleCount", later, last),
    }
    counts = {
        **rig.read_back("RequestCount", "Sum", first, max(before_sleep) + timedelta(minutes=1)),
        **rig.read_back("RequestCount", "Sum", later, last),
    }
    status = metrics_status(store, Settings())
    expired = status["dropped"]["expired_windows"]
    absent = sorted(start for start in rig.served if start not in beats)
    wrong = [start for start in beats if counts.get(start) != rig.served.get(start)]
    doubled = [start for start, samples in beats.items() if samples != 1.0]
    fault_ledger.record(
        request,
        scenario="CloudWatch unreachable across a two-week suspend",
        fault="window published while CloudWatch refused",
        injected=36,
        checked_item="windows read back or counted as expired",
        checked=len(beats) + expired,
        lost=len(rig.served) - len(beats) - expired + len(wrong),
        duplicated=len(doubled),
    )

    # Every window missing from CloudWatch is counted, and is one of the oldest.
    assert 0 < expired < len(before_sleep)
    assert len(absent) == expired
    assert absent == sorted(before_sleep)[:expired]
    # ... and was past CloudWatch's two weeks when the last backfill ran.
    assert max(absent) < rig.clock.now - timedelta(seconds=INTERVAL / 2) - MAX_AGE
    assert wrong == []
    assert doubled == []
    assert rig.pipeline.spool.stats().windows == 0
    assert status["backfilled"] == len(rig.served) - expired - 6
    assert check_requests(rig.counter) == []
