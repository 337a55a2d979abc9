"""The SQLite side of supervision: transitions, the current status row and restart requests.

A failed write is logged and supervision goes on: keeping the worker alive
matters more than the record of it, and the next transition rewrites the
status row in full.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from watchdog.storage import Store
from watchdog.storage.models import WorkerEvent, WorkerRestartRequest, WorkerStatus
from watchdog.supervision.exits import WorkerExit

logger = logging.getLogger(__name__)

# worker_status contains one row, with this id.
STATUS_ROW_ID = 1


@dataclass(frozen=True)
class Transition:
    """One state change as it is stored in ``worker_events``."""

    at: datetime
    from_state: str
    to_state: str
    reason: str
    pid: int | None
    detail: str = ""
    exit: WorkerExit | None = None
    memory_bytes: int | None = None
    delay_seconds: float | None = None


@dataclass(frozen=True)
class StatusSnapshot:
    """The worker's state after a transition, as ``status`` shows it."""

    mode: str
    state: str
    pid: int | None
    restarts: int
    ready_at: datetime | None
    next_start_at: datetime | None
    health_url: str | None
    metrics_url: str | None
    last_exit: WorkerExit | None
    last_exit_at: datetime | None


@dataclass(frozen=True)
class RestartOutcome:
    """The daemon's response to a restart request: whether it acted, and what it did or why not."""

    accepted: bool
    message: str


@dataclass(frozen=True)
class RestartRequest:
    """A pending ``worker restart`` request."""

    id: int
    requested_at: datetime
    requested_by: str


class SupervisionRecorder:
    """Writes transitions and status, and hands out restart requests, on the daemon's store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def record(self, transition: Transition, snapshot: StatusSnapshot) -> None:
        """Store ``transition`` and rewrite the status row in one transaction."""
        try:
            with self._store.write_session() as session:
                session.add(_event_row(transition))
                row = session.get(WorkerStatus, STATUS_ROW_ID)
                if row is None:
                    row = WorkerStatus(id=STATUS_ROW_ID)
                    session.add(row)
                _fill_status(row, snapshot, transition.at)
        except SQLAlchemyError as exc:
            logger.error(
                "recording worker transition %s -> %s (%s) failed: %s",
                transition.from_state,
                transition.to_state,
                transition.reason,
                exc,
            )

    def pending_requests(self) -> list[RestartRequest]:
        """Return the restart requests not yet handled, oldest first."""
        try:
            with self._store.session() as session:
                rows = session.scalars(
                    select(WorkerRestartRequest)
                    .where(WorkerRestartRequest.handled_at.is_(None))
                    .order_by(WorkerRestartRequest.id)
                ).all()
        except SQLAlchemyError as exc:
            logger.error("reading worker restart requests failed: %s", exc)
            return []
        return [RestartRequest(row.id, row.requested_at, row.requested_by) for row in rows]

    def finish_requests(self, ids: list[int], outcome: RestartOutcome, at: datetime) -> None:
        """Mark the requests ``ids`` as handled with ``outcome``."""
        if not ids:
            return
        try:
            with self._store.write_session() as session:
                session.execute(
                    update(WorkerRestartRequest)
                    .where(WorkerRestartRequest.id.in_(ids))
                    .values(handled_at=at, accepted=outcome.accepted, outcome=outcome.message)
                )
        except SQLAlchemyError as exc:
            logger.error("marking worker restart requests %s handled failed: %s", ids, exc)


def _event_row(transition: Transition) -> WorkerEvent:
    worker_exit = transition.exit
    return WorkerEvent(
        at=transition.at,
        from_state=transition.from_state,
        to_state=transition.to_state,
        reason=transition.reason,
        pid=transition.pid,
        detail=transition.detail,
        exit_kind=str(worker_exit.kind) if worker_exit else None,
        exit_status=worker_exit.exit_status if worker_exit else None,
        exit_signal=worker_exit.signal_number if worker_exit else None,
        memory_bytes=transition.memory_bytes,
        delay_seconds=transition.delay_seconds,
    )


def _fill_status(row: WorkerStatus, snapshot: StatusSnapshot, at: datetime) -> None:
    row.mode = snapshot.mode
    row.state = snapshot.state
    row.pid = snapshot.pid
    row.restarts = snapshot.restarts
    row.ready_at = snapshot.ready_at
    row.next_start_at = snapshot.next_start_at
    row.health_url = snapshot.health_url
    row.metrics_url = snapshot.metrics_url
    row.updated_at = at
    worker_exit = snapshot.last_exit
    row.last_exit_at = snapshot.last_exit_at
    row.last_exit_kind = str(worker_exit.kind) if worker_exit else None
    row.last_exit_description = worker_exit.description if worker_exit else None
    row.last_exit_status = worker_exit.exit_status if worker_exit else None
    row.last_exit_signal = worker_exit.signal_number if worker_exit else None
