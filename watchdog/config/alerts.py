"""Settings of the alert engine: routes, notification policy, flood guard, delivery and rules.

A route sends the alerts whose rule and severity it matches to one target:
a Slack channel (``#name`` or a channel id, through the bot token) or an
incoming webhook (``webhook:NAME``, a key of ``slack.webhooks``). Alerts that
match no route go to ``default_route``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from watchdog.config.sections import Section
from watchdog.config.types import Duration

SeverityName = Literal["info", "warning", "critical"]

# Slack channel names are lower case, at most 80 characters; ids start with C, G or D.
_TARGET = re.compile(r"^(#[a-z0-9][a-z0-9._-]{0,79}|[CGD][A-Z0-9]{6,}|webhook:[A-Za-z0-9_.-]+)$")
# Labels of an alert that group_by may name besides the alert's own labels.
GROUP_BY_BUILTINS = ("rule", "severity")


def check_target(value: str) -> str:
    """Return ``value`` if it is a channel name, a channel id or ``webhook:NAME``; raise otherwise."""
    if not _TARGET.match(value):
        raise ValueError(
            f"invalid alert target {value!r}: use a channel such as '#alerts', a channel id "
            "such as 'C0123456789', or 'webhook:NAME' for a key of slack.webhooks"
        )
    return value


class NotificationPolicy(Section):
    """When a group of alerts is announced, as in Prometheus Alertmanager."""

    group_by: tuple[str, ...] = Field(
        ("rule",),
        description="Labels whose values split alerts into groups; each group is one message. "
        "'rule' and 'severity' may be named besides the alerts' own labels.",
    )
    group_wait: Duration = Field(
        timedelta(seconds=30),
        description="How long a new group waits for more alerts before its first message.",
    )
    group_interval: Duration = Field(
        timedelta(minutes=5),
        description="Minimum time between two messages of one group about new or resolved alerts.",
    )
    repeat_interval: Duration = Field(
        timedelta(hours=4),
        description="How long before a group whose alerts still fire is announced again.",
    )
    send_resolved: bool = Field(
        True, description="Whether to announce that announced alerts have resolved."
    )

    @model_validator(mode="after")
    def _intervals_ordered(self) -> NotificationPolicy:
        if self.repeat_interval < self.group_interval:
            raise ValueError(
                f"repeat_interval {self.repeat_interval} is shorter than group_interval "
                f"{self.group_interval}: make repeat_interval at least group_interval"
            )
        return self


class AlertRoute(NotificationPolicy):
    """One route: which alerts it takes, where they go, and its notification policy."""

    name: str = Field(description="Name of the route, shown in messages and logs.")
    rules: tuple[str, ...] = Field(
        (),
        description="Shell-style patterns of rule names (such as 'spend.*'); empty takes any rule.",
    )
    severities: tuple[SeverityName, ...] = Field(
        (), description="Severities the route takes; empty takes any severity."
    )
    target: str = Field(
        description="Where messages go: '#channel' or a channel id (bot token), or 'webhook:NAME'."
    )

    @field_validator("target")
    @classmethod
    def _valid_target(cls, value: str) -> str:
        return check_target(value)


class DefaultRoute(NotificationPolicy):
    """The route of alerts that match no other route."""

    target: str | None = Field(
        None, description="Where messages go; unset means slack.default_channel."
    )

    @field_validator("target")
    @classmethod
    def _valid_target(cls, value: str | None) -> str | None:
        return None if value is None else check_target(value)


class FloodGuardSettings(Section):
    """Limits per target (channel or webhook) that keep Slack from being flooded."""

    min_interval: Duration = Field(
        timedelta(seconds=1),
        description="Minimum time between two messages to one target; Slack allows about one "
        "message per second per channel.",
    )
    budget: int = Field(
        20, ge=1, description="Messages one target may receive per budget window."
    )
    budget_window: Duration = Field(
        timedelta(minutes=10),
        description="Length of the budget window. Alerts beyond the budget are folded into one "
        "digest message with counts, sent when the window ends.",
    )


class FlappingSettings(Section):
    """When an alert counts as flapping, and when it is stable again."""

    window: Duration = Field(
        timedelta(minutes=10), description="Window in which state changes are counted."
    )
    max_changes: int = Field(
        6,
        ge=2,
        description="State changes (firing to resolved or back) within the window that make "
        "an alert flapping: one notice is sent and its notifications are held.",
    )
    stable_for: Duration = Field(
        timedelta(minutes=10),
        description="How long a flapping alert must keep one state before it is announced again.",
    )


class DeliverySettings(Section):
    """Outbox delivery to Slack and its retries."""

    interval: Duration = Field(
        timedelta(seconds=1), description="How often the delivery job looks for due messages."
    )
    backoff_initial: Duration = Field(
        timedelta(seconds=2),
        description="Delay before the first retry after a 5xx response or a timeout; doubles per "
        "attempt, with jitter.",
    )
    backoff_max: Duration = Field(
        timedelta(minutes=5), description="Maximum delay between two retries."
    )
    max_age: Duration = Field(
        timedelta(hours=24),
        description="A message still failing this long after it was queued goes to the dead "
        "letters.",
    )
    claim_timeout: Duration = Field(
        timedelta(minutes=2),
        description="How long a claimed message is reserved for the process sending it; a "
        "process killed while sending leaves a claim that expires after this.",
    )
    sent_retention: Duration = Field(
        timedelta(days=30),
        description="How long sent messages stay in the outbox, for reports and status.",
    )
    storage_notice_interval: Duration = Field(
        timedelta(hours=1),
        description="Minimum time between two notices posted straight to Slack, without the "
        "outbox, while the database cannot be written (disk full, read-only file).",
    )

    @model_validator(mode="after")
    def _backoff_ordered(self) -> DeliverySettings:
        if self.backoff_max < self.backoff_initial:
            raise ValueError(
                f"backoff_max {self.backoff_max} is shorter than backoff_initial "
                f"{self.backoff_initial}: make backoff_max at least backoff_initial"
            )
        return self


class ThresholdRule(Section):
    """A rule that fires above one level and clears at or below a lower one (hysteresis)."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_by_name=True)

    enabled: bool = Field(True, description="Whether the rule is evaluated.")
    fire: float = Field(description="The alert fires when the value is above this level.")
    clear: float = Field(
        description="A firing alert resolves only when the value falls to this level or below."
    )
    for_: Duration = Field(
        timedelta(seconds=30),
        alias="for",
        description="How long the value must stay above 'fire' before the alert fires.",
    )
    severity: SeverityName = Field("warning", description="Severity of the alert.")

    @model_validator(mode="after")
    def _clear_below_fire(self) -> ThresholdRule:
        if self.clear > self.fire:
            raise ValueError(
                f"clear level {self.clear} is above fire level {self.fire}: set clear at or "
                "below fire"
            )
        return self


