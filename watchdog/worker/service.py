"""The worker's request handling: model state, back-pressure, rate limit, cache and faults.

``WorkerService`` owns the shared model, the inference pool, the token
buckets and the prediction cache; ``watchdog.worker.app`` only maps HTTP
onto it. The model loads in a background thread after the server starts
listening, so /healthz returns 503 until it is ready.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from watchdog.config.worker import WorkerSettings
from watchdog.errors import WorkerError
from watchdog.worker.cache import PredictionCache, cache_key
from watchdog.worker.cpus import detect_usable_cpus
from watchdog.worker.faults import FaultConfig, MemoryLeak
from watchdog.worker.inputs import InvalidRequestError, parse_inputs
from watchdog.worker.metrics import WorkerMetrics
from watchdog.worker.pool import Batch, InferencePool, QueueFullError
from watchdog.worker.ratelimit import TokenBucketLimiter
from watchdog.worker.runtime import InputSpec, LoadedModel, ModelSpec

logger = logging.getLogger(__name__)

# Retry-After for 503 responses, because a queue drains and a model loads within seconds.
UNAVAILABLE_RETRY_AFTER = 1


@dataclass(frozen=True)
class Reply:
    """An HTTP response: status, JSON body and extra headers."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def retry_after_header(seconds: float) -> dict[str, str]:
    """Return a ``Retry-After`` header: whole seconds, rounded up, at least 1."""
    return {"Retry-After": str(max(1, math.ceil(seconds)))}


def error_reply(status: int, message: str, retry_after: float | None = None) -> Reply:
    """Build an error response ``{"error": message}``, with ``Retry-After`` when given."""
    headers = retry_after_header(retry_after) if retry_after is not None else {}
    return Reply(status, {"error": message}, headers)


def predictions_reply(predictions: list[int] | tuple[int, ...], cached: bool, stale: bool) -> Reply:
    """Build the 200 response of /predict."""
    return Reply(200, {"predictions": list(predictions), "cached": cached, "stale": stale})


