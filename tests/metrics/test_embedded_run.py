"""A 60-second embedded run with traffic: the points land in the embedded CloudWatch.

``inference-watchdog run`` on its embedded default starts moto's server and
supervises the reference worker; ``inference-watchdog loadgen`` sends it
traffic for 60 seconds. The test then reads the metrics back from the
embedded CloudWatch with ``GetMetricStatistics`` and compares them with the
worker's own counters.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from sqlalchemy.exc import SQLAlchemyError

from watchdog.config import Settings
from watchdog.embedded.aws import EMBEDDED_ACCESS_KEY_ID, EMBEDDED_SECRET_ACCESS_KEY
from watchdog.status import collect_status
from watchdog.storage import open_store
from watchdog.worker.launcher import parse_metrics

COMMAND = [sys.executable, "-m", "watchdog"]
TRAFFIC_SECONDS = 60
DEADLINE_SECONDS = 180.0


def clean_env() -> dict[str, str]:
    """The test's environment without systemd markers or watchdog settings, and no demo.

    The test sends its own traffic and compares counts with the worker's, so the
    demo's traffic and its worker crash are off.
    """
    environ = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("INFERENCE_WATCHDOG_")
        and name not in {"INVOCATION_ID", "NOTIFY_SOCKET", "JOURNAL_STREAM", "CREDENTIALS_DIRECTORY"}
    }
    environ["INFERENCE_WATCHDOG_DEMO__TRAFFIC"] = "false"
    environ["INFERENCE_WATCHDOG_DEMO__WORKER_FAULT"] = "false"
    return environ


def read_status(state_dir: Path) -> dict[str, Any]:
    settings = Settings(state_dir=state_dir)
    store = open_store(settings.resolved_database_url(), migrate=False)
    try:
        return collect_status(store, settings)
    finally:
        store.close()


def wait_until(state_dir: Path, ready: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if (state_dir / "watchdog.db").exists():
            try:
                status = read_status(state_dir)
            except SQLAlchemyError:
                # The daemon may still be creating or migrating the database.
                status = {}
            if status and ready(status):
                return status
        time.sleep(0.5)
    log = state_dir.parent / "daemon.log"
    tail = log.read_text(errors="replace").splitlines()[-40:] if log.exists() else []
    ending = "\n".join(tail)
    raise AssertionError(f"status of {state_dir} never became ready; the daemon's log ends:\n{ending}")


@pytest.fixture
def embedded_daemon(tmp_path: Path) -> Iterator[Path]:
    state_dir = tmp_path / "state"
    log = (tmp_path / "daemon.log").open("wb")
    process = subprocess.Popen(
        [*COMMAND, "run", "--for", "5m", "--state-dir", str(state_dir)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=clean_env(),
    )
    log.close()
    yield state_dir
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def test_sixty_second_run_lands_in_cloudwatch(embedded_daemon: Path) -> None:
    status = wait_until(
        embedded_daemon,
        lambda s: (s.get("worker") or {}).get("state") == "running" and s["metrics"]["published"] > 0,
    )
    worker_base = status["worker"]["metrics_url"].rsplit("/", 1)[0]
    aws_endpoint = status["embedded"]["aws_endpoint"]

    traffic = subprocess.run(
        [
            *COMMAND,
            "loadgen",
            "--url",
            worker_base,
            "--rate",
            "8",
            "--concurrency",
            "2",
            "--duration",
            f"{TRAFFIC_SECONDS}s",
        ],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=DEADLINE_SECONDS,
        check=False,
    )
    assert traffic.returncode == 0, traffic.stderr
    # Two more ticks close the window in which the traffic ended.
    ended = datetime.now(UTC)
    final = wait_until(
        embedded_daemon,
        # A window whose PutMetricData failed under load waits in the spool until backfilled.
        lambda s: datetime.fromisoformat(s["metrics"]["last_window_start"]) >= ended + timedelta(seconds=5)
        and s["metrics"]["spool"]["windows"] == 0
        # A tick writes its metric counters before its job run is recorded; a status read
        # between the two sees one more request than runs, so wait for a settled tick.
        and s["metrics"]["put_metric_data_requests"] == s["jobs"]["metrics-tick"]["runs"]
        and s["metrics"]["published"] == s["jobs"]["metrics-tick"]["runs"],
    )
    worker_counters = parse_metrics(httpx.get(f"{worker_base}/metrics").text)
    served = sum(
        value for name, value in worker_counters.items() if name.startswith("inference_requests_total")
    )

    cloudwatch = boto3.session.Session().client(
        "cloudwatch",
        endpoint_url=aws_endpoint,
        region_name="us-east-1",
        aws_access_key_id=EMBEDDED_ACCESS_KEY_ID,
        aws_secret_access_key=EMBEDDED_SECRET_ACCESS_KEY,
    )

    def points(metric: str, statistic: str) -> list[dict[str, Any]]:
        now = datetime.now(UTC)
        response = cloudwatch.get_metric_statistics(
            Namespace="InferenceWatchdog",
            MetricName=metric,
            Dimensions=[
                {"Name": "Service", "Value": "inference"},
                {"Name": "Host", "Value": socket.gethostname()},
            ],
            StartTime=now - timedelta(minutes=10),
            EndTime=now + timedelta(minutes=1),
            Period=10,
            Statistics=[statistic],
        )
        return sorted(response["Datapoints"], key=lambda point: point["Timestamp"])

    # A window no tick closed (the daemon stalled) has no gauges; the daemon counts it.
    unobserved = final["metrics"]["dropped"]["unobserved_windows"]
    for metric in ("InferenceTime", "QueueDepth", "MemoryPerRequest"):
        found = points(metric, "SampleCount")
        starts = [point["Timestamp"] for point in found]
        gaps = [(later - earlier) // timedelta(seconds=10) - 1 for earlier, later in pairwise(starts)]
        assert len(found) >= 5, metric
        assert all(start.second % 10 == 0 and start.microsecond == 0 for start in starts), metric
        assert all(gap >= 0 for gap in gaps), (metric, starts)
        assert sum(gaps) <= unobserved, (metric, starts, final["metrics"]["dropped"])
    requests = points("RequestCount", "Sum")
    assert served > 0
    # A restart would start the worker's counter from zero and void the comparison.
    assert final["worker"]["restarts"] == status["worker"]["restarts"], final["worker"]
    published = [(point["Timestamp"].isoformat(), point["Sum"]) for point in requests]
    assert sum(point["Sum"] for point in requests) == served, (published, worker_counters, final["metrics"])
    ticks = final["jobs"]["metrics-tick"]["runs"]
    assert final["metrics"]["put_metric_data_requests"] == ticks
    assert final["metrics"]["published"] == ticks
