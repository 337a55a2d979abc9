"""The alerts supervision raises, built as ``AlertEvent`` values.

Each rule has one fingerprint per service and host, so the alert engine
groups every firing of an episode into one alert until it is resolved.

- ``worker_down`` (warning) fires when the worker exited, hung or missed its
  start-up timeout, or in attach mode failed K health checks; it resolves
  when the worker is ready again.
- ``worker_crash_loop`` (critical) fires when N failures fall within the
  window and restarts stop for the cool-off; it resolves once the worker
  has stayed ready for ``stable_after``.
- ``worker_memory`` (warning) fires when memory stayed above the soft limit
  for K readings or reached the hard limit, and the worker is restarted; it
  resolves when the restarted worker is ready.
- ``worker_fatal`` (critical) fires when the worker command cannot be
  executed; it resolves when a manual restart got the worker ready.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from watchdog.alerts.events import AlertEvent, AlertState, Severity

RULE_DOWN = "worker_down"
RULE_CRASH_LOOP = "worker_crash_loop"
RULE_MEMORY = "worker_memory"
RULE_FATAL = "worker_fatal"
ALL_RULES = frozenset({RULE_DOWN, RULE_CRASH_LOOP, RULE_MEMORY, RULE_FATAL})

SEVERITIES: dict[str, Severity] = {
    RULE_DOWN: "warning",
    RULE_CRASH_LOOP: "critical",
    RULE_MEMORY: "warning",
    RULE_FATAL: "critical",
}

EmitAlert = Callable[[AlertEvent], None]


def worker_alert(
    rule: str,
    *,
    state: AlertState,
    summary: str,
    at: datetime,
    labels: Mapping[str, str],
    details: Mapping[str, str] | None = None,
) -> AlertEvent:
    """Build the event for one of the worker rules above."""
    return AlertEvent(
        rule=rule,
        labels=dict(labels),
        severity=SEVERITIES[rule],
        state=state,
        summary=summary,
        at=at,
        details=dict(details or {}),
    )


class AlertEpisodes:
    """Tracks which worker alerts are firing, so each episode fires once and resolves once.

    ``carried_over`` names rules that an earlier daemon run may have left
    firing in the alert engine's store. They count as firing until resolved,
    so the first recovery resolves them; the engine ignores a resolved event
    for an alert that is not firing.
    """

    def __init__(
        self, emit: EmitAlert, labels: Mapping[str, str], carried_over: frozenset[str] = frozenset()
    ) -> None:
        self._emit = emit
        self._labels = dict(labels)
        self._firing: set[str] = set(carried_over)

    def is_firing(self, rule: str) -> bool:
        """Return whether ``rule`` fired and has not been resolved since."""
        return rule in self._firing

    def fire(self, rule: str, summary: str, at: datetime, details: Mapping[str, str] | None = None) -> bool:
        """Emit a firing event unless ``rule`` is already firing; return whether one was emitted."""
        if rule in self._firing:
            return False
        self._firing.add(rule)
        self._emit(
            worker_alert(rule, state="firing", summary=summary, at=at, labels=self._labels, details=details)
        )
        return True

    def resolve(self, rule: str, summary: str, at: datetime) -> bool:
        """Emit a resolved event if ``rule`` is firing; return whether one was emitted."""
        if rule not in self._firing:
            return False
        self._firing.discard(rule)
        self._emit(worker_alert(rule, state="resolved", summary=summary, at=at, labels=self._labels))
        return True