class LatencyRule(ThresholdRule):
    """p99 request latency in seconds."""

    fire: float = Field(1.0, description="Fire above this p99 latency in seconds.")
    clear: float = Field(0.5, description="Resolve at or below this p99 latency in seconds.")


class QueueDepthRule(ThresholdRule):
    """Highest number of requests waiting in the worker's queue during a window."""

    fire: float = Field(50, description="Fire above this queue depth.")
    clear: float = Field(10, description="Resolve at or below this queue depth.")


class MemoryPerRequestRule(ThresholdRule):
    """Worker resident memory in bytes divided by the requests served in a window."""

    fire: float = Field(64 * 1024**2, description="Fire above this many bytes per request.")
    clear: float = Field(32 * 1024**2, description="Resolve at or below this many bytes per request.")


class ErrorRateRule(ThresholdRule):
    """Failed requests as a share of all requests (0.05 is 5 %)."""

    fire: float = Field(0.05, description="Fire above this share of failed requests.")
    clear: float = Field(0.01, description="Resolve at or below this share of failed requests.")
    severity: SeverityName = Field("critical", description="Severity of the alert.")


class TrafficRule(ThresholdRule):
    """Request rate as a multiple of the expected peak rate (1.2 is 120 % of the peak)."""

    fire: float = Field(1.2, description="Fire above this multiple of the expected peak rate.")
    clear: float = Field(1.0, description="Resolve at or below this multiple of the expected peak.")
    for_: Duration = Field(
        timedelta(seconds=20),
        alias="for",
        description="How long the rate must stay above 'fire' before the alert fires.",
    )


