"""Fault modes in a real worker process: crash, hang, slow, and a model that cannot load."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from watchdog.worker import digits
from watchdog.worker.launcher import WorkerProcess

from .conftest import READY_TIMEOUT, StartWorker

BODY = {"inputs": [[0.0] * 64]}


def test_crash_after_exits_one_after_n_requests(start_worker: StartWorker) -> None:
    worker = start_worker("--fault", "crash-after", "--crash-after", "3", "--rate-limit", "0")
    url = f"{worker.base_url}/predict"

    responses = [httpx.post(url, json=BODY, timeout=READY_TIMEOUT) for _ in range(3)]
    assert worker.process is not None
    status = worker.process.wait(READY_TIMEOUT)

    assert [response.status_code for response in responses] == [200, 200, 200]
    assert status == 1
    assert "crash-after fault: exiting with status 1 after 3 /predict requests" in worker.log_text()


def test_hang_stops_health_checks(start_worker: StartWorker) -> None:
    worker = start_worker("--fault", "hang", "--hang-after", "1", "--rate-limit", "0")

    first = httpx.post(f"{worker.base_url}/predict", json=BODY, timeout=READY_TIMEOUT)

    assert first.status_code == 200
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{worker.base_url}/healthz", timeout=1.0)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{worker.base_url}/predict", json=BODY, timeout=1.0)
    assert worker.metrics()["inference_model_loads_total"] == 1


def test_hang_from_start_is_never_ready(start_worker: StartWorker) -> None:
    worker = start_worker("--fault", "hang", wait_ready=False)

    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{worker.base_url}/healthz", timeout=2.0)


def test_slow_adds_to_inference_duration(start_worker: StartWorker) -> None:
    worker = start_worker("--slow-ms", "300", "--rate-limit", "0")

    httpx.post(f"{worker.base_url}/predict", json=BODY, timeout=READY_TIMEOUT)
    metrics = worker.metrics()

    assert metrics["inference_duration_seconds_count"] == 1
    assert metrics["inference_duration_seconds_sum"] >= 0.3


def test_unloadable_model_exits_one(
    tmp_path: Path, model_cache: Path, digits_model: digits.BuiltModel
) -> None:
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"\x00not an onnx model")
    worker = WorkerProcess(tmp_path / "worker", model_cache, ["--model", str(broken)])

    worker.start()
    assert worker.process is not None
    status = worker.process.wait(READY_TIMEOUT)

    assert status == 1
    assert f"model load failed: loading ONNX model '{broken}' failed" in worker.log_text()
