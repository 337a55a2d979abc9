"""The daemon: opens the store, builds the components and runs their jobs until it stops.

A component is one capability (supervision, metrics, spend, alerts, reports).
It hands the daemon its recurring jobs and gets ``start``/``stop`` calls
around the loop; everything it needs (settings, store, AWS clients) comes in
through ``DaemonContext``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from watchdog.alerts.component import AlertsComponent
from watchdog.alerts.events import AlertSink, LogAlertSink
from watchdog.aws import AwsClients
from watchdog.config import LoadedSettings, Settings
from watchdog.embedded import EmbeddedEndpoints
from watchdog.metrics.component import MetricsComponent
from watchdog.reports.component import ReportComponent
from watchdog.scheduler import JobLoop, JobSpec, utc_now
from watchdog.slack import SlackClients
from watchdog.spend.clock import BillClock
from watchdog.spend.component import SpendComponent
from watchdog.spend.nowcast import InferenceCountSource
from watchdog.storage import Store, open_store
from watchdog.storage.models import DaemonRun
from watchdog.supervision.component import SupervisionComponent
from watchdog.supervision.handle import WorkerHandle
from watchdog.systemd import Notifier

logger = logging.getLogger(__name__)


class Component(Protocol):
    """One capability of the daemon: its jobs and its start and stop hooks."""

    name: str

    def jobs(self) -> list[JobSpec]:
        """Return the recurring jobs to schedule."""
        ...

    def start(self) -> None:
        """Prepare before the first job runs (spawn processes, open clients)."""
        ...

    def stop(self) -> None:
        """Release what ``start`` took; called once on shutdown."""
        ...


@dataclass
class SharedServices:
    """Services one component provides to the others, filled in as components are built.

    The alert engine replaces ``alert_sink``; supervision (or attach mode) sets ``worker``.
    The metrics rollups set ``inference_counts``. The embedded default sets ``bill_clock``
    and ``inference_counts`` from its simulated bill, whose clock runs fast.
    """

    alert_sink: AlertSink = field(default_factory=LogAlertSink)
    worker: WorkerHandle | None = None
    inference_counts: InferenceCountSource | None = None
    bill_clock: BillClock | None = None


@dataclass(frozen=True)
class DaemonContext:
    """Settings, store and clients shared by every component."""

    settings: Settings
    store: Store
    state_dir: Path
    aws: AwsClients
    slack: SlackClients
    embedded: EmbeddedEndpoints | None
    services: SharedServices = field(default_factory=SharedServices)
    now: Callable[[], datetime] = field(default=utc_now)


class StoreMaintenance:
    """Keeps the SQLite write-ahead log short, so that readers stay fast."""

    name = "store"

    def __init__(self, context: DaemonContext) -> None:
        self._context = context

    def jobs(self) -> list[JobSpec]:
        return [
            JobSpec(
                "store-checkpoint",
                self.checkpoint,
                "interval",
                {"minutes": 15},
                description="checkpoint the SQLite write-ahead log",
            )
        ]

    def start(self) -> None:
        return None

    def stop(self) -> None:
        return None

    def checkpoint(self) -> None:
        """Copy the write-ahead log into the database file and truncate it."""
        if self._context.store.engine.dialect.name != "sqlite":
            return
        with self._context.store.engine.connect() as connection:
            busy, log_frames, copied = connection.execute(
                text("PRAGMA wal_checkpoint(TRUNCATE)")
            ).one()
        logger.debug("WAL checkpoint: busy=%s frames=%s copied=%s", busy, log_frames, copied)


class SlackAuthCheck:
    """Checks the Slack credentials at start and then hourly, so that a revoked token shows early."""

    name = "slack-auth"

    def __init__(self, context: DaemonContext) -> None:
        self._context = context

    def jobs(self) -> list[JobSpec]:
        if self._context.slack.web is None:
            return []
        return [
            JobSpec(
                "slack-auth-check",
                self.check,
                "interval",
                {"hours": 1, "next_run_time": utc_now()},
                description="check the Slack bot token with auth.test",
            )
        ]

    def start(self) -> None:
        return None

    def stop(self) -> None:
        return None

    def check(self) -> None:
        """Call ``auth.test``; a failure raises and is recorded as the job's outcome."""
        team = self._context.slack.auth_test()
        logger.debug("Slack token valid for team %s", team)


