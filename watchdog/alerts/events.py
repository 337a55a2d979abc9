"""The alert engine's input: an ``AlertEvent`` and the ``AlertSink`` that receives it.

Producers (supervision, metrics rules, spend, the daemon's own health) only
describe what they observed. Deciding whether that becomes a Slack message
(pending time, deduplication, grouping, silences, rate limits) is the
engine's job, so producers may emit the same firing event on every tick.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, Protocol

logger = logging.getLogger(__name__)

Severity = Literal["info", "warning", "critical"]
AlertState = Literal["firing", "resolved"]


@dataclass(frozen=True)
class AlertEvent:
    """One observation of an alert condition.

    ``rule`` and ``labels`` identify the alert; their fingerprint is the
    deduplication key. ``one_shot`` alerts (billing thresholds, whose labels
    carry the month) are announced at most once per fingerprint, ever.
    ``pending_for`` is how long the condition must keep being reported as
    firing before the alert fires (Prometheus' ``for``); the producer must
    then emit the firing event on every evaluation, since the engine only
    promotes a pending alert when a new firing event arrives.
    """

    rule: str
    labels: Mapping[str, str]
    severity: Severity
    state: AlertState
    summary: str
    at: datetime
    details: Mapping[str, str] = field(default_factory=dict)
    one_shot: bool = False
    pending_for: timedelta = timedelta(0)

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError(f"alert {self.rule!r} has a naive timestamp {self.at!r}; use UTC")

    @property
    def fingerprint(self) -> str:
        """A stable hex digest of the rule and the sorted labels."""
        identity = json.dumps([self.rule, sorted(self.labels.items())], separators=(",", ":"))
        return hashlib.sha256(identity.encode()).hexdigest()[:32]


class AlertSink(Protocol):
    """The receiver of alert events from every producer."""

    def emit(self, event: AlertEvent) -> None:
        """Accept one event; must be cheap and must not block on the network."""
        ...


class LogAlertSink:
    """A sink that only writes events to the log, used when no alert engine is running."""

    def emit(self, event: AlertEvent) -> None:
        """Log the event at WARNING (critical at ERROR)."""
        level = logging.ERROR if event.severity == "critical" else logging.WARNING
        logger.log(level, "alert %s %s (%s): %s", event.rule, event.state, event.severity, event.summary)
