"""Presets: which samples of a worker's ``/metrics`` give requests, errors, latency and queue.

Each preset names samples exactly as the server documents them:

- ``reference``: the bundled worker (``inference_requests_total{outcome}``,
  ``inference_duration_seconds`` histogram, queue and in-flight gauges).
- ``triton``: NVIDIA Triton's per-model counters. Latency is only
  exposed as a cumulative ``nv_inference_request_duration_us`` counter, so
  each window carries the mean latency, not a distribution.
- ``torchserve``: TorchServe in ``metrics_mode=prometheus``; latency is the
  cumulative ``ts_inference_latency_microseconds`` counter (a mean per
  window), errors are ``Requests5XX``, and no queue gauge exists.
- ``vllm``: vLLM's ``vllm:`` metrics; latency is the
  ``vllm:e2e_request_latency_seconds`` histogram and errors are the API
  server's ``http_requests_total{status="5xx"}``.

A gauge that a server does not expose is None in the reading, and the
window leaves it out instead of publishing a made-up zero. A counter with
no series yet counts as zero: prometheus_client exposes a labelled counter
only after its first increment.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from watchdog.errors import InputError
from watchdog.metrics.exposition import Exposition, LabelSet, series_text

# A series of a counter: its sample name and its labels.
SeriesKey = tuple[str, LabelSet]

# prometheus_client's process collector, exposed by the reference worker and vLLM.
PROCESS_START_SAMPLE = "process_start_time_seconds"


@dataclass(frozen=True)
class Selector:
    """The series of one sample name, optionally only those whose labels take given values."""

    name: str
    # Label -> accepted values; a series must match every listed label.
    match: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def select(self, exposition: Exposition) -> dict[SeriesKey, float]:
        """Return the matching series, keyed by sample name and labels."""
        selected: dict[SeriesKey, float] = {}
        for labels, value in exposition.series(self.name).items():
            present = dict(labels)
            if all(present.get(label) in values for label, values in self.match):
                selected[(self.name, labels)] = value
        return selected


@dataclass(frozen=True)
class HistogramLatency:
    """Latency from a Prometheus histogram ``<base>_bucket`` with an ``le`` label."""

    base: str
    # Factor from the histogram's unit to milliseconds (1000 for seconds).
    to_ms: float


@dataclass(frozen=True)
class MeanLatency:
    """Latency from a counter of summed durations divided by a counter of requests."""

    total: Selector
    count: tuple[Selector, ...]
    # Factor from the counter's unit to milliseconds (0.001 for microseconds).
    to_ms: float


@dataclass(frozen=True)
class HistogramSeries:
    """One series of a histogram: bucket upper bounds with cumulative counts, sum and count."""

    bounds: tuple[float, ...]
    cumulative: tuple[float, ...]
    sum: float
    count: float


@dataclass(frozen=True)
class WorkerReading:
    """What one scrape says, reduced to the series each metric is computed from."""

    # Role ("requests", "errors", "latency_total", "latency_count") -> counter series.
    counters: Mapping[str, Mapping[SeriesKey, float]]
    # Latency histogram series by their labels other than ``le``.
    histograms: Mapping[LabelSet, HistogramSeries]
    queue_depth: float | None
    in_flight: float | None
    # Unix time the worker process started, when it exposes the process collector.
    process_start: float | None
    # Whether the scrape contained any sample this preset reads besides the process collector.
    recognised: bool = True


@dataclass(frozen=True)
class Preset:
    """Where a server keeps the numbers that the windows need."""

    name: str
    requests: tuple[Selector, ...]
    errors: tuple[Selector, ...] | None
    latency: HistogramLatency | MeanLatency
    queue_depth: Selector | None
    in_flight: Selector | None

    def wanted_samples(self) -> frozenset[str]:
        """Return every sample name this preset reads."""
        names = {selector.name for selector in self.requests}
        names.add(PROCESS_START_SAMPLE)
        if self.errors is not None:
            names.update(selector.name for selector in self.errors)
        if isinstance(self.latency, HistogramLatency):
            names.add(f"{self.latency.base}_bucket")
            names.add(f"{self.latency.base}_sum")
            names.add(f"{self.latency.base}_count")
        else:
            names.add(self.latency.total.name)
            names.update(selector.name for selector in self.latency.count)
        for gauge in (self.queue_depth, self.in_flight):
            if gauge is not None:
                names.add(gauge.name)
        return frozenset(names)

    def read(self, exposition: Exposition) -> WorkerReading:
        """Extract this preset's series from a parsed scrape."""
        counters: dict[str, dict[SeriesKey, float]] = {"requests": _select_all(exposition, self.requests)}
        if self.errors is not None:
            counters["errors"] = _select_all(exposition, self.errors)
        histograms: dict[LabelSet, HistogramSeries] = {}
        if isinstance(self.latency, HistogramLatency):
            histograms = read_histograms(exposition, self.latency.base)
        else:
            counters["latency_total"] = self.latency.total.select(exposition)
            counters["latency_count"] = _select_all(exposition, self.latency.count)

        own_samples = self.wanted_samples() - {PROCESS_START_SAMPLE}
        return WorkerReading(
            counters=counters,
            histograms=histograms,
            queue_depth=_gauge(exposition, self.queue_depth),
            in_flight=_gauge(exposition, self.in_flight),
            process_start=exposition.value(PROCESS_START_SAMPLE),
            recognised=any(exposition.series(name) for name in own_samples),
        )


