"""A fixed set of inference threads fed by a bounded queue.

The queue never grows past ``queue_size``: ``submit`` raises
``QueueFullError`` at once when every thread is busy and the queue is full,
and the app turns that into 503 with ``Retry-After``. The threads release
the GIL inside ``InferenceSession.run``, so the event loop keeps responding
to health checks and metrics while they work.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from watchdog.worker.metrics import WorkerMetrics

logger = logging.getLogger(__name__)

Batch = npt.NDArray[np.floating[Any]]
RunBatch = Callable[[Batch], list[int]]


class QueueFullError(Exception):
    """Every inference thread is busy and the queue is full."""

    def __init__(self, queue_size: int) -> None:
        self.queue_size = queue_size
        super().__init__(f"inference queue full ({queue_size} batches waiting)")


@dataclass
class _Job:
    batch: Batch
    enqueued_at: float
    future: Future[list[int]] = field(default_factory=Future)


class InferencePool:
    """Runs batches on ``workers`` threads, taking them from a queue of ``queue_size``."""

    def __init__(
        self,
        run: RunBatch,
        workers: int,
        queue_size: int,
        metrics: WorkerMetrics,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        if workers < 1 or queue_size < 1:
            raise ValueError(f"workers and queue_size must be at least 1, got {workers} and {queue_size}")
        self._run = run
        self._workers = workers
        self._queue: queue.Queue[_Job | None] = queue.Queue(maxsize=queue_size)
        self._queue_size = queue_size
        self._metrics = metrics
        self._clock = clock
        self._threads: list[threading.Thread] = []
        self._in_flight = 0
        self._lock = threading.Lock()
        metrics.queue_depth.set_function(self._queue.qsize)
        metrics.in_flight.set_function(self.in_flight)

    def in_flight(self) -> int:
        """Return the number of batches being run right now."""
        with self._lock:
            return self._in_flight

    def start(self) -> None:
        """Start the inference threads."""
        for index in range(self._workers):
            # Daemon threads: a batch stuck inside ONNX Runtime must not keep the process alive.
            thread = threading.Thread(target=self._work, name=f"inference-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)
        logger.info("inference pool started: %s threads, queue of %s", self._workers, self._queue_size)

    def submit(self, batch: Batch) -> Future[list[int]]:
        """Queue ``batch`` and return the future of its predictions; raise ``QueueFullError``."""
        job = _Job(batch=batch, enqueued_at=self._clock())
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            raise QueueFullError(self._queue_size) from None
        return job.future

    def stop(self, timeout: float) -> None:
        """Let the threads finish what is queued, then end them; wait at most ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        for _ in self._threads:
            # Blocks while the queue is full; the threads are draining it.
            try:
                self._queue.put(None, timeout=max(0.0, deadline - time.monotonic()))
            except queue.Full:
                break
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        alive = [thread.name for thread in self._threads if thread.is_alive()]
        if alive:
            logger.warning("inference threads still running after %.1fs: %s", timeout, alive)
        else:
            logger.info("inference pool stopped")

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            if not job.future.set_running_or_notify_cancel():
                continue
            started = self._clock()
            self._metrics.queue_wait.observe(started - job.enqueued_at)
            with self._lock:
                self._in_flight += 1
            try:
                predictions = self._run(job.batch)
            except Exception as exc:
                # Any failure belongs to the request that waits for this batch.
                job.future.set_exception(exc)
            else:
                job.future.set_result(predictions)
            finally:
                with self._lock:
                    self._in_flight -= 1
                self._metrics.inference_duration.observe(self._clock() - started)