ComponentFactory = Callable[[DaemonContext], Component]

# Components in start order; stopped in reverse. The alert engine comes first: building it
# installs its sink in context.services, which the later components emit to.
COMPONENT_FACTORIES: list[ComponentFactory] = [
    AlertsComponent,
    StoreMaintenance,
    SlackAuthCheck,
    MetricsComponent,
    SpendComponent,
    SupervisionComponent,
    ReportComponent,
]


class Daemon:
    """The running daemon: store, components and the job loop."""

    def __init__(
        self,
        loaded: LoadedSettings,
        embedded: EmbeddedEndpoints | None = None,
        aws: AwsClients | None = None,
        notifier: Notifier | None = None,
        factories: list[ComponentFactory] | None = None,
        *,
        services: SharedServices | None = None,
    ) -> None:
        settings = loaded.settings
        self.settings = settings
        self.state_dir = settings.resolved_state_dir()
        self.notifier = notifier or Notifier.from_environment()
        self.store = open_store(settings.resolved_database_url())
        self.context = DaemonContext(
            settings=settings,
            store=self.store,
            state_dir=self.state_dir,
            aws=aws or AwsClients(settings.aws),
            slack=SlackClients(settings.slack),
            embedded=embedded,
            services=services or SharedServices(),
        )
        self.components = [factory(self.context) for factory in (factories or COMPONENT_FACTORIES)]
        self.loop = JobLoop(
            self.store,
            self.notifier,
            heartbeat_interval=settings.daemon.heartbeat_interval,
            stall_timeout=settings.daemon.stall_timeout,
            status_line=self.status_line,
        )
        self.run_id: int | None = None
        self._job_count = 0
        self.started_at: datetime | None = None

    def status_line(self) -> str:
        """Return the one-line status shown by ``systemctl status``."""
        mode = "embedded" if self.context.embedded else "production"
        # A count kept at start, not scheduler.get_jobs(): the heartbeat job calls this,
        # and get_jobs() waits for the job store lock that shutdown() holds while it
        # waits for running jobs, which deadlocks a stop that meets a heartbeat.
        return f"running ({mode}); {self._job_count} jobs scheduled"

    def start(self) -> None:
        """Record this run, start every component and then the job loop."""
        self.started_at = utc_now()
        with self.store.session() as session:
            run = DaemonRun(
                pid=os.getpid(),
                host_name=self.settings.host_name,
                started_at=self.started_at,
                embedded=self.context.embedded is not None,
                endpoints=self.context.embedded.as_dict() if self.context.embedded else {},
                status_line="starting",
            )
            session.add(run)
            session.flush()
            self.run_id = run.id

        for component in self.components:
            component.start()
            for spec in component.jobs():
                self.loop.add(spec)
                self._job_count += 1
            logger.info("component %s started", component.name)
        self.loop.start()

    def run(self, stop: threading.Event, duration: timedelta | None = None) -> None:
        """Block until ``stop`` is set or ``duration`` has passed."""
        timeout = duration.total_seconds() if duration is not None else None
        stop.wait(timeout)

    def stop(self) -> bool:
        """Stop the loop within the shutdown timeout, then the components; return whether it was clean."""
        clean = self.loop.stop(self.settings.daemon.shutdown_timeout)
        for component in reversed(self.components):
            try:
                component.stop()
            except Exception:
                logger.exception("stopping component %s failed", component.name)
        try:
            with self.store.session() as session:
                run = session.get(DaemonRun, self.run_id)
                if run is not None:
                    run.stopped_at = utc_now()
                    run.status_line = "stopped"
        except SQLAlchemyError as exc:
            logger.warning("recording the daemon's stop failed: %s", exc)
        self.store.close()
        self.notifier.close()
        logger.info("daemon stopped")
        return clean
