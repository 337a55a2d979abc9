"""Alert rules over the worker's 10-second metric windows and over the daemon's own health.

The metrics capability builds one ``MetricWindow`` per 10-second window and
passes it to ``MetricRules.evaluate``; the returned events go to the alert
sink. Each threshold rule fires above its ``fire`` level and clears only at
or below its lower ``clear`` level, so a value hovering at the line does not
flap. The ``for`` duration is applied by the engine (``pending_for`` on the
event), which is why every window yields an event for every rule that could
be judged: firing while the latch is set, resolved otherwise.

Rules and their values:

- ``latency_p99``: p99 request latency in seconds.
- ``queue_depth``: the highest queue depth seen in the window.
- ``memory_per_request``: the window's ``MemoryPerRequest`` metric when the
  metrics capability gives it, else worker resident memory in bytes divided
  by the requests served in the window; judged only with ``min_requests``
  requests.
- ``error_rate``: failed requests divided by all requests; judged only with
  ``min_requests`` requests.
- ``traffic_above_peak``: requests per second divided by the expected peak
  rate (the window's own, else ``expected_peak_rps``); 1.2 is 120 %.

``HealthRules`` turns plain values about the daemon itself (spool depth,
consecutive CloudWatch failures, dead letters) into events the same way.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from watchdog.alerts.events import AlertEvent
from watchdog.config.alerts import HealthRulesSettings, MetricRulesSettings, ThresholdRule

LATENCY_P99 = "latency_p99"
QUEUE_DEPTH = "queue_depth"
MEMORY_PER_REQUEST = "memory_per_request"
ERROR_RATE = "error_rate"
TRAFFIC_ABOVE_PEAK = "traffic_above_peak"
SPOOL_GROWING = "spool_growing"
CLOUDWATCH_FAILING = "cloudwatch_failing"
DEAD_LETTERS = "alert_dead_letters"


@dataclass(frozen=True)
class MetricWindow:
    """The worker's metrics over one window (normally 10 seconds), as the rules read them.

    ``None`` means the value was not measured in this window; rules that
    need it are skipped (neither firing nor resolved).
    """

    start: datetime
    end: datetime
    # Requests completed in the window, and how many of them failed.
    requests: int
    errors: int
    p99_latency_seconds: float | None = None
    # Highest number of requests waiting in the worker's queue during the window.
    queue_depth: float | None = None
    # Worker resident memory in bytes (the highest sample of the window).
    memory_bytes: int | None = None
    # The MemoryPerRequest metric in bytes; when given, the rule judges it instead of
    # memory_bytes / requests.
    memory_per_request_bytes: float | None = None
    # Expected peak request rate per second; overrides the setting when given.
    expected_peak_rps: float | None = None

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError(f"metric window {self.start!r}..{self.end!r} is naive; use UTC")
        if self.end <= self.start:
            raise ValueError(f"metric window ends at {self.end} before it starts at {self.start}")
        if self.requests < 0 or self.errors < 0 or self.errors > self.requests:
            raise ValueError(
                f"metric window has {self.requests} requests and {self.errors} errors; "
                "expected 0 <= errors <= requests"
            )

    @property
    def seconds(self) -> float:
        """Length of the window in seconds."""
        return (self.end - self.start).total_seconds()


def latch(active: bool, value: float, rule: ThresholdRule) -> bool:
    """Return whether the condition holds: set above ``fire``, kept until ``clear`` or below."""
    if value > rule.fire:
        return True
    if value <= rule.clear:
        return False
    return active


@dataclass(frozen=True)
class Reading:
    """One rule's value in one window, with its text for the alert."""

    rule: str
    value: float
    summary: str


def read_window(window: MetricWindow, settings: MetricRulesSettings) -> list[Reading]:
    """Compute the value of every rule that can be judged on ``window``."""
    readings = []
    if window.p99_latency_seconds is not None:
        value = window.p99_latency_seconds
        readings.append(Reading(LATENCY_P99, value, f"p99 latency {value * 1000:.0f} ms"))
    if window.queue_depth is not None:
        value = window.queue_depth
        readings.append(Reading(QUEUE_DEPTH, value, f"queue depth {value:g}"))
    enough = window.requests >= settings.min_requests
    per_request = window.memory_per_request_bytes
    if per_request is None and window.memory_bytes is not None and window.requests:
        per_request = window.memory_bytes / window.requests
    if enough and per_request is not None:
        readings.append(
            Reading(
                MEMORY_PER_REQUEST,
                per_request,
                f"{per_request / 1024**2:.1f} MiB of memory per request",
            )
        )
    if enough:
        value = window.errors / window.requests
        readings.append(
            Reading(ERROR_RATE, value, f"error rate {value:.1%} ({window.errors}/{window.requests})")
        )
    peak = window.expected_peak_rps or settings.expected_peak_rps
    if peak:
        rate = window.requests / window.seconds
        value = rate / peak
        readings.append(
            Reading(
                TRAFFIC_ABOVE_PEAK,
                value,
                f"traffic {rate:.1f} req/s is {value:.0%} of the expected peak {peak:g} req/s",
            )
        )
    return readings


