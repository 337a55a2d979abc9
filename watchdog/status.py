"""``status``: the daemon's state as read from the store, by a separate process.

The daemon writes what it does to SQLite as it goes; ``status`` only reads,
so it works while the daemon runs (WAL mode lets readers in) and after it
stopped. Each capability adds its own section through ``STATUS_SECTIONS``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select

from watchdog.alerts.status import alerts_section
from watchdog.config import Settings
from watchdog.metrics.status import metrics_status
from watchdog.spend.overview import spend_status
from watchdog.storage import Store
from watchdog.storage.models import DaemonRun, JobRun
from watchdog.supervision.status import worker_status

StatusSection = Callable[[Store, Settings], dict[str, Any]]

# Section name -> function that reads it from the store.
STATUS_SECTIONS: dict[str, StatusSection] = {
    "alerts": alerts_section,
    "metrics": metrics_status,
    "spend": spend_status,
    "worker": worker_status,
}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def daemon_section(store: Store) -> tuple[dict[str, Any], dict[str, str] | None]:
    """Return the latest daemon run and the embedded endpoints it recorded."""
    with store.session() as session:
        run = session.scalars(select(DaemonRun).order_by(DaemonRun.id.desc()).limit(1)).first()
    if run is None:
        return {"pid": None, "started_at": None, "running": False, "mode": None}, None
    running = run.stopped_at is None and _process_alive(run.pid)
    daemon = {
        "pid": run.pid,
        "host_name": run.host_name,
        "started_at": _iso(run.started_at),
        "stopped_at": _iso(run.stopped_at),
        "running": running,
        "mode": "embedded" if run.embedded else "production",
    }
    return daemon, (dict(run.endpoints) if run.embedded else None)


def jobs_section(store: Store) -> dict[str, dict[str, Any]]:
    """Return each job's last run and outcome."""
    with store.session() as session:
        rows = session.scalars(select(JobRun).order_by(JobRun.job_id)).all()
    return {
        row.job_id: {
            "last_started_at": _iso(row.last_started_at),
            "last_finished_at": _iso(row.last_finished_at),
            "last_duration_seconds": row.last_duration_seconds,
            "last_outcome": row.last_outcome,
            "last_error": row.last_error,
            "runs": row.runs,
            "failures": row.failures,
        }
        for row in rows
    }


def collect_status(store: Store, settings: Settings) -> dict[str, Any]:
    """Build the whole status document."""
    daemon, embedded = daemon_section(store)
    status: dict[str, Any] = {
        "daemon": daemon,
        "embedded": embedded,
        "database": store.url,
        "jobs": jobs_section(store),
    }
    for name, section in STATUS_SECTIONS.items():
        status[name] = section(store, settings)
    return status


def format_status(status: dict[str, Any]) -> str:
    """Render the status document as aligned text for a terminal."""
    lines = []
    daemon = status["daemon"]
    if daemon["pid"] is None:
        lines.append("daemon: never started with this database")
    else:
        state = "running" if daemon["running"] else "not running"
        lines.append(
            f"daemon: {state} (pid {daemon['pid']}, {daemon['mode']}, started {daemon['started_at']})"
        )
    if status["embedded"]:
        for key, value in status["embedded"].items():
            lines.append(f"  {key}: {value}")
    lines.append(f"database: {status['database']}")
    lines.append("jobs:")
    for job_id, job in status["jobs"].items():
        outcome = job["last_outcome"] or "never run"
        detail = f" ({job['last_error']})" if job["last_error"] else ""
        lines.append(
            f"  {job_id:<24} {outcome:<6} last {job['last_finished_at']}, "
            f"{job['runs']} runs, {job['failures']} failed{detail}"
        )
    for name in STATUS_SECTIONS:
        lines.append(f"{name}:")
        for key, value in status[name].items():
            lines.append(f"  {key}: {value}")
    return "\n".join(lines)
