"""The ``worker`` section of ``status``: the worker's state as the daemon last stored it."""

from __future__ import annotations

from typing import Any

from watchdog.config import Settings
from watchdog.storage import Store
from watchdog.storage.models import WorkerStatus
from watchdog.supervision.recorder import STATUS_ROW_ID


def worker_status(store: Store, settings: Settings) -> dict[str, Any]:
    """Return the worker's mode, state, pid, restart count and last exit."""
    with store.session() as session:
        row = session.get(WorkerStatus, STATUS_ROW_ID)
    if row is None:
        return {
            "mode": settings.supervision.mode,
            "state": None,
            "pid": None,
            "restarts": 0,
            "last_exit": None,
            "ready_at": None,
            "next_start_at": None,
            "metrics_url": None,
            "updated_at": None,
        }
    last_exit = None
    if row.last_exit_kind is not None:
        last_exit = {
            "at": row.last_exit_at.isoformat() if row.last_exit_at else None,
            "kind": row.last_exit_kind,
            "description": row.last_exit_description,
            "exit_status": row.last_exit_status,
            "signal": row.last_exit_signal,
        }
    return {
        "mode": row.mode,
        "state": row.state,
        "pid": row.pid,
        "restarts": row.restarts,
        "last_exit": last_exit,
        "ready_at": row.ready_at.isoformat() if row.ready_at else None,
        "next_start_at": row.next_start_at.isoformat() if row.next_start_at else None,
        "metrics_url": row.metrics_url,
        "updated_at": row.updated_at.isoformat(),
    }
