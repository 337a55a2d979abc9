"""Reading and writing the engine's state: alert records and target budgets in SQLite."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.orm import Session

from watchdog.alerts.floodguard import TargetBudget
from watchdog.alerts.state import AlertRecord
from watchdog.storage.models import AlertStateRow, AlertTarget

_RECORD_COLUMNS = [column.name for column in AlertStateRow.__table__.columns]


def record_to_row(record: AlertRecord) -> dict[str, Any]:
    """Return the ``alert_states`` column values of ``record``."""
    return {
        "fingerprint": record.fingerprint,
        "rule": record.rule,
        "labels": dict(record.labels),
        "severity": record.severity,
        "summary": record.summary,
        "details": dict(record.details),
        "one_shot": record.one_shot,
        "state": record.state,
        "pending_since": record.pending_since,
        "firing_since": record.firing_since,
        "resolved_at": record.resolved_at,
        "last_seen_at": record.last_seen_at,
        "episode": record.episode,
        "announced_episode": record.announced_episode,
        "announced_at": record.announced_at,
        "resolved_announced_episode": record.resolved_announced_episode,
        "changes": [moment.isoformat() for moment in record.changes],
        "flapping": record.flapping,
        "flap_noticed": record.flap_noticed,
    }


def row_to_record(row: AlertStateRow) -> AlertRecord:
    """Rebuild an ``AlertRecord`` from its row."""
    severity = row.severity if row.severity in ("info", "warning", "critical") else "warning"
    state = row.state if row.state in ("pending", "firing", "resolved") else "resolved"
    return AlertRecord(
        fingerprint=row.fingerprint,
        rule=row.rule,
        labels=dict(row.labels),
        severity=severity,  # type: ignore[arg-type]
        summary=row.summary,
        details=dict(row.details),
        one_shot=row.one_shot,
        state=state,  # type: ignore[arg-type]
        last_seen_at=row.last_seen_at,
        pending_since=row.pending_since,
        firing_since=row.firing_since,
        resolved_at=row.resolved_at,
        episode=row.episode,
        announced_episode=row.announced_episode,
        announced_at=row.announced_at,
        resolved_announced_episode=row.resolved_announced_episode,
        changes=tuple(datetime.fromisoformat(moment) for moment in row.changes),
        flapping=row.flapping,
        flap_noticed=row.flap_noticed,
    )


def load_records(session: Session) -> list[AlertRecord]:
    """Return every stored alert record."""
    return [row_to_record(row) for row in session.scalars(select(AlertStateRow)).all()]


def save_records(session: Session, records: Iterable[AlertRecord]) -> None:
    """Insert or update ``records`` in one statement."""
    rows = [record_to_row(record) for record in records]
    if not rows:
        return
    statement = insert(AlertStateRow)
    statement = statement.on_conflict_do_update(
        index_elements=[AlertStateRow.fingerprint],
        set_={name: statement.excluded[name] for name in _RECORD_COLUMNS if name != "fingerprint"},
    )
    # A Core executemany on the session's connection: the ORM's bulk path costs more than SQLite.
    session.connection().execute(statement, rows)


def delete_records(session: Session, fingerprints: Iterable[str]) -> None:
    """Delete the records of ``fingerprints``."""
    keys = list(fingerprints)
    if keys:
        session.execute(delete(AlertStateRow).where(AlertStateRow.fingerprint.in_(keys)))


def load_budgets(session: Session) -> list[TargetBudget]:
    """Return the budget of every target that has a row."""
    rows = session.scalars(select(AlertTarget)).all()
    return [
        TargetBudget.from_row(row.target, row.window_start, row.window_sent, row.digest or {})
        for row in rows
    ]


def save_budgets(session: Session, budgets: Iterable[TargetBudget]) -> None:
    """Store the budget columns of ``budgets``, leaving the delivery pacing columns alone."""
    for budget in budgets:
        values = {
            "window_start": budget.window_start,
            "window_sent": budget.window_sent,
            "digest": budget.to_json(),
        }
        statement = insert(AlertTarget).values(target=budget.target, **values)
        statement = statement.on_conflict_do_update(
            index_elements=[AlertTarget.target], set_=values
        )
        session.execute(statement)