def _select_all(exposition: Exposition, selectors: tuple[Selector, ...]) -> dict[SeriesKey, float]:
    selected: dict[SeriesKey, float] = {}
    for selector in selectors:
        selected.update(selector.select(exposition))
    return selected


def _gauge(exposition: Exposition, selector: Selector | None) -> float | None:
    if selector is None:
        return None
    series = selector.select(exposition)
    if not series:
        return None
    return sum(series.values())


def read_histograms(exposition: Exposition, base: str) -> dict[LabelSet, HistogramSeries]:
    """Group ``<base>_bucket`` samples into one ``HistogramSeries`` per label set.

    Raise ``InputError`` when a bucket's ``le`` label is not a number.
    """
    buckets: dict[LabelSet, list[tuple[float, float]]] = {}
    for labels, value in exposition.series(f"{base}_bucket").items():
        rest = tuple((name, label) for name, label in labels if name != "le")
        bound_text = dict(labels).get("le")
        if bound_text is None:
            continue
        buckets.setdefault(rest, []).append((_bucket_bound(base, labels, bound_text), value))

    sums = exposition.series(f"{base}_sum")
    counts = exposition.series(f"{base}_count")
    histograms: dict[LabelSet, HistogramSeries] = {}
    for labels, pairs in buckets.items():
        pairs.sort()
        bounds = tuple(bound for bound, _ in pairs)
        cumulative = tuple(count for _, count in pairs)
        total = counts.get(labels, cumulative[-1] if math.isinf(bounds[-1]) else math.nan)
        histograms[labels] = HistogramSeries(
            bounds=bounds, cumulative=cumulative, sum=sums.get(labels, math.nan), count=total
        )
    return histograms


def _bucket_bound(base: str, labels: LabelSet, text: str) -> float:
    try:
        bound = float(text)
    except ValueError as exc:
        raise InputError(
            f"invalid le label {text!r} on {series_text(base + '_bucket', labels)}: expected a "
            "number or +Inf"
        ) from exc
    if math.isnan(bound):
        raise InputError(
            f"invalid le label {text!r} on {series_text(base + '_bucket', labels)}: expected a "
            "number or +Inf"
        )
    return bound


REFERENCE = Preset(
    name="reference",
    requests=(Selector("inference_requests_total"),),
    errors=(Selector("inference_requests_total", (("outcome", ("error", "queue_full")),)),),
    latency=HistogramLatency("inference_duration_seconds", to_ms=1000.0),
    queue_depth=Selector("inference_queue_depth"),
    in_flight=Selector("inference_in_flight"),
)

TRITON = Preset(
    name="triton",
    requests=(Selector("nv_inference_request_success"), Selector("nv_inference_request_failure")),
    errors=(Selector("nv_inference_request_failure"),),
    latency=MeanLatency(
        total=Selector("nv_inference_request_duration_us"),
        count=(Selector("nv_inference_request_success"), Selector("nv_inference_request_failure")),
        to_ms=0.001,
    ),
    queue_depth=Selector("nv_inference_pending_request_count"),
    in_flight=None,
)

TORCHSERVE = Preset(
    name="torchserve",
    requests=(Selector("ts_inference_requests_total"),),
    errors=(Selector("Requests5XX"),),
    latency=MeanLatency(
        total=Selector("ts_inference_latency_microseconds"),
        count=(Selector("ts_inference_requests_total"),),
        to_ms=0.001,
    ),
    queue_depth=None,
    in_flight=None,
)

VLLM = Preset(
    name="vllm",
    requests=(Selector("vllm:request_success_total"),),
    errors=(Selector("http_requests_total", (("status", ("5xx",)),)),),
    latency=HistogramLatency("vllm:e2e_request_latency_seconds", to_ms=1000.0),
    queue_depth=Selector("vllm:num_requests_waiting"),
    in_flight=Selector("vllm:num_requests_running"),
)

PRESETS: dict[str, Preset] = {preset.name: preset for preset in (REFERENCE, TRITON, TORCHSERVE, VLLM)}
