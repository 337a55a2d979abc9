"""The bounded inference pool."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from watchdog.worker.metrics import WorkerMetrics
from watchdog.worker.pool import Batch, InferencePool, QueueFullError

BATCH = np.zeros((1, 2), dtype=np.float32)


def test_batches_run_and_return_predictions() -> None:
    metrics = WorkerMetrics()
    pool = InferencePool(lambda batch: [int(batch.shape[0])], workers=2, queue_size=4, metrics=metrics)
    pool.start()

    result = pool.submit(np.zeros((3, 2), dtype=np.float32)).result(timeout=30)
    pool.stop(timeout=30)

    assert result == [3]
    assert metrics.registry.get_sample_value("inference_duration_seconds_count") == 1
    assert metrics.registry.get_sample_value("inference_queue_wait_seconds_count") == 1


def test_full_queue_raises_at_once() -> None:
    release = threading.Event()
    running = threading.Event()

    def block(batch: Batch) -> list[int]:
        running.set()
        release.wait(30)
        return [0]

    metrics = WorkerMetrics()
    pool = InferencePool(block, workers=1, queue_size=1, metrics=metrics)
    pool.start()
    first = pool.submit(BATCH)
    assert running.wait(30)
    second = pool.submit(BATCH)

    with pytest.raises(QueueFullError, match="inference queue full \\(1 batches waiting\\)"):
        pool.submit(BATCH)
    assert metrics.registry.get_sample_value("inference_queue_depth") == 1
    assert metrics.registry.get_sample_value("inference_in_flight") == 1

    release.set()
    assert first.result(timeout=30) == [0]
    assert second.result(timeout=30) == [0]
    pool.stop(timeout=30)


def test_failure_reaches_the_future() -> None:
    def fail(batch: Batch) -> list[int]:
        raise RuntimeError("boom")

    pool = InferencePool(fail, workers=1, queue_size=1, metrics=WorkerMetrics())
    pool.start()

    with pytest.raises(RuntimeError, match="boom"):
        pool.submit(BATCH).result(timeout=30)
    pool.stop(timeout=30)


def test_stop_finishes_queued_batches() -> None:
    pool = InferencePool(lambda batch: [1], workers=1, queue_size=8, metrics=WorkerMetrics())
    pool.start()
    futures = [pool.submit(BATCH) for _ in range(5)]

    pool.stop(timeout=30)

    assert [future.result(timeout=0) for future in futures] == [[1]] * 5
