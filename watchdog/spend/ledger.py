"""The record of billing alerts raised, and their hand-over to the alert sink.

An alert is recorded first and handed over second. The record's primary
key (month, kind, level) makes it raised at most once per month. When the
sink can enqueue inside the store's transaction (``TransactionalAlertSink``),
both happen in one transaction. Otherwise a crash between the two leaves
the record with no ``handed_over_at``, and the next evaluation hands it
over again.

A sink may also hold accepted events in memory for a moment (the alert
engine queues them until its next cycle), so a crash can lose an event it
accepted. ``hand_over_again`` therefore hands this and last month's alerts
over once more when the daemon starts. The events are ``one_shot``, so the
alert engine drops every copy of an alert it has already announced.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Protocol, runtime_checkable

from sqlalchemy import select
from sqlalchemy.orm import Session

from watchdog.alerts.events import AlertEvent, AlertSink
from watchdog.spend.alerting import BillingAlert, event_from_json, event_to_json
from watchdog.storage import Store
from watchdog.storage.models import SpendFiredThreshold

logger = logging.getLogger(__name__)


@runtime_checkable
class TransactionalAlertSink(Protocol):
    """An alert sink that can enqueue an event inside the caller's store transaction."""

    def emit_in_session(self, session: Session, event: AlertEvent) -> None:
        """Enqueue ``event`` as part of ``session``'s transaction."""
        ...


def fired_levels(session: Session, month: str) -> dict[str, set[str]]:
    """Return the levels already raised in ``month``, per kind."""
    query = select(SpendFiredThreshold).where(SpendFiredThreshold.month == month)
    levels: dict[str, set[str]] = {}
    for row in session.scalars(query):
        levels.setdefault(row.kind, set()).add(row.level)
    return levels


class AlertLedger:
    """Records billing alerts once per (month, kind, level) and hands them to the sink."""

    def __init__(self, store: Store, sink: AlertSink, now: Callable[[], datetime]) -> None:
        self._store = store
        self._sink = sink
        self._now = now

    def raise_alerts(self, alerts: Iterable[BillingAlert]) -> list[BillingAlert]:
        """Record and hand over each alert not raised before; return the ones raised now."""
        raised = []
        for alert in alerts:
            if self._record(alert):
                raised.append(alert)
        return raised

    def hand_over_pending(self) -> int:
        """Hand over again every recorded alert the sink has not accepted; return how many."""
        with self._store.session() as session:
            pending = session.scalars(
                select(SpendFiredThreshold).where(SpendFiredThreshold.handed_over_at.is_(None))
            ).all()
            keys = [(row.month, row.kind, row.level, dict(row.event)) for row in pending]
        for month, kind, level, document in keys:
            logger.info("handing over billing alert %s %s %s again", month, kind, level)
            self._hand_over((month, kind, level), event_from_json(document))
        return len(keys)

    def hand_over_again(self, months: Iterable[str]) -> int:
        """Hand over every alert recorded in ``months`` once more; return how many."""
        with self._store.session() as session:
            rows = session.scalars(
                select(SpendFiredThreshold)
                .where(SpendFiredThreshold.month.in_(list(months)))
                .order_by(SpendFiredThreshold.fired_at)
            ).all()
            keys = [(row.month, row.kind, row.level, dict(row.event)) for row in rows]
        for month, kind, level, document in keys:
            self._hand_over((month, kind, level), event_from_json(document))
        if keys:
            logger.info("handed %d billing alerts over again after the start", len(keys))
        return len(keys)

    def _record(self, alert: BillingAlert) -> bool:
        key = (alert.month, alert.kind, alert.level)
        transactional = isinstance(self._sink, TransactionalAlertSink)
        with self._store.write_session() as session:
            if session.get(SpendFiredThreshold, key) is not None:
                return False
            row = SpendFiredThreshold(
                month=alert.month,
                kind=alert.kind,
                level=alert.level,
                threshold=alert.threshold,
                observed=alert.observed,
                estimate=alert.estimate,
                fired_at=self._now(),
                handed_over_at=None,
                event=event_to_json(alert.event),
            )
            session.add(row)
            if transactional:
                self._sink.emit_in_session(session, alert.event)  # type: ignore[attr-defined]
                row.handed_over_at = self._now()
        logger.info("billing alert %s %s %s: %s", *key, alert.event.summary)
        if not transactional:
            self._hand_over(key, alert.event)
        return True

    def _hand_over(self, key: tuple[str, str, str], event: AlertEvent) -> None:
        try:
            self._sink.emit(event)
        # Whatever the sink raises, the record stays pending and is handed over again.
        except Exception:
            logger.exception("alert sink rejected billing alert %s %s %s", *key)
            return
        with self._store.write_session() as session:
            row = session.get(SpendFiredThreshold, key)
            if row is not None:
                row.handed_over_at = self._now()
