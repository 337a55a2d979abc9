"""A real worker process: predictions, back-pressure, limits, bad input and graceful stop."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np

from watchdog.worker import digits
from watchdog.worker.launcher import WorkerProcess, request_outcomes
from watchdog.worker.loadgen import LoadPlan, run_load

from .conftest import StartWorker

DEADLINE = 60.0


def sample_inputs(count: int = 1, offset: int = 0) -> list[list[float]]:
    samples = digits.load_samples()
    return [samples[offset + index].tolist() for index in range(count)]


def wait_for(condition: Callable[[], bool], description: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {description}"
        time.sleep(0.02)


def post_in_background(url: str, body: dict[str, object]) -> tuple[threading.Thread, list[httpx.Response]]:
    responses: list[httpx.Response] = []

    def send() -> None:
        responses.append(httpx.post(url, json=body, timeout=DEADLINE))

    thread = threading.Thread(target=send)
    thread.start()
    return thread, responses


def test_predictions_equal_scikit_learn_on_held_out_samples(
    start_worker: StartWorker, digits_model: digits.BuiltModel, tmp_path: Path
) -> None:
    # An empty cache: the worker trains and exports the model itself on first use.
    worker = start_worker(cache=tmp_path / "empty-cache")
    split = digits.load_split()
    expected = digits_model.estimator.predict(split.test_inputs).tolist()

    predictions: list[int] = []
    for start in range(0, len(split.test_inputs), 120):
        rows = split.test_inputs[start : start + 120].tolist()
        response = httpx.post(f"{worker.base_url}/predict", json={"inputs": rows}, timeout=DEADLINE)
        assert response.status_code == 200
        predictions.extend(response.json()["predictions"])

    assert len(predictions) == 360
    assert predictions == expected
    assert list((tmp_path / "empty-cache").glob("digits-mlp-*.onnx")) != []


def test_model_loaded_once_under_concurrent_load(start_worker: StartWorker) -> None:
    worker = start_worker("--rate-limit", "0")
    plan = LoadPlan(url=worker.base_url, rate=0, concurrency=20, duration=300, max_requests=500)

    result = run_load(plan)
    metrics = worker.metrics()
    outcomes = request_outcomes(metrics)

    assert result.status_counts == {"200": 500}
    assert metrics["inference_model_loads_total"] == 1
    assert outcomes["ok"] + outcomes["cache_hit"] == 500


def test_queue_full_and_rate_limit_counted(start_worker: StartWorker) -> None:
    # One inference thread, one queue slot, 3 s per inference; 5 tokens and
    # then one token per 100 s, so the sixth and seventh requests are limited.
    worker = start_worker(
        "--pool-size",
        "1",
        "--queue-size",
        "1",
        "--slow-ms",
        "3000",
        "--cache-ttl",
        "0",
        "--rate-limit",
        "0.01",
        "--rate-burst",
        "5",
    )
    url = f"{worker.base_url}/predict"
    body = {"inputs": sample_inputs()}

    running, running_responses = post_in_background(url, body)
    wait_for(lambda: worker.metrics()["inference_in_flight"] == 1, "the first inference")
    queued, queued_responses = post_in_background(url, body)
    wait_for(lambda: worker.metrics()["inference_queue_depth"] == 1, "the queued batch")
    full = [httpx.post(url, json=body, timeout=DEADLINE) for _ in range(3)]
    limited = [httpx.post(url, json=body, timeout=DEADLINE) for _ in range(2)]
    running.join(DEADLINE)
    queued.join(DEADLINE)
    outcomes = request_outcomes(worker.metrics())

    assert [response.status_code for response in full] == [503, 503, 503]
    assert [response.headers["Retry-After"] for response in full] == ["1", "1", "1"]
    assert full[0].json() == {
        "error": "inference queue full (1 batches waiting); retry after the Retry-After delay"
    }
    assert [response.status_code for response in limited] == [429, 429]
    assert all(1 <= int(response.headers["Retry-After"]) <= 100 for response in limited)
    assert limited[0].json()["error"].startswith("rate limit of 0.01 requests per second exceeded")
    assert running_responses[0].status_code == 200
    assert queued_responses[0].status_code == 200
    assert outcomes["queue_full"] == 3
    assert outcomes["rate_limited"] == 2
    assert outcomes["ok"] == 2


def test_malformed_requests_get_4xx_and_worker_keeps_serving(start_worker: StartWorker) -> None:
    worker = start_worker("--max-body", "4KiB", "--rate-limit", "0")
    url = f"{worker.base_url}/predict"
    headers = {"Content-Type": "application/json"}

    invalid_json = httpx.post(url, content=b'{"inputs": [[1, 2', headers=headers)
    wrong_shape = httpx.post(url, json={"inputs": [[1.0] * 63]})
    nan = httpx.post(url, content=b'{"inputs": [[NaN' + b", 0" * 63 + b"]]}", headers=headers)
    oversized = httpx.post(url, json={"inputs": sample_inputs(20)})
    chunked = httpx.post(url, content=iter([b'{"inputs": [', b" " * 5000, b"]}"]), headers=headers)
    valid = httpx.post(url, json={"inputs": sample_inputs()})

    assert invalid_json.status_code == 400
    assert invalid_json.json() == {"error": "invalid JSON at line 1 column 18: Expecting ',' delimiter"}
    assert wrong_shape.status_code == 400
    assert wrong_shape.json() == {"error": "inputs[0] has shape (63,); each sample must have shape (64,)"}
    assert nan.status_code == 400
    assert nan.json() == {"error": "invalid JSON number NaN: inputs must be finite numbers"}
    assert oversized.status_code == 413
    assert oversized.json() == {
        "error": "request body is over the 4096-byte limit; send fewer samples per request"
    }
    assert chunked.status_code == 413
    assert valid.status_code == 200
    assert valid.json() == {"predictions": [0], "cached": False, "stale": False}
    outcomes = request_outcomes(worker.metrics())
    assert outcomes["invalid"] == 5
    assert outcomes["ok"] == 1


def test_sigterm_finishes_in_flight_requests_and_exits_zero(start_worker: StartWorker) -> None:
    worker = start_worker("--slow-ms", "1000", "--pool-size", "2", "--rate-limit", "0", "--cache-ttl", "0")
    url = f"{worker.base_url}/predict"
    senders = [post_in_background(url, {"inputs": sample_inputs(1, offset)}) for offset in range(6)]
    wait_for(
        lambda: (metrics := worker.metrics())["inference_in_flight"] + metrics["inference_queue_depth"] == 6,
        "six requests in the worker",
    )

    assert worker.process is not None
    worker.process.send_signal(signal.SIGTERM)
    wait_for(lambda: not _accepts_connections(worker), "the listening socket to close")
    status = worker.process.wait(DEADLINE)
    for thread, _ in senders:
        thread.join(DEADLINE)

    assert status == 0
    assert [responses[0].status_code for _, responses in senders] == [200] * 6
    assert "received SIGTERM, finishing in-flight requests" in worker.log_text()


def _accepts_connections(worker: WorkerProcess) -> bool:
    try:
        httpx.get(f"{worker.base_url}/metrics", timeout=5.0)
    except httpx.TransportError:
        return False
    return True


def test_port_zero_reports_bound_port(start_worker: StartWorker) -> None:
    worker = start_worker("--rate-limit", "0")

    port = int(worker.port_file.read_text(encoding="ascii"))

    assert port == worker.port
    assert port > 0
    assert f"worker listening on http://127.0.0.1:{port} (pid {worker.pid})" in worker.log_text()
    assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=DEADLINE).json() == {"status": "ok"}


def test_custom_model_with_input_description(start_worker: StartWorker, small_synthetic_model: Path) -> None:
    worker = start_worker(
        "--model",
        str(small_synthetic_model),
        "--input-name",
        "X",
        "--input-shape",
        "64",
        "--rate-limit",
        "0",
    )
    batch = np.asarray(sample_inputs(4, offset=100), dtype=np.float32)
    from watchdog.worker.runtime import LoadedModel, ModelSpec

    expected = LoadedModel(ModelSpec(small_synthetic_model), threads=1).predict(batch)
    response = httpx.post(f"{worker.base_url}/predict", json={"inputs": batch.tolist()}, timeout=DEADLINE)

    assert response.json() == {"predictions": expected, "cached": False, "stale": False}
    assert worker.metrics()["inference_model_size_bytes"] == small_synthetic_model.stat().st_size
