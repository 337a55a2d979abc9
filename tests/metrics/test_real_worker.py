"""The pipeline against the real reference worker process (``python -m watchdog.worker serve``)."""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.metrics.conftest import PipelineRig, StaticWorker
from watchdog.worker import digits
from watchdog.worker.launcher import WorkerProcess, parse_metrics
from watchdog.worker.synthetic import ensure_synthetic_model

READY_TIMEOUT = 120.0
MODEL_BYTES = 48 * 1024 * 1024
CLIENTS = 20
# Requests answered without running the model would blur the counts: no cache, no rate limit.
PLAIN_SERVING = ["--cache-ttl", "0", "--rate-limit", "0", "--queue-size", "256"]

RigFactory = Callable[..., PipelineRig]


@pytest.fixture(scope="module")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = tmp_path_factory.mktemp("model-cache")
    digits.build(cache)
    return cache


@pytest.fixture
def start_worker(tmp_path: Path, model_cache: Path) -> Iterator[Callable[..., WorkerProcess]]:
    started: list[WorkerProcess] = []

    def start(*args: str) -> WorkerProcess:
        worker = WorkerProcess(tmp_path / f"worker-{len(started)}", model_cache, list(args))
        started.append(worker)
        worker.start()
        worker.wait_ready(READY_TIMEOUT)
        return worker

    yield start
    for worker in started:
        worker.terminate()


def handle_for(worker: WorkerProcess) -> StaticWorker:
    return StaticWorker(pid=worker.pid, metrics_url=f"{worker.base_url}/metrics")


def send(worker: WorkerProcess, count: int, sample: list[float]) -> None:
    body = json.dumps({"inputs": [sample]})
    with httpx.Client(base_url=worker.base_url, timeout=60) as client:
        for _ in range(count):
            response = client.post("/predict", content=body, headers={"Content-Type": "application/json"})
            assert response.status_code == 200, response.text


class Load:
    """``CLIENTS`` threads posting to /predict until stopped."""

    def __init__(self, worker: WorkerProcess, sample: list[float]) -> None:
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._post, args=(worker.base_url, sample), daemon=True)
            for _ in range(CLIENTS)
        ]

    def _post(self, base_url: str, sample: list[float]) -> None:
        body = json.dumps({"inputs": [sample]})
        with httpx.Client(base_url=base_url, timeout=120) as client:
            while not self._stop.is_set():
                client.post("/predict", content=body, headers={"Content-Type": "application/json"})

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(READY_TIMEOUT)


def published(rig: PipelineRig, name: str) -> float | None:
    items: list[dict[str, Any]] = rig.counter.requests[-1]["MetricData"]
    for item in items:
        if item["MetricName"] == name:
            return float(item["Value"])
    return None


def wait_for_in_flight(worker: WorkerProcess, at_least: float) -> None:
    """Wait until the worker reports ``at_least`` batches in flight."""
    deadline = threading.Event()
    timer = threading.Timer(READY_TIMEOUT, deadline.set)
    timer.start()
    try:
        while not deadline.is_set():
            if worker.metrics().get("inference_in_flight", 0.0) >= at_least:
                return
            deadline.wait(0.1)
    finally:
        timer.cancel()
    raise AssertionError(f"the worker never had {at_least} batches in flight")


def test_request_count_matches_the_worker_counter(
    make_rig: RigFactory, start_worker: Callable[..., WorkerProcess]
) -> None:
    worker = start_worker(*PLAIN_SERVING)
    rig = make_rig(worker=handle_for(worker))
    sample = [0.0] * 64
    rig.tick()
    before = parse_metrics(httpx.get(f"{worker.base_url}/metrics").text)

    for count in (12, 7, 30):
        send(worker, count, sample)
        rig.tick()

    after = parse_metrics(httpx.get(f"{worker.base_url}/metrics").text)
    grown = sum(
        after[name] - before.get(name, 0.0) for name in after if name.startswith("inference_requests_total")
    )
    requests = rig.statistics("RequestCount", ["Sum"])
    assert grown == 49
    assert sum(point["Sum"] for point in requests) == grown
    latency = rig.statistics("InferenceTime", ["SampleCount"])
    assert sum(point["SampleCount"] for point in latency) == 49
    assert {published(rig, "WorkerUp"), published(rig, "InFlight")} == {1.0, 0.0}


def memory_per_request_under_load(
    rig: PipelineRig, worker: WorkerProcess, at_least_in_flight: float
) -> list[float]:
    sample = [0.5] * 64
    rig.tick()
    values = []
    with Load(worker, sample):
        wait_for_in_flight(worker, at_least_in_flight)
        for _ in range(3):
            # Ticks come 10 s apart in the daemon; a second apart lets the load settle here too.
            time.sleep(1.0)
            rig.tick()
            value = published(rig, "MemoryPerRequest")
            assert value is not None
            values.append(value)
    return values


def test_memory_per_request_shared_model_is_small(
    make_rig: RigFactory, start_worker: Callable[..., WorkerProcess], model_cache: Path
) -> None:
    model = ensure_synthetic_model(model_cache, MODEL_BYTES)
    worker = start_worker("--model", str(model), *PLAIN_SERVING)
    rig = make_rig(worker=handle_for(worker))

    values = memory_per_request_under_load(rig, worker, at_least_in_flight=1)

    assert max(values) < 0.05 * MODEL_BYTES


def test_memory_per_request_per_request_loading_is_near_model_size(
    make_rig: RigFactory, start_worker: Callable[..., WorkerProcess], model_cache: Path
) -> None:
    model = ensure_synthetic_model(model_cache, MODEL_BYTES)
    worker = start_worker("--model", str(model), "--fault", "load-per-request", *PLAIN_SERVING)
    rig = make_rig(worker=handle_for(worker))

    values = memory_per_request_under_load(rig, worker, at_least_in_flight=CLIENTS / 2)

    assert statistics.median(values) >= 0.5 * MODEL_BYTES
