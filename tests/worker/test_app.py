"""The ASGI app served in-process on a real socket, with the real digits model and a controlled clock."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp

from watchdog.config.worker import WorkerSettings
from watchdog.worker import digits
from watchdog.worker.app import create_app
from watchdog.worker.faults import FaultConfig
from watchdog.worker.launcher import parse_metrics, request_outcomes
from watchdog.worker.runtime import ModelSpec
from watchdog.worker.service import WorkerService


class Clock:
    def __init__(self) -> None:
        self.now = 10_000.0

    def __call__(self) -> float:
        return self.now


def sample_inputs(count: int = 1, offset: int = 0) -> list[list[float]]:
    samples = digits.load_samples()
    return [samples[offset + index].tolist() for index in range(count)]


def wait_until_ready(client: httpx.Client) -> None:
    deadline = time.monotonic() + 60
    while client.get("/healthz").status_code != 200:
        assert time.monotonic() < deadline, "model not loaded within 60s"
        time.sleep(0.02)


def metric_values(client: httpx.Client) -> dict[str, float]:
    return parse_metrics(client.get("/metrics").text)


@pytest.fixture
def make_client(
    digits_model: digits.BuiltModel, serve_app: Callable[[ASGIApp], httpx.Client]
) -> Callable[..., httpx.Client]:
    def make(
        clock: Clock | None = None,
        faults: FaultConfig | None = None,
        model_source: Callable[[], ModelSpec] | None = None,
        **settings: Any,
    ) -> httpx.Client:
        service = WorkerService(
            WorkerSettings(**{"rate_limit": 0, "pool_size": 1, **settings}),
            model_source or (lambda: ModelSpec(digits_model.path)),
            faults=faults,
            clock=clock or Clock(),
        )
        return serve_app(create_app(service))

    return make


def test_cache_hit_runs_no_inference(make_client: Callable[..., httpx.Client]) -> None:
    client = make_client()
    wait_until_ready(client)
    request = {"inputs": sample_inputs(2)}

    first = client.post("/predict", json=request)
    second = client.post("/predict", json=request)
    metrics = metric_values(client)

    assert first.json() == {"predictions": [0, 1], "cached": False, "stale": False}
    assert second.json() == {"predictions": [0, 1], "cached": True, "stale": False}
    assert metrics["inference_duration_seconds_count"] == 1
    assert request_outcomes(metrics)["ok"] == 1
    assert request_outcomes(metrics)["cache_hit"] == 1


def test_cache_entry_expires_after_ttl(make_client: Callable[..., httpx.Client]) -> None:
    clock = Clock()
    client = make_client(clock=clock, cache_ttl=timedelta(minutes=15))
    wait_until_ready(client)
    request = {"inputs": sample_inputs(1, offset=5)}
    client.post("/predict", json=request)

    clock.now += 15 * 60 - 1
    before_expiry = client.post("/predict", json=request).json()
    clock.now += 1
    after_expiry = client.post("/predict", json=request).json()

    assert before_expiry["cached"] is True
    assert after_expiry["cached"] is False
    assert metric_values(client)["inference_duration_seconds_count"] == 2


def test_stale_predictions_when_inference_fails(
    make_client: Callable[..., httpx.Client], digits_model: digits.BuiltModel, tmp_path: Path
) -> None:
    # Under load-per-request every batch reads the model file, so deleting it
    # makes the next inference fail for real.
    model_path = tmp_path / "digits.onnx"
    shutil.copy(digits_model.path, model_path)
    clock = Clock()
    client = make_client(
        clock=clock,
        faults=FaultConfig(load_per_request=True),
        model_source=lambda: ModelSpec(model_path),
        cache_ttl=timedelta(seconds=60),
    )
    wait_until_ready(client)
    known = {"inputs": sample_inputs(1, offset=7)}
    fresh = client.post("/predict", json=known).json()
    model_path.unlink()
    clock.now += 61

    stale = client.post("/predict", json=known)
    unknown = client.post("/predict", json={"inputs": sample_inputs(1, offset=8)})

    assert stale.status_code == 200
    assert stale.json() == {"predictions": fresh["predictions"], "cached": True, "stale": True}
    assert unknown.status_code == 503
    assert unknown.headers["Retry-After"] == "1"
    assert unknown.json()["error"].startswith("inference failed: loading ONNX model")
    assert request_outcomes(metric_values(client))["error"] == 2


def test_healthz_is_503_until_model_loaded(
    make_client: Callable[..., httpx.Client], digits_model: digits.BuiltModel
) -> None:
    release = threading.Event()

    def slow_source() -> ModelSpec:
        release.wait(60)
        return ModelSpec(digits_model.path)

    client = make_client(model_source=slow_source)

    loading = client.get("/healthz")
    rejected = client.post("/predict", json={"inputs": sample_inputs()})
    release.set()
    wait_until_ready(client)

    assert loading.status_code == 503
    assert loading.json() == {"status": "loading"}
    assert rejected.status_code == 503
    assert rejected.headers["Retry-After"] == "1"
    assert rejected.json() == {"error": "the model is not loaded yet; retry later"}
    assert client.get("/healthz").json() == {"status": "ok"}
    assert request_outcomes(metric_values(client))["not_ready"] == 1


def test_failed_load_reports_the_error(make_client: Callable[..., httpx.Client], tmp_path: Path) -> None:
    missing = tmp_path / "absent.onnx"
    client = make_client(model_source=lambda: ModelSpec(missing))
    deadline = time.monotonic() + 60

    while (health := client.get("/healthz").json())["status"] == "loading":
        assert time.monotonic() < deadline
        time.sleep(0.02)

    assert health["status"] == "failed"
    assert str(missing) in health["error"]


def test_leak_fault_keeps_memory_per_request(make_client: Callable[..., httpx.Client]) -> None:
    client = make_client(faults=FaultConfig(leak_bytes=2 * 1024 * 1024))
    wait_until_ready(client)
    before = metric_values(client)["process_resident_memory_bytes"]

    for _ in range(10):
        client.post("/predict", json={"inputs": sample_inputs()})
    after = metric_values(client)["process_resident_memory_bytes"]

    # 20 MiB were written and kept; the test process frees other memory at
    # the same time, so only half of it is required to show in the RSS.
    assert after - before >= 10 * 1024 * 1024


def test_load_per_request_counts_every_load(make_client: Callable[..., httpx.Client]) -> None:
    client = make_client(faults=FaultConfig(load_per_request=True), cache_ttl=timedelta(0))
    wait_until_ready(client)

    for _ in range(4):
        assert client.post("/predict", json={"inputs": sample_inputs()}).status_code == 200

    # One load at start to check the model, then one per request.
    assert metric_values(client)["inference_model_loads_total"] == 5
