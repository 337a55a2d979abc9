"""The worker's Prometheus metrics, in base units (seconds, bytes).

Each app gets its own ``CollectorRegistry`` instead of the global one, so a
test can build several apps in one process. The daemon's scraper reads
these names, so renaming one is a breaking change.
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

# Every value of the ``outcome`` label of inference_requests_total:
#   ok            inference ran and its predictions were returned
#   cache_hit     a fresh cached prediction was returned without inference
#   error         inference failed (a stale cached response may still have been returned)
#   queue_full    every inference thread was busy and the queue was full: 503
#   rate_limited  the client's token bucket was empty: 429
#   invalid       the request was malformed or too large: 400 or 413
#   not_ready     the model was not loaded yet: 503
OUTCOMES = ("ok", "cache_hit", "error", "queue_full", "rate_limited", "invalid", "not_ready")

# From 100 microseconds (the digits model) to 10 seconds (a large model loaded per request).
LATENCY_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)


class WorkerMetrics:
    """The collectors of one worker app, registered on their own registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        ProcessCollector(registry=self.registry)

        self.inference_duration = Histogram(
            "inference_duration_seconds",
            "Time an inference thread spent on one batch: the run, plus the slow fault's delay "
            "and, under the load-per-request fault, the session creation.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.queue_wait = Histogram(
            "inference_queue_wait_seconds",
            "Time a batch waited in the queue for an inference thread.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.request_duration = Histogram(
            "inference_request_duration_seconds",
            "Time from receiving a /predict request to having its response, for every outcome.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

        self.queue_depth = Gauge(
            "inference_queue_depth",
            "Batches waiting for an inference thread.",
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "inference_in_flight",
            "Batches being run by ONNX Runtime right now.",
            registry=self.registry,
        )

        self.requests = Counter(
            "inference_requests",
            "/predict requests by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        for outcome in OUTCOMES:
            # Created up front so every outcome reads 0 before it first happens.
            self.requests.labels(outcome=outcome)

        self.model_loads = Counter(
            "inference_model_loads",
            "Times an InferenceSession was created from the model file.",
            registry=self.registry,
        )
        self.model_load_seconds = Gauge(
            "inference_model_load_seconds",
            "Time the most recent InferenceSession took to create.",
            registry=self.registry,
        )
        self.model_size_bytes = Gauge(
            "inference_model_size_bytes",
            "Size of the model file.",
            registry=self.registry,
        )

    def count(self, outcome: str) -> None:
        """Count one /predict request with ``outcome`` (one of ``OUTCOMES``)."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}; expected one of {OUTCOMES}")
        self.requests.labels(outcome=outcome).inc()

    def record_model_load(self, seconds: float, size_bytes: int) -> None:
        """Record one InferenceSession creation."""
        self.model_loads.inc()
        self.model_load_seconds.set(seconds)
        self.model_size_bytes.set(size_bytes)

    def render(self) -> bytes:
        """Return every metric in the Prometheus text format."""
        return generate_latest(self.registry)
