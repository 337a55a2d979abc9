"""Attach mode: watch a worker that something else started (systemd, Docker, a shell).

The daemon only checks health and gives the metrics scraper the
``/metrics`` URL; it never signals the worker. It raises ``worker_down`` after
K consecutive failed checks, or at once when a worker seen healthy loses its
process (from a PID file or a systemd unit), and resolves it when the worker
is healthy again. A missing process before the first healthy check counts as
one failed check, since the worker may still be starting.
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import psutil

from watchdog.config.supervision import SupervisionSettings
from watchdog.scheduler import utc_now
from watchdog.supervision.alerts import RULE_DOWN, AlertEpisodes
from watchdog.supervision.health import HealthProbe, HealthResult
from watchdog.supervision.recorder import (
    RestartOutcome,
    StatusSnapshot,
    SupervisionRecorder,
    Transition,
)
from watchdog.supervision.states import ATTACH_TRANSITIONS, WorkerState, check_transition

logger = logging.getLogger(__name__)

PidSource = Callable[[], int | None]


def pid_from_file(path: Path) -> int | None:
    """Return the process id in ``path``, or None when the file is missing or not a number."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def pid_from_systemd_unit(unit: str) -> int | None:
    """Return the main process id of ``unit`` from ``systemctl show``, or None when it has none."""
    try:
        completed = subprocess.run(
            ["systemctl", "show", "--property=MainPID", "--value", unit],  # noqa: S607 - systemctl from PATH
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        logger.warning("reading the main PID of %s failed: %s", unit, exc)
        return None
    text = completed.stdout.strip()
    # systemd reports 0 for a unit without a running main process.
    return int(text) if text.isdigit() and text != "0" else None


class AttachedWorker:
    """Watches a worker started elsewhere; implements ``WorkerHandle``."""

    mode = "attach"

    def __init__(
        self,
        settings: SupervisionSettings,
        *,
        recorder: SupervisionRecorder | None,
        alerts: AlertEpisodes,
        probe: HealthProbe,
        pid_source: PidSource | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._settings = settings
        self._recorder = recorder
        self._alerts = alerts
        self._probe = probe
        self._pid_source = pid_source
        self._clock = clock
        self._wall_clock = wall_clock
        self._health_url = settings.resolve_url(settings.health_url, "/healthz", settings.port)
        self._metrics_url: str | None = None
        if settings.metrics_url is not None or settings.port:
            self._metrics_url = settings.resolve_url(settings.metrics_url, "/metrics", settings.port)
        self._state = WorkerState.STARTING
        self._pid: int | None = None
        self._failures = 0
        self._next_check_at = 0.0
        self._up_since: datetime | None = None
        self._returns = 0

    @property
    def pid(self) -> int | None:
        """The worker's process id from the PID file or systemd unit, if one is configured."""
        return self._pid

    @property
    def is_up(self) -> bool:
        """Whether the last health check passed."""
        return self._state is WorkerState.RUNNING and self._failures == 0

    @property
    def started_at(self) -> datetime | None:
        """When the worker was first seen healthy since it was last down."""
        return self._up_since

    @property
    def metrics_url(self) -> str | None:
        """The worker's ``/metrics`` URL."""
        return self._metrics_url

    @property
    def state(self) -> WorkerState:
        """STARTING until the first check, then RUNNING (healthy) or STOPPED (down)."""
        return self._state

    def start(self) -> None:
        """Log what is watched; the first check runs on the first tick."""
        logger.info("attached to the worker at %s", self._health_url)

    def tick(self) -> None:
        """Check the worker if a check is due."""
        now = self._clock()
        if now < self._next_check_at:
            return
        self._next_check_at = now + self._settings.health.interval.total_seconds()
        self._reject_restart_requests()

        previous_pid = self._pid
        process_gone = False
        if self._pid_source is not None:
            self._pid = self._pid_source()
            process_gone = self._pid is None or not psutil.pid_exists(self._pid)
        if previous_pid is not None and self._pid is not None and self._pid != previous_pid:
            logger.info("worker process changed from %d to %d", previous_pid, self._pid)

        if process_gone and self._state is WorkerState.RUNNING:
            # A process seen healthy that is gone now is down without doubt.
            self._failures = self._settings.health.failures
            self._mark_down(f"process {self._pid or '(no PID)'} is not running")
            return
        if process_gone:
            result = HealthResult(False, f"process {self._pid or '(no PID)'} is not running")
        else:
            timeout = self._settings.health.timeout.total_seconds()
            result = self._probe.check(self._health_url, timeout)
        if result.ok:
            self._failures = 0
            self._mark_up()
            return
        self._failures += 1
        logger.warning(
            "worker health check failed (%d of %d): %s",
            self._failures,
            self._settings.health.failures,
            result.detail,
        )
        if self._failures >= self._settings.health.failures:
            self._mark_down(f"{self._failures} consecutive health checks failed: {result.detail}")

    def request_restart(self, source: str) -> RestartOutcome:
        """Decline: in attach mode the worker belongs to whatever started it."""
        return RestartOutcome(
            False,
            f"not restarted ({source}): in attach mode the daemon does not control the worker; "
            "restart it with the tool that started it",
        )

    def shutdown(self) -> None:
        """Nothing to stop: the worker keeps running without the daemon."""
        return None

    def _mark_up(self) -> None:
        if self._state is WorkerState.RUNNING:
            return
        if self._state is WorkerState.STOPPED:
            self._returns += 1
        self._up_since = self._wall_clock()
        # STARTING -> RUNNING, STOPPED -> RUNNING
        self._transition(WorkerState.RUNNING, "up", f"healthy at {self._health_url}")
        self._alerts.resolve(RULE_DOWN, "the worker is healthy again", self._wall_clock())

    def _mark_down(self, detail: str) -> None:
        if self._state is WorkerState.STOPPED:
            return
        self._up_since = None
        # STARTING -> STOPPED, RUNNING -> STOPPED
        self._transition(WorkerState.STOPPED, "down", detail)
        self._alerts.fire(RULE_DOWN, f"worker down: {detail}", self._wall_clock())

    def _transition(self, target: WorkerState, reason: str, detail: str) -> None:
        previous = self._state
        check_transition(previous, target, ATTACH_TRANSITIONS)
        self._state = target
        log = logger.warning if target is WorkerState.STOPPED else logger.info
        log("worker %s -> %s (%s: %s)", previous.name, target.name, reason, detail)
        if self._recorder is None:
            return
        at = self._wall_clock()
        self._recorder.record(
            Transition(at, str(previous), str(target), reason, self._pid, detail),
            StatusSnapshot(
                mode=self.mode,
                state=str(target),
                pid=self._pid,
                restarts=self._returns,
                ready_at=self._up_since,
                next_start_at=None,
                health_url=self._health_url,
                metrics_url=self._metrics_url,
                last_exit=None,
                last_exit_at=None,
            ),
        )

    def _reject_restart_requests(self) -> None:
        if self._recorder is None:
            return
        requests = self._recorder.pending_requests()
        if requests:
            outcome = self.request_restart(", ".join(f"request {r.id}" for r in requests))
            logger.warning("%s", outcome.message)
            self._recorder.finish_requests([r.id for r in requests], outcome, self._wall_clock())