class WorkerService:
    """Everything behind /predict and /healthz, for one process."""

    def __init__(
        self,
        settings: WorkerSettings,
        model_source: Callable[[], ModelSpec],
        *,
        faults: FaultConfig | None = None,
        metrics: WorkerMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
        exit_process: Callable[[int], None] = os._exit,
    ) -> None:
        self.settings = settings
        self.faults = faults or FaultConfig()
        self.metrics = metrics or WorkerMetrics()
        self._model_source = model_source
        self._on_load_failure: Callable[[WorkerError], None] | None = None
        self._exit_process = exit_process
        cpus = detect_usable_cpus()
        self.threads = settings.intra_op_threads or cpus
        workers = settings.pool_size or cpus
        if self.faults.load_per_request:
            workers = settings.load_per_request_threads
        self.pool = InferencePool(self._run_batch, workers, settings.queue_size, self.metrics)

        self.limiter = (
            TokenBucketLimiter(settings.rate_limit, settings.rate_burst, clock)
            if settings.rate_limit > 0
            else None
        )
        ttl = settings.cache_ttl.total_seconds()
        self.cache = PredictionCache(ttl, settings.cache_max_entries, clock) if ttl > 0 else None

        self._ready = threading.Event()
        self.load_error: str | None = None
        self._spec: ModelSpec | None = None
        self._input: InputSpec | None = None
        self._model: LoadedModel | None = None
        self._predict_requests = 0
        self._leak = MemoryLeak()
        self._loader: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> None:
        """Start the inference threads and load the model in the background."""
        if self.faults.active:
            logger.warning("fault modes on: %s", ", ".join(self.faults.active))
        self.pool.start()
        self._loader = threading.Thread(target=self._load, name="model-loader", daemon=True)
        self._loader.start()

    def set_load_failure_handler(self, handler: Callable[[WorkerError], None]) -> None:
        """Call ``handler`` from the loader thread when the model cannot be loaded."""
        self._on_load_failure = handler

    def stop(self, timeout: float) -> None:
        """Finish queued batches and end the inference threads within ``timeout`` seconds."""
        self.pool.stop(timeout)

    @property
    def ready(self) -> bool:
        """Whether the model is loaded and requests can be served."""
        return self._ready.is_set()

    def wait_ready(self, timeout: float) -> bool:
        """Block until the model is loaded or ``timeout`` passes; return whether it is loaded."""
        return self._ready.wait(timeout)

    def _load(self) -> None:
        try:
            spec = self._model_source()
            model = LoadedModel(spec, self.threads)
        except WorkerError as exc:
            self._fail_load(exc)
            return
        except Exception as exc:
            # Anything else (a bug, a broken install) must also end in a failed
            # start, or the worker would report "loading" forever.
            logger.exception("model load failed unexpectedly")
            error = WorkerError(f"loading the model failed: {exc!r}")
            error.__cause__ = exc
            self._fail_load(error)
            return
        self.metrics.record_model_load(model.load_seconds, model.size_bytes)
        self._spec = spec
        self._input = model.input
        if not self.faults.load_per_request:
            self._model = model
        logger.info(
            "model %s loaded in %.3fs (%s bytes, input %r of sample shape %s, %s ONNX Runtime threads)",
            spec.path,
            model.load_seconds,
            model.size_bytes,
            model.input.name,
            model.input.sample_shape,
            self.threads,
        )
        self._ready.set()

    def _fail_load(self, error: WorkerError) -> None:
        self.load_error = str(error)
        logger.error("model load failed: %s", error)
        if self._on_load_failure is not None:
            self._on_load_failure(error)

    def _run_batch(self, batch: Batch) -> list[int]:
        """Run one batch on an inference thread, applying the slow and load-per-request faults."""
        if self.faults.slow_ms is not None:
            time.sleep(self.faults.slow_ms / 1000)
        if self._model is not None:
            return self._model.predict(batch)
        if self._spec is None:
            raise WorkerError("the model is not loaded")
        # load-per-request fault: a fresh session for every batch, dropped right after.
        model = LoadedModel(self._spec, self.threads)
        self.metrics.record_model_load(model.load_seconds, model.size_bytes)
        return model.predict(batch)

    # -- requests ----------------------------------------------------------

    def note_predict_request(self) -> tuple[int, bool]:
        """Count a /predict request; return its number (from 1) and whether it must hang."""
        hang = self.faults.is_hung(self._predict_requests)
        self._predict_requests += 1
        if self.faults.leak_bytes is not None:
            self._leak.grow(self.faults.leak_bytes)
        return self._predict_requests, hang

    def is_hung(self) -> bool:
        """Whether the hang fault has started, so /healthz must not respond."""
        return self.faults.is_hung(self._predict_requests)

    def health(self) -> Reply:
        """Return 200 once the model is loaded, else 503 saying why."""
        if self.ready:
            return Reply(200, {"status": "ok"})
        if self.load_error is not None:
            return Reply(503, {"status": "failed", "error": self.load_error})
        return Reply(503, {"status": "loading"}, retry_after_header(UNAVAILABLE_RETRY_AFTER))

    def admit(self, client: str) -> Reply | None:
        """Apply the client's rate limit and the readiness check; return a refusal or None."""
        if self.limiter is not None:
            wait = self.limiter.acquire(client)
            if wait is not None:
                self.metrics.count("rate_limited")
                logger.info("rate limited /predict from %s", client)
                return error_reply(
                    429,
                    f"rate limit of {self.limiter.rate:g} requests per second exceeded for "
                    f"{client}; retry after the Retry-After delay",
                    retry_after=wait,
                )
        if not self.ready or self._input is None:
            self.metrics.count("not_ready")
            return error_reply(
                503, "the model is not loaded yet; retry later", retry_after=UNAVAILABLE_RETRY_AFTER
            )
        return None

    def reject(self, client: str, error: InvalidRequestError) -> Reply:
        """Count a malformed or oversized request and build its 400 or 413 response."""
        self.metrics.count("invalid")
        logger.info("rejected /predict from %s: %s", client, error)
        return error_reply(error.status, str(error))

    def parse(self, body: bytes) -> Batch:
        """Validate a request body against the model's input; raise ``InvalidRequestError``."""
        if self._input is None:
            raise WorkerError("the model is not loaded")
        return parse_inputs(body, self._input, self.settings.max_batch)

    async def predict(self, batch: Batch) -> Reply:
        """Predict a valid batch from the cache or by inference, applying back-pressure."""
        key = cache_key(batch) if self.cache is not None else b""
        if self.cache is not None:
            cached = self.cache.get_fresh(key)
            if cached is not None:
                self.metrics.count("cache_hit")
                return predictions_reply(cached, cached=True, stale=False)

        try:
            future = self.pool.submit(batch)
        except QueueFullError as exc:
            self.metrics.count("queue_full")
            logger.warning("rejected /predict: %s", exc)
            return error_reply(
                503,
                f"{exc}; retry after the Retry-After delay",
                retry_after=UNAVAILABLE_RETRY_AFTER,
            )

        try:
            predictions = await asyncio.wrap_future(future)
        except WorkerError as exc:
            self.metrics.count("error")
            stale = self.cache.get_any(key) if self.cache is not None else None
            if stale is not None:
                logger.warning("inference failed, returning stale cached predictions: %s", exc)
                return predictions_reply(stale, cached=True, stale=True)
            logger.warning("inference failed: %s", exc)
            return error_reply(503, f"inference failed: {exc}", retry_after=UNAVAILABLE_RETRY_AFTER)

        if self.cache is not None:
            self.cache.put(key, predictions)
        self.metrics.count("ok")
        return predictions_reply(predictions, cached=False, stale=False)

    def crash(self, number: int) -> None:
        """Exit with status 1 at once (the crash-after fault), without any cleanup."""
        logger.error("crash-after fault: exiting with status 1 after %s /predict requests", number)
        logging.shutdown()
        self._exit_process(1)
