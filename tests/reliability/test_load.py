"""Load at ten times the demo's peak against the supervised worker while the daemon watches.

A daemon with the supervision and metrics components runs in this process,
publishing to moto, and supervises the reference worker. The load
generator runs as its own process, so its event loop does not compete with
the daemon's threads for the interpreter lock. It sends a fixed number of
requests at 200 per second.

The worker is set up as a model at capacity: one inference thread, 20 ms a
batch (the slow fault sleeps, which keeps the shared CPU free), a short
queue and a per-client rate limit below the offered rate. It must shed the
excess with 429 and 503 and respond to every request, stay inside its memory
budget and keep its process. The daemon must close every 10-second window
of the run exactly once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.reliability.conftest import FaultLedger
from tests.reliability.reference_worker import model_cache, worker_command
from tests.supervision.supervision_helpers import RecordingSink, worker_events
from watchdog.aws import AwsClients
from watchdog.config import load_settings
from watchdog.daemon import Daemon
from watchdog.embedded.demo import DEMO_PEAK_RPS
from watchdog.metrics.component import MetricsComponent
from watchdog.metrics.status import metrics_status
from watchdog.status import jobs_section
from watchdog.storage.models import MetricRollup
from watchdog.supervision.alerts import RULE_DOWN, RULE_MEMORY
from watchdog.supervision.component import SupervisionComponent
from watchdog.supervision.states import WorkerState
from watchdog.supervision.supervisor import Supervisor
from watchdog.worker.launcher import parse_metrics, request_outcomes

# Ten times the demo's expected peak, in requests per second.
LOAD_RPS = 10 * DEMO_PEAK_RPS
# 15 seconds at LOAD_RPS; a count rather than a duration, so a slow machine sends all of them.
LOAD_REQUESTS = 3000
MEMORY_LIMIT = 512 * 1024 * 1024
SOFT_LIMIT_RATIO = 0.85
INTERVAL = 10
DEADLINE = 120.0


def wait_for(condition: Callable[[], bool], description: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    pytest.fail(f"{description} not seen within {DEADLINE}s")


@pytest.fixture
def watched_daemon(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, aws_clients: AwsClients
) -> Iterator[tuple[Daemon, RecordingSink]]:
    command = worker_command(
        model_cache(tmp_path_factory),
        "--pool-size",
        "1",
        "--queue-size",
        "4",
        "--slow-ms",
        "20",
        "--rate-limit",
        "120",
        "--rate-burst",
        "20",
        # Off, so every admitted request reaches the inference queue.
        "--cache-ttl",
        "0",
    )
    loaded = load_settings(
        overrides={
            "mode": "production",
            "state_dir": tmp_path / "state",
            "host_name": "load-test",
            "aws": {"namespace": f"Load{uuid.uuid4().hex[:12]}"},
            "supervision": {
                "command": command,
                "tick_interval": "250ms",
                "health": {"interval": "1s", "timeout": "2s", "failures": 3},
                "memory": {
                    "cgroup": "off",
                    "limit": MEMORY_LIMIT,
                    "soft_limit_ratio": SOFT_LIMIT_RATIO,
                    "interval": "500ms",
                },
            },
        },
        environ={},
    )
    daemon = Daemon(loaded, aws=aws_clients, factories=[MetricsComponent, SupervisionComponent])
    sink = RecordingSink()
    daemon.context.services.alert_sink = sink
    daemon.start()
    try:
        yield daemon, sink
    finally:
        daemon.stop()


class MemoryWatch:
    """Keeps the highest memory reading the supervisor took, from a thread."""

    def __init__(self, supervisor: Supervisor) -> None:
        self._supervisor = supervisor
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.peak = 0

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, self._supervisor.last_memory or 0)


def run_loadgen(base_url: str) -> dict[str, Any]:
    """Run ``inference-watchdog loadgen`` against ``base_url`` and return its JSON result."""
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "watchdog",
            "loadgen",
            "--url",
            base_url,
            "--rate",
            str(LOAD_RPS),
            "--concurrency",
            "32",
            "--requests",
            str(LOAD_REQUESTS),
            "--duration",
            "90s",
            "--timeout",
            "10",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
        env={name: value for name, value in os.environ.items() if not name.startswith("INFERENCE_WATCHDOG_")},
    )
    assert completed.returncode == 0, completed.stderr
    result: dict[str, Any] = json.loads(completed.stdout)
    return result


def heartbeats(
    daemon: Daemon, aws_clients: AwsClients, start: datetime, end: datetime
) -> dict[datetime, float]:
    """Return the WatchdogHeartbeat sample count per 10-second window in ``[start, end)``."""
    client = aws_clients.client("cloudwatch", max_attempts=1, timeout=10)
    settings = daemon.settings
    response = client.get_metric_statistics(
        Namespace=settings.aws.namespace,
        MetricName="WatchdogHeartbeat",
        Dimensions=[
            {"Name": "Service", "Value": settings.service_name},
            {"Name": "Host", "Value": settings.host_name},
        ],
        StartTime=start,
        EndTime=end,
        Period=INTERVAL,
        Statistics=["SampleCount"],
    )
    return {point["Timestamp"]: point["SampleCount"] for point in response["Datapoints"]}


def closed_through(daemon: Daemon) -> datetime:
    """Return the start of the last window the daemon closed, or the epoch before the first."""
    started = metrics_status(daemon.store, daemon.settings)["last_window_start"]
    return datetime.fromisoformat(started) if started else datetime.fromtimestamp(0, UTC)


def window_start(moment: datetime) -> datetime:
    return moment.replace(second=moment.second - moment.second % INTERVAL, microsecond=0)


def test_worker_sheds_load_and_daemon_keeps_ticks(
    watched_daemon: tuple[Daemon, RecordingSink],
    aws_clients: AwsClients,
    fault_ledger: FaultLedger,
    request: pytest.FixtureRequest,
) -> None:
    daemon, sink = watched_daemon
    supervisor = daemon.context.services.worker
    assert isinstance(supervisor, Supervisor)
    wait_for(lambda: supervisor.is_up, "the worker ready")
    pid = supervisor.pid
    metrics_url = supervisor.metrics_url
    assert metrics_url is not None
    base_url = metrics_url.removesuffix("/metrics")

    with MemoryWatch(supervisor) as memory:
        started = datetime.now(UTC)
        result = run_loadgen(base_url)
        ended = datetime.now(UTC)
    # Wait for the window in which the load ended to close and for any backfill.
    last_window = window_start(ended)
    metrics = daemon.components[0]
    assert isinstance(metrics, MetricsComponent)
    pipeline = metrics.pipeline
    assert pipeline is not None
    wait_for(
        lambda: closed_through(daemon) >= last_window and pipeline.spool.stats().windows == 0,
        "the last window of the load closed",
    )
    outcomes = request_outcomes(parse_metrics(httpx.get(metrics_url, timeout=10).text))
    first_window = window_start(started)
    windows = heartbeats(daemon, aws_clients, first_window, last_window + timedelta(seconds=INTERVAL))
    expected_windows = int((last_window - first_window).total_seconds()) // INTERVAL + 1
    ticks = jobs_section(daemon.store)["metrics-tick"]
    statuses: dict[str, int] = result["status_counts"]
    answered = sum(count for status, count in statuses.items() if status in {"200", "429", "503"})
    with daemon.store.session() as session:
        rollups = session.scalars(
            select(MetricRollup).where(MetricRollup.minute >= started.replace(second=0, microsecond=0))
        ).all()
    peak_rollup = max(row.max_memory_rss or 0 for row in rollups)
    fault_ledger.record(
        request,
        scenario=f"load at {LOAD_RPS:g} requests/s, ten times the demo's peak",
        fault="request over the worker's capacity",
        injected=LOAD_REQUESTS,
        checked_item="requests answered 200, 429 or 503",
        checked=answered,
        lost=LOAD_REQUESTS - answered,
    )
    fault_ledger.record(
        request,
        scenario=f"load at {LOAD_RPS:g} requests/s, ten times the demo's peak",
        fault="10-second metric window during the load",
        injected=expected_windows,
        checked_item="windows published once",
        checked=sum(1 for samples in windows.values() if samples == 1.0),
        lost=expected_windows - len(windows),
        duplicated=sum(1 for samples in windows.values() if samples > 1.0),
    )

    assert result["attempts"] == LOAD_REQUESTS
    assert answered == LOAD_REQUESTS, statuses
    assert statuses["200"] > 0
    assert statuses["429"] > 0
    assert statuses["503"] > 0
    # The worker counted each request the load generator sent, under the matching outcome.
    assert outcomes["ok"] == statuses["200"]
    assert outcomes["rate_limited"] == statuses["429"]
    assert outcomes["queue_full"] == statuses["503"]
    assert supervisor.pid == pid
    assert supervisor.restarts == 0
    assert supervisor.state is WorkerState.RUNNING
    assert [event for event in worker_events(daemon.store) if event.from_state == WorkerState.RUNNING] == []
    assert sink.firing(RULE_MEMORY) == []
    assert sink.firing(RULE_DOWN) == []
    soft_limit = MEMORY_LIMIT * SOFT_LIMIT_RATIO
    assert 0 < memory.peak < soft_limit
    assert 0 < peak_rollup < soft_limit
    assert len(windows) == expected_windows
    assert set(windows.values()) == {1.0}
    assert ticks["failures"] == 0
    assert ticks["runs"] >= expected_windows