class MetricRulesSettings(Section):
    """Rules over the 10-second metric windows of the worker."""

    p99_latency: LatencyRule = Field(default_factory=LatencyRule, description="p99 latency rule.")
    queue_depth: QueueDepthRule = Field(
        default_factory=QueueDepthRule, description="Queue depth rule."
    )
    memory_per_request: MemoryPerRequestRule = Field(
        default_factory=MemoryPerRequestRule, description="Memory per request rule."
    )
    error_rate: ErrorRateRule = Field(default_factory=ErrorRateRule, description="Error rate rule.")
    traffic: TrafficRule = Field(
        default_factory=TrafficRule,
        description="Traffic above the expected peak, such as a client retrying in a loop.",
    )
    expected_peak_rps: float | None = Field(
        None,
        gt=0,
        description="Expected peak request rate per second; unset disables the traffic rule "
        "unless the metric window carries its own.",
    )
    min_requests: int = Field(
        20,
        ge=1,
        description="Windows with fewer requests are not judged by the error-rate and "
        "memory-per-request rules, which are noise at low traffic.",
    )


class HealthRulesSettings(Section):
    """Rules over the daemon's own health."""

    spool_growing_samples: int = Field(
        6,
        ge=2,
        description="The metrics spool counts as growing after it grew at this many "
        "consecutive samples.",
    )
    cloudwatch_failures: int = Field(
        3,
        ge=1,
        description="Consecutive failed CloudWatch publishes that raise an alert.",
    )


class AlertSettings(Section):
    """The alert engine."""

    process_interval: Duration = Field(
        timedelta(seconds=1),
        description="How often received alert events are deduplicated, grouped and queued.",
    )
    queue_limit: int = Field(
        100_000,
        ge=100,
        description="Received events waiting for processing beyond which new ones are dropped "
        "and counted.",
    )
    state_retention: Duration = Field(
        timedelta(days=7),
        description="How long a resolved alert's state is kept; one-shot alerts are kept 400 days.",
    )
    routes: tuple[AlertRoute, ...] = Field(
        (),
        description="Routes in order, as [[alerts.routes]] tables with 'name', 'target', 'rules', "
        "'severities' and the keys of default_route; the first route that matches an alert takes it.",
    )
    default_route: DefaultRoute = Field(
        default_factory=DefaultRoute,
        description="Route of alerts that match no route.",
    )
    flood_guard: FloodGuardSettings = Field(
        default_factory=FloodGuardSettings,
        description="Per-target message rate and budget.",
    )
    flapping: FlappingSettings = Field(
        default_factory=FlappingSettings,
        description="Flapping detection.",
    )
    delivery: DeliverySettings = Field(
        default_factory=DeliverySettings,
        description="Outbox delivery and retries.",
    )
    rules: MetricRulesSettings = Field(
        default_factory=MetricRulesSettings,
        description="Levels of the metric rules.",
    )
    health: HealthRulesSettings = Field(
        default_factory=HealthRulesSettings,
        description="Levels of the daemon's own health rules.",
    )

    @field_validator("routes")
    @classmethod
    def _unique_route_names(cls, routes: tuple[AlertRoute, ...]) -> tuple[AlertRoute, ...]:
        names = [route.name for route in routes]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"route names must be unique; repeated: {', '.join(duplicates)}")
        if "default" in names:
            raise ValueError(
                "the route name 'default' is reserved for default_route: choose another name"
            )
        return routes
