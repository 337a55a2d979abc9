"""The supervision component: builds the supervisor (or attach-mode watcher) and its job.

It sets ``context.services.worker`` when it is built, so components built
after it can find the worker, and sends its alerts to whatever
``context.services.alert_sink`` is at the time of each alert.
"""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from watchdog.alerts.events import AlertEvent
from watchdog.config.supervision import MemorySettings, SupervisionSettings
from watchdog.errors import ConfigError
from watchdog.scheduler import JobSpec, utc_now
from watchdog.supervision.alerts import ALL_RULES, AlertEpisodes
from watchdog.supervision.attach import (
    AttachedWorker,
    PidSource,
    pid_from_file,
    pid_from_systemd_unit,
)
from watchdog.supervision.cgroups import CgroupError, MemoryCgroup, own_memory_cgroup
from watchdog.supervision.health import HealthProbe
from watchdog.supervision.policy import resolve_hard_limit
from watchdog.supervision.process import become_subreaper, kill_leftover_worker
from watchdog.supervision.recorder import RestartOutcome, SupervisionRecorder
from watchdog.supervision.supervisor import Placement, Supervisor

if TYPE_CHECKING:
    from watchdog.daemon import DaemonContext

logger = logging.getLogger(__name__)

JOB_ID = "worker-supervision"
PID_FILE_NAME = "worker.pid"
# The worker cgroup's name without its state-directory suffix.
WORKER_CGROUP_PREFIX = "inference-watchdog-worker-"


def reference_worker_command() -> list[str]:
    """Return the command line of the bundled reference worker, run by this Python."""
    return [
        sys.executable,
        "-m",
        "watchdog.worker",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
    ]


def cgroup_at(path: Path) -> MemoryCgroup:
    """Return the cgroup at ``path``; a ``cgroup.controllers`` file marks cgroup v2."""
    return MemoryCgroup(path, 2 if (path / "cgroup.controllers").exists() else 1)


def worker_cgroup_name(memory: MemorySettings, state_dir: Path) -> str:
    """Return the directory name of the worker's cgroup: the setting, else one per state directory."""
    if memory.cgroup_name is not None:
        return memory.cgroup_name
    digest = hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()
    return f"{WORKER_CGROUP_PREFIX}{digest[:8]}"


def prepare_placement(
    memory: MemorySettings, own: MemoryCgroup | None, hard_limit: int | None, name: str
) -> Placement:
    """Create the worker's memory cgroup ``name`` where allowed; else run it in the daemon's cgroup."""
    fallback = Placement(worker_cgroup=None, oom_cgroup=own, hard_limit=hard_limit)
    if memory.cgroup == "off":
        return fallback
    parent = cgroup_at(memory.cgroup_parent) if memory.cgroup_parent is not None else own
    if parent is None:
        logger.info("no memory cgroup found; the worker's memory is read from /proc")
        return fallback
    try:
        worker_cgroup = parent.create_child(name)
        _kill_stale_processes(worker_cgroup)
        if hard_limit is not None:
            # NOTE: only RAM is limited; on a host with swap the worker may swap
            # (memory.swap.max, memory.memsw.limit_in_bytes) before it is OOM-killed.
            worker_cgroup.set_limit(hard_limit)
    except CgroupError as exc:
        logger.warning("%s; the worker runs in the daemon's cgroup with no memory limit of its own", exc)
        return fallback
    limit = f"limit {hard_limit} bytes" if hard_limit is not None else "no limit"
    logger.info("worker cgroup %s (%s)", worker_cgroup.path, limit)
    return Placement(worker_cgroup=worker_cgroup, oom_cgroup=worker_cgroup, hard_limit=hard_limit)


def _kill_stale_processes(cgroup: MemoryCgroup) -> None:
    stale = cgroup.processes()
    if not stale:
        return
    logger.warning("killing processes %s left in %s by an earlier daemon run", stale, cgroup.path)
    for pid in stale:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue


