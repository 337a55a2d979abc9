"""The alert engine: the daemon's ``AlertSink``, deduplication, grouping and queueing to the outbox.

``emit`` only appends the event to an in-memory queue, so producers never
wait for the database or the network. ``process`` (a job every second)
drains the queue, applies each event to its alert's state, decides which
groups announce what, and in one SQLite transaction stores the alert states,
the outbox messages, the flood-guard budgets and the counters. Because the
record of an announcement and its message commit together, a crash at any
instant keeps both or neither. So an alert episode is never queued twice,
and a queued announcement is never lost (delivery itself is at least once,
see ``watchdog.alerts.outbox``).

Events still in the queue when the process is killed are lost. Producers
re-emit level conditions on every evaluation (``MetricRules`` does), so
such an event comes back within one evaluation interval; ``stop`` processes
the queue before the daemon exits.

NOTE: two daemons on one database (a deploy overlap) each keep their own
in-memory state. The outbox's unique dedup key stops most duplicate
messages, but each process's alert-state writes can overwrite the other's.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from watchdog.alerts import counters
from watchdog.alerts.events import AlertEvent
from watchdog.alerts.floodguard import FoldedAlert, TargetBudget, admit, close_window, fold
from watchdog.alerts.notify import GroupPlan, GroupTimer, group_due, plan_group
from watchdog.alerts.outbox import QueuedMessage, enqueue
from watchdog.alerts.render import (
    AlertLine,
    GroupNotice,
    render_digest,
    render_flapping,
    render_group,
)
from watchdog.alerts.repository import (
    delete_records,
    load_budgets,
    load_records,
    save_budgets,
    save_records,
)
from watchdog.alerts.routing import Route, RouteTable, group_key, group_label_value
from watchdog.alerts.silences import (
    ActiveSilence,
    add_suppressed,
    alert_match_labels,
    find_silence,
    load_active_silences,
)
from watchdog.alerts.state import AlertRecord, observe, settle_flapping
from watchdog.config import Settings
from watchdog.storage import Store

logger = logging.getLogger(__name__)

# The alert engine's name in the store's health tracker.
ENGINE_SOURCE = "alert engine"
# One-shot alerts (billing thresholds of a month) are kept this long, so they are never repeated.
ONE_SHOT_RETENTION = timedelta(days=400)


@dataclass
class CycleReport:
    """Counts of one ``process`` run."""

    events: int = 0
    queued: int = 0
    folded: int = 0


@dataclass
class _Outgoing:
    """A message planned in this cycle, before the flood guard decides on it."""

    target: str
    dedup_key: str
    kind: str
    subject: str
    payload: dict[str, object]
    folded: list[FoldedAlert]
    records: list[AlertRecord]


def _digest_key(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def alert_line(record: AlertRecord) -> AlertLine:
    """Return how a message shows ``record``."""
    return AlertLine(
        rule=record.rule,
        severity=record.severity,
        summary=record.summary,
        labels=dict(record.labels),
        details=dict(record.details),
        since=record.firing_since,
        resolved_at=record.resolved_at,
    )


class AlertEngine:
    """Receives alert events and turns them into outbox messages; see the module docstring."""

    def __init__(self, store: Store, settings: Settings, now: Callable[[], datetime]) -> None:
        self._store = store
        self._alerts = settings.alerts
        self._now = now
        self._routes = RouteTable(settings.alerts, settings.slack.default_channel)
        self.source = f"inference-watchdog on {settings.host_name} ({settings.service_name})"

        self._queue: deque[AlertEvent] = deque()
        self._dropped = 0
        self._drop_lock = threading.Lock()
        # Serializes process() and maintenance(); emit() never takes it.
        self._lock = threading.Lock()
        self._loaded = False

        self._records: dict[str, AlertRecord] = {}
        # Fingerprints that the next cycle must look at: firing, awaiting a resolved message,
        # or flapping.
        self._active: set[str] = set()
        self._dirty: set[str] = set()
        self._timers: dict[str, GroupTimer] = {}
        # fingerprint -> (severity, route, group key); the route depends on the severity.
        self._groups_of: dict[str, tuple[str, Route, str]] = {}
        self._budgets: dict[str, TargetBudget] = {}
        self._unsaved_counts: Counter[str] = Counter()
        # Suppressed observations by (month, rule, outcome), kept until a cycle stores them.
        self._unsaved_monthly: Counter[counters.MonthlyKey] = Counter()
        self._unsaved_silence_counts: Counter[str] = Counter()

    # -- AlertSink --------------------------------------------------------

    def emit(self, event: AlertEvent) -> None:
        """Queue ``event`` for the next cycle; drops (and counts) it when the queue is full."""
        if len(self._queue) >= self._alerts.queue_limit:
            with self._drop_lock:
                self._dropped += 1
            logger.warning(
                "alert queue full (%d events); dropping alert events until it drains",
                self._alerts.queue_limit,
            )
            return
        self._queue.append(event)

    @property
    def queued(self) -> int:
        """Events waiting for the next cycle."""
        return len(self._queue)

    # -- the cycle ----------------------------------------------------------

    def load(self) -> None:
        """Read the alert states and budgets from the store (done once, before the first cycle)."""
        with self._lock:
            self._load()

    def _load(self) -> None:
        if self._loaded:
            return
        with self._store.session() as session:
            records = load_records(session)
            budgets = load_budgets(session)
        self._records = {record.fingerprint: record for record in records}
        self._active = {
            r.fingerprint
            for r in records
            if r.state == "firing" or r.needs_resolved_announcement or r.flapping
        }
        self._budgets = {budget.target: budget for budget in budgets}
        self._loaded = True
        logger.info(
            "alert engine loaded %d alert states (%d firing)",
            len(records),
            sum(1 for r in records if r.state == "firing"),
        )

    def process(self) -> CycleReport:
        """Run one cycle: apply queued events, plan group messages, commit everything at once."""
        with self._lock:
            self._load()
            return self._process()

    def _process(self) -> CycleReport:
        now = self._now()
        # Read before draining, so that a failed read leaves the events queued.
        with self._store.session() as session:
            silences = load_active_silences(session, now)
        events = self._drain()
        report = CycleReport(events=len(events))

        self._apply_events(events, silences)
        self._settle_flapping(now)
        plans = self._due_plans(now, silences)
        outgoing = [self._group_message(plan, now) for plan in plans if plan.has_message]
        outgoing += self._flapping_notices()

        staged: dict[str, AlertRecord] = {}
        for plan in plans:
            for record in plan.updated_records(now):
                staged[record.fingerprint] = record
        for message in outgoing:
            for record in message.records:
                staged[record.fingerprint] = replace(
                    staged.get(record.fingerprint, record),
                    flap_noticed=record.flap_noticed,
                )

        with self._drop_lock:
            dropped, self._dropped = self._dropped, 0
        self._unsaved_counts[counters.DROPPED] += dropped

        budgets = dict(self._budgets)
        try:
            with self._store.write_session() as session:
                # Announced and folded counts of this cycle only; a failed cycle recounts them.
                cycle_monthly: Counter[counters.MonthlyKey] = Counter()
                self._queue_digests(session, budgets, now, report)
                self._queue_messages(session, budgets, outgoing, now, report, monthly=cycle_monthly)
                to_save = [staged.get(fp, self._records[fp]) for fp in self._dirty | set(staged)]
                save_records(session, to_save)
                save_budgets(
                    session,
                    [b for t, b in budgets.items() if self._budgets.get(t) != b],
                )
                self._unsaved_counts[counters.FOLDED] += report.folded
                counters.add_counts(session, self._unsaved_counts)
                counters.add_monthly_counts(session, self._unsaved_monthly + cycle_monthly)
                add_suppressed(session, self._unsaved_silence_counts)
        except SQLAlchemyError as exc:
            # Everything stays staged in memory and is written by the next cycle. A full or
            # read-only store is logged once per stretch by the store's health, which also
            # has the storage notice posted straight to Slack.
            if not self._store.health.failed(ENGINE_SOURCE, exc):
                logger.error("storing the alert cycle failed; retrying next cycle: %s", exc)
            self._unsaved_counts[counters.FOLDED] -= report.folded
            return CycleReport(events=len(events))
        self._store.health.succeeded(ENGINE_SOURCE)

        self._records.update(staged)
        self._dirty.clear()
        self._unsaved_counts.clear()
        self._unsaved_monthly.clear()
        self._unsaved_silence_counts.clear()
        self._budgets = budgets
        for plan in plans:
            if plan.has_message:
                self._timers[plan.key].last_sent_at = now
        self._forget_settled()
        return report

    def _drain(self) -> list[AlertEvent]:
        events = []
        while True:
            try:
                events.append(self._queue.popleft())
            except IndexError:
                return events

    def _apply_events(self, events: Iterable[AlertEvent], silences: list[ActiveSilence]) -> None:
        flapping = self._alerts.flapping
        for event in events:
            fingerprint = event.fingerprint
            observation = observe(
                self._records.get(fingerprint), event, flapping.window, flapping.max_changes
            )
            record = observation.record
            if record is None or observation.outcome == "ignored":
                continue
            self._records[fingerprint] = record
            self._dirty.add(fingerprint)
            if record.state == "firing" or record.needs_resolved_announcement or record.flapping:
                self._active.add(fingerprint)
            if observation.started_flapping:
                logger.warning(
                    "alert %s %s is flapping: %d state changes in %s; holding its notifications",
                    record.rule,
                    dict(record.labels),
                    len(record.changes),
                    flapping.window,
                )
            if event.state == "firing" and observation.outcome in ("fired", "duplicate"):
                self._count_suppression(record, observation.outcome, silences, event.at)

    def _count_suppression(
        self, record: AlertRecord, outcome: str, silences: list[ActiveSilence], at: datetime
    ) -> None:
        """Count a firing observation that does not lead to an announcement of its own."""
        silence = self._silence_of(record, silences)
        if silence is not None:
            reason = counters.SUPPRESSED_SILENCED
            self._unsaved_silence_counts[silence.id] += 1
        elif record.flapping:
            reason = counters.SUPPRESSED_FLAPPING
        elif record.one_shot and record.announced_episode > 0:
            reason = counters.SUPPRESSED_ONE_SHOT
        elif outcome == "duplicate":
            reason = counters.SUPPRESSED_DUPLICATE
        else:
            return
        self._unsaved_counts[reason] += 1
        month = at.astimezone(UTC).strftime("%Y-%m")
        self._unsaved_monthly[(month, record.rule, counters.SUPPRESSED)] += 1

    @staticmethod
    def _silence_of(record: AlertRecord, silences: list[ActiveSilence]) -> ActiveSilence | None:
        if not silences:
            return None
        labels = alert_match_labels(record.rule, record.severity, record.fingerprint, record.labels)
        return find_silence(silences, labels)

    def _settle_flapping(self, now: datetime) -> None:
        stable_for = self._alerts.flapping.stable_for
        for fingerprint in list(self._active):
            record = self._records[fingerprint]
            settled = settle_flapping(record, now, stable_for)
            if settled is not None:
                logger.info("alert %s %s is stable again", record.rule, dict(record.labels))
                self._records[fingerprint] = settled
                self._dirty.add(fingerprint)

    def _route(self, record: AlertRecord) -> Route:
        return self._routes.route_for(record.rule, record.severity)

    def _group_of(self, record: AlertRecord) -> tuple[Route, str]:
        cached = self._groups_of.get(record.fingerprint)
        if cached is not None and cached[0] == record.severity:
            return cached[1], cached[2]
        route = self._route(record)
        key = group_key(route, record.rule, record.severity, record.labels)
        self._groups_of[record.fingerprint] = (record.severity, route, key)
        return route, key

    def _due_plans(self, now: datetime, silences: list[ActiveSilence]) -> list[GroupPlan]:
        groups: dict[str, tuple[Route, list[AlertRecord]]] = {}
        for fingerprint in self._active:
            record = self._records[fingerprint]
            if record.flapping:
                continue
            route, key = self._group_of(record)
            groups.setdefault(key, (route, []))[1].append(record)

        for key in list(self._timers):
            if key not in groups:
                del self._timers[key]

        plans = []
        for key, (route, members) in groups.items():
            timer = self._timers.setdefault(key, GroupTimer(created_at=now))
            if not group_due(timer, now, route.policy):
                continue
            members.sort(key=lambda r: (r.firing_since or r.last_seen_at, r.fingerprint))
            plan = plan_group(
                key, route, members, now, lambda r: self._silence_of(r, silences) is not None
            )
            if plan is not None:
                plans.append(plan)
        return plans

    def _group_title(self, route: Route, record: AlertRecord) -> str:
        names = route.policy.group_by
        if names == ("rule",):
            return record.rule
        return ", ".join(
            f"{name}={group_label_value(name, record.rule, record.severity, record.labels)}"
            for name in names
        ) or "all alerts"

    def _group_message(self, plan: GroupPlan, now: datetime) -> _Outgoing:
        first = (plan.firing or plan.resolved)[0]
        notice = GroupNotice(
            route=plan.route.name,
            group=self._group_title(plan.route, first),
            firing=tuple(alert_line(r) for r in plan.firing),
            resolved=tuple(alert_line(r) for r in plan.resolved),
            still_firing=tuple(alert_line(r) for r in plan.still_firing),
            repeat=plan.repeat,
        )
        identity = [f"{r.fingerprint}:{r.episode}:firing" for r in plan.firing]
        identity += [f"{r.fingerprint}:{r.episode}:resolved" for r in plan.resolved]
        if plan.repeat:
            identity += [f"repeat:{(r.announced_at or now).isoformat()}" for r in plan.firing]
        subject = f"{notice.group}: {len(plan.firing)} firing, {len(plan.resolved)} resolved"
        folded = [FoldedAlert(r.rule, r.severity, "firing", r.summary) for r in plan.firing]
        folded += [FoldedAlert(r.rule, r.severity, "resolved", r.summary) for r in plan.resolved]
        return _Outgoing(
            target=plan.route.target,
            dedup_key="group:" + _digest_key(plan.key, *sorted(identity)),
            kind="alert",
            subject=subject,
            payload=render_group(notice, self.source),
            folded=folded,
            records=[],
        )

    def _flapping_notices(self) -> list[_Outgoing]:
        flapping = self._alerts.flapping
        notices = []
        for fingerprint in sorted(self._active):
            record = self._records[fingerprint]
            if not record.flapping or record.flap_noticed:
                continue
            route = self._route(record)
            payload = render_flapping(
                alert_line(record),
                len(record.changes),
                flapping.window,
                flapping.stable_for,
                self.source,
            )
            first_change = record.changes[0].isoformat() if record.changes else ""
            notices.append(
                _Outgoing(
                    target=route.target,
                    dedup_key="flapping:" + _digest_key(fingerprint, first_change),
                    kind="flapping",
                    subject=f"{record.rule} is flapping",
                    payload=payload,
                    folded=[FoldedAlert(record.rule, record.severity, "flapping", record.summary)],
                    records=[replace(record, flap_noticed=True)],
                )
            )
        return notices

    def _queue_digests(
        self, session: Session, budgets: dict[str, TargetBudget], now: datetime, report: CycleReport
    ) -> None:
        window = self._alerts.flood_guard.budget_window
        for target, budget in list(budgets.items()):
            fresh, digest = close_window(budget, now, window)
            budgets[target] = fresh
            if digest is None:
                continue
            message = QueuedMessage(
                dedup_key="digest:" + _digest_key(target, digest.window_start.isoformat()),
                target=target,
                kind="digest",
                subject=f"digest of {digest.total} folded notifications",
                payload=render_digest(digest, self.source),
                alert_count=digest.total,
            )
            if enqueue(session, message, now):
                report.queued += 1
                logger.info(
                    "queued a digest of %d folded notifications for %s", digest.total, target
                )

    def _queue_messages(
        self,
        session: Session,
        budgets: dict[str, TargetBudget],
        outgoing: list[_Outgoing],
        now: datetime,
        report: CycleReport,
        *,
        monthly: Counter[counters.MonthlyKey],
    ) -> None:
        guard = self._alerts.flood_guard
        month = now.astimezone(UTC).strftime("%Y-%m")
        for message in outgoing:
            budget = budgets.get(message.target, TargetBudget(message.target))
            budget, allowed = admit(budget, now, guard.budget_window, guard.budget)
            if not allowed:
                budgets[message.target] = fold(budget, message.folded)
                report.folded += len(message.folded)
                for alert in message.folded:
                    monthly[(month, alert.rule, counters.FOLDED_MONTHLY)] += 1
                continue
            budgets[message.target] = budget
            queued = QueuedMessage(
                dedup_key=message.dedup_key,
                target=message.target,
                kind=message.kind,
                subject=message.subject,
                payload=message.payload,
                alert_count=len(message.folded),
            )
            if enqueue(session, queued, now):
                report.queued += 1
                for alert in message.folded:
                    monthly[(month, alert.rule, counters.ANNOUNCED)] += 1
                logger.info("queued %s message for %s: %s", message.kind, message.target, message.subject)

    def _forget_settled(self) -> None:
        """Drop from the active set the alerts that need no more attention."""
        for fingerprint in list(self._active):
            record = self._records[fingerprint]
            if record.state == "firing" or record.flapping:
                continue
            if record.needs_resolved_announcement:
                continue
            self._active.discard(fingerprint)
            self._groups_of.pop(fingerprint, None)

    # -- housekeeping -------------------------------------------------------

    def maintenance(self) -> int:
        """Forget resolved alerts past their retention; return how many were deleted."""
        with self._lock:
            self._load()
            now = self._now()
            expired = [
                r.fingerprint
                for r in self._records.values()
                if r.state != "firing"
                and not r.flapping
                and not r.needs_resolved_announcement
                and r.last_seen_at
                < now - (ONE_SHOT_RETENTION if r.one_shot else self._alerts.state_retention)
            ]
            if not expired:
                return 0
            with self._store.write_session() as session:
                delete_records(session, expired)
            for fingerprint in expired:
                self._records.pop(fingerprint, None)
                self._active.discard(fingerprint)
                self._groups_of.pop(fingerprint, None)
                self._dirty.discard(fingerprint)
            logger.info("forgot %d resolved alerts past their retention", len(expired))
            return len(expired)

    def firing(self) -> list[AlertRecord]:
        """Return the alerts firing now, as held in this process's memory."""
        with self._lock:
            return [r for r in self._records.values() if r.state == "firing"]