@dataclass
class MetricRules:
    """Evaluates the threshold rules window after window, keeping each rule's latch."""

    settings: MetricRulesSettings
    labels: Mapping[str, str]
    _active: dict[str, bool] = field(default_factory=dict)

    def _rule(self, name: str) -> ThresholdRule:
        return {
            LATENCY_P99: self.settings.p99_latency,
            QUEUE_DEPTH: self.settings.queue_depth,
            MEMORY_PER_REQUEST: self.settings.memory_per_request,
            ERROR_RATE: self.settings.error_rate,
            TRAFFIC_ABOVE_PEAK: self.settings.traffic,
        }[name]

    def evaluate(self, window: MetricWindow) -> list[AlertEvent]:
        """Return one event per judged rule: firing while its latch is set, else resolved."""
        events = []
        for reading in read_window(window, self.settings):
            rule = self._rule(reading.rule)
            if not rule.enabled:
                continue
            active = latch(self._active.get(reading.rule, False), reading.value, rule)
            self._active[reading.rule] = active
            events.append(
                AlertEvent(
                    rule=reading.rule,
                    labels=dict(self.labels),
                    severity=rule.severity,
                    state="firing" if active else "resolved",
                    summary=reading.summary,
                    at=window.end,
                    details={"fire above": f"{rule.fire:g}", "clear at": f"{rule.clear:g}"},
                    pending_for=rule.for_,
                )
            )
        return events


@dataclass(frozen=True)
class HealthSample:
    """Plain values about the daemon's own health at one moment; None means not measured."""

    at: datetime
    # Rows waiting in the CloudWatch spool.
    spool_depth: int | None = None
    # CloudWatch publishes that failed in a row (0 after a success).
    cloudwatch_consecutive_failures: int | None = None
    # Outbox messages in the dead letters.
    dead_letters: int | None = None


@dataclass
class HealthRules:
    """Evaluates the daemon's health rules; keeps the recent spool depths to see growth."""

    settings: HealthRulesSettings
    labels: Mapping[str, str]
    _spool_depths: list[int] = field(default_factory=list)

    def evaluate(self, sample: HealthSample) -> list[AlertEvent]:
        """Return one event per measured rule, firing or resolved."""
        events = []
        if sample.spool_depth is not None:
            events.append(self._spool(sample.spool_depth, sample.at))
        failures = sample.cloudwatch_consecutive_failures
        if failures is not None:
            limit = self.settings.cloudwatch_failures
            events.append(
                self._event(
                    CLOUDWATCH_FAILING,
                    failures >= limit,
                    "critical",
                    f"{failures} CloudWatch publishes failed in a row (alert at {limit})",
                    sample.at,
                )
            )
        if sample.dead_letters is not None:
            events.append(
                self._event(
                    DEAD_LETTERS,
                    sample.dead_letters > 0,
                    "warning",
                    f"{sample.dead_letters} alert messages could not be delivered to Slack; "
                    "see 'inference-watchdog status'",
                    sample.at,
                )
            )
        return events

    def _spool(self, depth: int, at: datetime) -> AlertEvent:
        needed = self.settings.spool_growing_samples
        self._spool_depths = ([*self._spool_depths, depth])[-(needed + 1) :]
        depths = self._spool_depths
        growing = len(depths) == needed + 1 and all(b > a for a, b in itertools.pairwise(depths))
        return self._event(
            SPOOL_GROWING,
            growing,
            "warning",
            f"the CloudWatch spool holds {depth} rows and grew at the last {needed} samples",
            at,
        )

    def _event(
        self, rule: str, firing: bool, severity: str, summary: str, at: datetime
    ) -> AlertEvent:
        return AlertEvent(
            rule=rule,
            labels=dict(self.labels),
            severity="critical" if severity == "critical" else "warning",
            state="firing" if firing else "resolved",
            summary=summary,
            at=at,
            pending_for=timedelta(0),
        )