class SupervisionComponent:
    """Runs the worker (spawn mode) or watches it (attach mode) from one scheduler job."""

    name = "supervision"

    def __init__(self, context: DaemonContext) -> None:
        self._context = context
        settings = context.settings.supervision
        self._settings = settings
        self._probe = HealthProbe()
        self._recorder = SupervisionRecorder(context.store)
        self._placement: Placement | None = None
        labels = {"service": context.settings.service_name, "host": context.settings.host_name}
        alerts = AlertEpisodes(self._emit, labels, carried_over=ALL_RULES)

        self._own_cgroup: MemoryCgroup | None = None
        self._hard_limit: int | None = None
        self.runner: Supervisor | AttachedWorker | None = None
        if settings.mode == "spawn":
            self._own_cgroup = own_memory_cgroup()
            self._hard_limit = _hard_limit(settings, self._own_cgroup)
            self.runner = Supervisor(
                settings,
                command=settings.command or reference_worker_command(),
                environ=os.environ,
                recorder=self._recorder,
                alerts=alerts,
                probe=self._probe,
                pid_file=context.state_dir / PID_FILE_NAME,
                wall_clock=context.now,
            )
        elif settings.mode == "attach":
            self.runner = AttachedWorker(
                settings,
                recorder=self._recorder,
                alerts=alerts,
                probe=self._probe,
                pid_source=_pid_source(settings),
                wall_clock=context.now,
            )
        context.services.worker = self.runner

    def jobs(self) -> list[JobSpec]:
        """Return the supervision tick, or nothing when supervision is off."""
        if self.runner is None:
            return []
        return [
            JobSpec(
                JOB_ID,
                self.runner.tick,
                "interval",
                {
                    "seconds": self._settings.tick_interval.total_seconds(),
                    "next_run_time": utc_now(),
                },
                description="supervise the inference worker",
                misfire_grace_time=5,
                # Runs every tick_interval; its transitions are in worker_events.
                record=False,
            )
        ]

    def start(self) -> None:
        """Start the worker (spawn mode) or begin watching it (attach mode)."""
        self._expire_old_requests()
        if isinstance(self.runner, AttachedWorker):
            self.runner.start()
            return
        if self.runner is None:
            logger.info("worker supervision is off")
            return

        become_subreaper()
        leftover = kill_leftover_worker(self._context.state_dir / PID_FILE_NAME)
        if leftover is not None:
            logger.warning("killed worker %d left running by an earlier daemon run", leftover)
        name = worker_cgroup_name(self._settings.memory, self._context.state_dir)
        self._placement = prepare_placement(self._settings.memory, self._own_cgroup, self._hard_limit, name)
        self.runner.start(self._placement)

    def stop(self) -> None:
        """Stop the worker (spawn mode) and remove its cgroup."""
        try:
            if self.runner is not None:
                self.runner.shutdown()
            placement = self._placement
            if placement is not None and placement.worker_cgroup is not None:
                placement.worker_cgroup.remove()
        finally:
            self._probe.close()

    def _emit(self, event: AlertEvent) -> None:
        try:
            self._context.services.alert_sink.emit(event)
        except Exception:
            # Any error at all, because a failing alert engine must not stop supervision.
            logger.exception("emitting alert %s (%s) failed", event.rule, event.state)

    def _expire_old_requests(self) -> None:
        pending = self._recorder.pending_requests()
        if pending:
            self._recorder.finish_requests(
                [request.id for request in pending],
                RestartOutcome(False, "superseded: the daemon started after this request"),
                self._context.now(),
            )


def _hard_limit(settings: SupervisionSettings, own: MemoryCgroup | None) -> int | None:
    memory = settings.memory
    try:
        return resolve_hard_limit(memory.limit, memory.limit_share, own.limit() if own else None)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def _pid_source(settings: SupervisionSettings) -> PidSource | None:
    pid_file = settings.pid_file
    if pid_file is not None:
        return lambda: pid_from_file(pid_file)
    unit = settings.systemd_unit
    if unit is not None:
        return lambda: pid_from_systemd_unit(unit)
    return None
