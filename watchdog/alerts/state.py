"""The state of one alert and how an event changes it: pending, firing, resolved, flapping.

Pure functions of values. The transitions of ``observe``::

    (none) or resolved --firing, pending_for > 0--> pending
    (none) or resolved --firing, pending_for = 0--> firing      (a new episode)
    pending --firing, held for pending_for--------> firing      (a new episode)
    pending --resolved----------------------------> resolved    (cancelled, never fired)
    firing  --resolved----------------------------> resolved

Each firing episode is numbered. Announcements are recorded per episode
(``announced_episode``), not per fingerprint. So an alert that fires,
resolves and fires again is announced again, even when resolutions are not
sent. Alertmanager misses that case, because its notification log compares
only the sets of firing fingerprints.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from watchdog.alerts.events import AlertEvent, Severity

AlertStateName = Literal["pending", "firing", "resolved"]
Outcome = Literal["pending", "fired", "duplicate", "resolved", "cancelled", "ignored"]


@dataclass(frozen=True)
class AlertRecord:
    """The engine's record of one alert (one fingerprint)."""

    fingerprint: str
    rule: str
    labels: Mapping[str, str]
    severity: Severity
    summary: str
    details: Mapping[str, str]
    one_shot: bool
    state: AlertStateName
    last_seen_at: datetime
    pending_since: datetime | None = None
    firing_since: datetime | None = None
    resolved_at: datetime | None = None
    episode: int = 0
    announced_episode: int = 0
    announced_at: datetime | None = None
    resolved_announced_episode: int = 0
    # Times of the state changes (firing <-> resolved) inside the flapping window.
    changes: tuple[datetime, ...] = ()
    flapping: bool = False
    flap_noticed: bool = False

    @property
    def needs_firing_announcement(self) -> bool:
        """Whether the current firing episode has not been queued for Slack yet."""
        if self.state != "firing":
            return False
        if self.one_shot and self.announced_episode > 0:
            return False
        return self.announced_episode < self.episode

    @property
    def needs_resolved_announcement(self) -> bool:
        """Whether this alert resolved after a firing was announced, and that is not queued yet.

        The announced firing may be an earlier episode than the last one, when
        later episodes came and went unannounced (within a group interval, or
        while the alert was flapping).
        """
        return (
            self.state == "resolved"
            and not self.one_shot
            and self.announced_episode > self.resolved_announced_episode
        )

    @property
    def announced_firing(self) -> bool:
        """Whether this alert fires and its current episode was announced."""
        return self.state == "firing" and self.announced_episode == self.episode > 0


@dataclass(frozen=True)
class Observation:
    """The result of one event: the new record (None when nothing is kept) and what happened."""

    record: AlertRecord | None
    outcome: Outcome
    started_flapping: bool = False


def _new_record(event: AlertEvent) -> AlertRecord:
    return AlertRecord(
        fingerprint=event.fingerprint,
        rule=event.rule,
        labels=dict(event.labels),
        severity=event.severity,
        summary=event.summary,
        details=dict(event.details),
        one_shot=event.one_shot,
        state="resolved",
        last_seen_at=event.at,
    )


def _record_change(
    record: AlertRecord, at: datetime, window: timedelta, max_changes: int
) -> tuple[AlertRecord, bool]:
    """Add a state change at ``at``; return the record and whether it just started flapping."""
    changes = (*(moment for moment in record.changes if moment > at - window), at)
    started = not record.flapping and len(changes) >= max_changes
    if started:
        # A new flapping period gets its own notice.
        return replace(record, changes=changes, flapping=True, flap_noticed=False), True
    return replace(record, changes=changes), False


def observe(
    record: AlertRecord | None, event: AlertEvent, flap_window: timedelta, flap_max_changes: int
) -> Observation:
    """Apply ``event`` to ``record`` (None for an alert never seen) and return the outcome."""
    if event.state == "resolved":
        if record is None or record.state == "resolved":
            return Observation(record, "ignored")
        # The summary stays the firing one: resolved messages show what had fired.
        touched = replace(record, last_seen_at=event.at)
        if record.state == "pending":
            # pending -> resolved: the condition ended before pending_for; nothing to announce.
            cancelled = replace(touched, state="resolved", pending_since=None)
            return Observation(cancelled, "cancelled")
        # firing -> resolved
        resolved = replace(touched, state="resolved", resolved_at=event.at, pending_since=None)
        resolved, started = _record_change(resolved, event.at, flap_window, flap_max_changes)
        return Observation(resolved, "resolved", started)

    base = record if record is not None else _new_record(event)
    touched = replace(
        base,
        last_seen_at=event.at,
        severity=event.severity,
        summary=event.summary,
        details=dict(event.details),
    )
    if base.state == "firing":
        return Observation(touched, "duplicate")

    pending_since = touched.pending_since if base.state == "pending" else event.at
    assert pending_since is not None
    if event.at - pending_since < event.pending_for:
        # (none)/resolved -> pending, or still pending
        return Observation(replace(touched, state="pending", pending_since=pending_since), "pending")

    # pending/resolved -> firing: a new episode
    fired = replace(
        touched,
        state="firing",
        firing_since=event.at,
        resolved_at=None,
        pending_since=None,
        episode=base.episode + 1,
    )
    fired, started = _record_change(fired, event.at, flap_window, flap_max_changes)
    return Observation(fired, "fired", started)


def settle_flapping(record: AlertRecord, now: datetime, stable_for: timedelta) -> AlertRecord | None:
    """Return the record no longer flapping once it kept one state for ``stable_for``, else None."""
    if not record.flapping:
        return None
    last_change = record.changes[-1] if record.changes else None
    if last_change is not None and now - last_change < stable_for:
        return None
    return replace(record, flapping=False, flap_noticed=False, changes=())
