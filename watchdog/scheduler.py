"""The daemon loop: APScheduler 3.x jobs, their outcomes, and the systemd watchdog ping.

Every job runs with ``max_instances=1`` (a slow run is never overlapped by
the next) and ``coalesce=True`` (runs missed while the process was stopped
or busy collapse into one). Each run's start, end and outcome are stored in
``job_runs`` for ``status``.

``WATCHDOG=1`` is sent by a job of the scheduler itself, so it stops when
the scheduler stops dispatching jobs, and it is also held back while any
job has been running for longer than ``stall_timeout``. A hung loop or a
hung job therefore lets systemd's ``WatchdogSec=`` expire and restart the
daemon, which a free-running ping thread would hide.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.exc import SQLAlchemyError

from watchdog.storage import Store
from watchdog.storage.models import JobRun
from watchdog.systemd import Notifier

logger = logging.getLogger(__name__)

HEARTBEAT_JOB_ID = "systemd-heartbeat"


@dataclass(frozen=True)
class JobSpec:
    """One recurring job: what it runs and when, in APScheduler trigger terms."""

    job_id: str
    func: Callable[[], object]
    trigger: str | Any
    trigger_args: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    # Seconds a missed run may still start late; beyond that it is skipped.
    misfire_grace_time: int = 30
    # Whether job_runs records each run; off for very frequent internal jobs.
    record: bool = True


def utc_now() -> datetime:
    """Return the current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class JobLoop:
    """Runs ``JobSpec`` jobs on a background APScheduler and pings systemd from it."""

    def __init__(
        self,
        store: Store | None,
        notifier: Notifier,
        *,
        heartbeat_interval: timedelta,
        stall_timeout: timedelta,
        max_workers: int = 8,
        status_line: Callable[[], str] | None = None,
    ) -> None:
        self._store = store
        self._notifier = notifier
        self._heartbeat_interval = heartbeat_interval
        self._stall_timeout = stall_timeout.total_seconds()
        self._status_line = status_line or (lambda: "running")
        self._running: dict[str, float] = {}
        self._running_lock = threading.Lock()
        self._stalled_logged: set[str] = set()
        self._ready_sent = False
        self.heartbeats = 0
        self._scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=max_workers)},
            job_defaults={"coalesce": True, "max_instances": 1},
            timezone=UTC,
        )

    @property
    def scheduler(self) -> BackgroundScheduler:
        """The underlying APScheduler, for tests and for jobs added at run time."""
        return self._scheduler

    def add(self, spec: JobSpec) -> None:
        """Schedule ``spec``; a job with the same id is replaced."""
        self._scheduler.add_job(
            self._wrap(spec),
            trigger=spec.trigger,
            id=spec.job_id,
            name=spec.description or spec.job_id,
            replace_existing=True,
            misfire_grace_time=spec.misfire_grace_time,
            **spec.trigger_args,
        )

    def start(self) -> None:
        """Start dispatching jobs; ``READY=1`` follows from the first heartbeat."""
        self._scheduler.add_job(
            self._heartbeat,
            trigger="interval",
            seconds=self._heartbeat_interval.total_seconds(),
            id=HEARTBEAT_JOB_ID,
            name="systemd watchdog heartbeat",
            next_run_time=utc_now(),
            replace_existing=True,
            misfire_grace_time=1,
        )
        self._scheduler.start()
        logger.info("scheduler started with %d jobs", len(self._scheduler.get_jobs()))

    def stop(self, timeout: timedelta) -> bool:
        """Stop the scheduler and wait up to ``timeout`` for running jobs; return whether all ended."""
        self._notifier.stopping()
        if not self._scheduler.running:
            return True
        self._scheduler.pause()
        finished = threading.Event()

        def shutdown() -> None:
            self._scheduler.shutdown(wait=True)
            finished.set()

        threading.Thread(target=shutdown, name="scheduler-shutdown", daemon=True).start()
        if finished.wait(timeout.total_seconds()):
            logger.info("scheduler stopped")
            return True
        with self._running_lock:
            still_running = sorted(self._running)
        logger.warning(
            "jobs still running after %.0fs: %s; exiting without waiting for them",
            timeout.total_seconds(),
            ", ".join(still_running) or "(none)",
        )
        return False

    def stalled_jobs(self) -> list[str]:
        """Return the ids of jobs running for longer than the stall timeout."""
        now = time.monotonic()
        with self._running_lock:
            return sorted(
                job_id
                for job_id, started in self._running.items()
                if now - started > self._stall_timeout
            )

    def _heartbeat(self) -> None:
        if not self._ready_sent:
            self._ready_sent = True
            self._notifier.ready(self._status_line())
            logger.info("daemon ready")
        stalled = self.stalled_jobs()
        if stalled:
            fresh = set(stalled) - self._stalled_logged
            if fresh:
                logger.error(
                    "job %s running for over %.0fs; holding back WATCHDOG=1 so that systemd "
                    "restarts the daemon",
                    ", ".join(sorted(fresh)),
                    self._stall_timeout,
                )
            self._stalled_logged = set(stalled)
            return
        self._stalled_logged.clear()
        self.heartbeats += 1
        self._notifier.notify("WATCHDOG=1", f"STATUS={self._status_line()}")

    def _wrap(self, spec: JobSpec) -> Callable[[], None]:
        def run() -> None:
            started_wall = utc_now()
            started = time.monotonic()
            with self._running_lock:
                self._running[spec.job_id] = started
            error: BaseException | None = None
            try:
                spec.func()
            except Exception as exc:
                error = exc
                # A full or read-only store fails every run; the store's health logs it once.
                if self._store is None or not self._store.health.failed(spec.job_id, exc):
                    logger.exception("job %s failed", spec.job_id)
            else:
                if self._store is not None:
                    self._store.health.succeeded(spec.job_id)
            finally:
                with self._running_lock:
                    self._running.pop(spec.job_id, None)
            if spec.record:
                self._record(spec.job_id, started_wall, time.monotonic() - started, error)

        return run

    def _record(
        self, job_id: str, started: datetime, duration: float, error: BaseException | None
    ) -> None:
        if self._store is None:
            return
        try:
            with self._store.write_session() as session:
                row = session.get(JobRun, job_id)
                if row is None:
                    row = JobRun(job_id=job_id, runs=0, failures=0, last_outcome="")
                    session.add(row)
                row.last_started_at = started
                row.last_finished_at = utc_now()
                row.last_duration_seconds = round(duration, 6)
                row.runs += 1
                if error is None:
                    row.last_outcome = "ok"
                    row.last_error = None
                else:
                    row.failures += 1
                    row.last_outcome = "error"
                    row.last_error = f"{type(error).__name__}: {error}"[:1000]
        except SQLAlchemyError as exc:
            if not self._store.health.failed("job_runs", exc):
                logger.warning("recording the run of job %s failed: %s", job_id, exc)
            return
        self._store.health.succeeded("job_runs")
