"""Spawn mode: the daemon runs the worker as its child and keeps it alive.

``Supervisor.tick`` is the whole control loop. The daemon's scheduler calls
it every ``tick_interval``; it never sleeps. A backoff is a ``next_start_at``
on the monotonic clock that a later tick acts on, and a stop is a SIGTERM
now and a SIGKILL deadline that a later tick checks. Only ``shutdown``, run
once on the daemon's own shutdown, waits for the worker to go.

Log lines follow supervisord's: ``exited: worker (exit status 1; not
expected)`` at WARNING, and at INFO when the supervisor caused the exit.
"""

from __future__ import annotations

import logging
import random
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from watchdog.config.supervision import SupervisionSettings
from watchdog.errors import WorkerError
from watchdog.scheduler import utc_now
from watchdog.supervision.alerts import (
    RULE_CRASH_LOOP,
    RULE_DOWN,
    RULE_FATAL,
    RULE_MEMORY,
    AlertEpisodes,
)
from watchdog.supervision.cgroups import MemoryCgroup
from watchdog.supervision.exits import WorkerExit, classify_exit, format_bytes, lost_exit
from watchdog.supervision.health import HealthProbe
from watchdog.supervision.memory import MemoryReader
from watchdog.supervision.policy import (
    BackoffPolicy,
    MemoryBudget,
    assess_memory,
    backoff_delay,
    is_crash_loop,
    recent_failures,
)
from watchdog.supervision.process import (
    WorkerProcess,
    free_port,
    spawn_worker,
    worker_environment,
    write_pid_file,
)
from watchdog.supervision.recorder import (
    RestartOutcome,
    StatusSnapshot,
    SupervisionRecorder,
    Transition,
)
from watchdog.supervision.states import WorkerState, check_transition

logger = logging.getLogger(__name__)

# How often the tick looks for ``worker restart`` requests in the database; a
# query on every tick would cost more than the rest of the tick.
REQUEST_POLL_SECONDS = 1.0

# How long to wait after SIGKILL before giving up on processes that do not go
# (a process in uninterruptible sleep ignores even SIGKILL until its I/O ends).
SIGKILL_WAIT_SECONDS = 5.0


@dataclass(frozen=True)
class Placement:
    """The worker's placement: its own memory cgroup (if any) and the limits that apply."""

    worker_cgroup: MemoryCgroup | None
    # Whose oom_kill counter classifies exits: the worker's cgroup, else the daemon's.
    oom_cgroup: MemoryCgroup | None
    hard_limit: int | None


class Supervisor:
    """The worker's state machine in spawn mode; implements ``WorkerHandle``."""

    mode = "spawn"

    def __init__(
        self,
        settings: SupervisionSettings,
        *,
        command: list[str],
        environ: Mapping[str, str],
        recorder: SupervisionRecorder | None,
        alerts: AlertEpisodes,
        probe: HealthProbe,
        pid_file: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = utc_now,
        rng: random.Random | None = None,
    ) -> None:
        self._settings = settings
        self._command = command
        self._environ = worker_environment(environ, settings.environment)
        self._recorder = recorder
        self._alerts = alerts
        self._probe = probe
        self._pid_file = pid_file
        self._clock = clock
        self._wall_clock = wall_clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._policy = BackoffPolicy.from_settings(settings.restart)
        self._lock = threading.RLock()

        self._placement = Placement(None, None, None)
        self._budget: MemoryBudget | None = None
        self._memory_reader = MemoryReader(None)

        self._state = WorkerState.STOPPED
        self._process: WorkerProcess | None = None
        self._health_url: str | None = None
        self._metrics_url: str | None = None
        self._spawns = 0
        self._spawned_at = 0.0
        self._ready_at: datetime | None = None
        self._ready_monotonic = 0.0
        self._oom_kills_at_spawn: int | None = None

        self._failures = 0
        self._failure_times: list[float] = []
        self._next_start_at: float | None = None
        self._next_start_wall: datetime | None = None
        self._in_cooloff = False

        self._health_failures = 0
        # Wall-clock start of the first check in the current run of failed checks.
        self._first_failed_check_at: datetime | None = None
        self._next_health_at = 0.0
        self._next_memory_at = 0.0
        self._over_soft = 0
        self._last_memory: int | None = None

        self._stop_reason = ""
        self._stop_detail = ""
        self._stop_deadline = 0.0
        self._sigkill_sent = False
        self._after_stop = WorkerState.STOPPED

        self._last_exit: WorkerExit | None = None
        self._last_exit_at: datetime | None = None
        self._last_spawn_error = ""
        self._next_request_poll_at = 0.0

    # WorkerHandle

    @property
    def pid(self) -> int | None:
        """The worker's process id while a process runs, else None."""
        process = self._process
        if process is None or process.popen.returncode is not None:
            return None
        return process.pid

    @property
    def is_up(self) -> bool:
        """Whether the worker is RUNNING and passed its last health check."""
        return self._state is WorkerState.RUNNING and self._health_failures == 0

    @property
    def started_at(self) -> datetime | None:
        """When the current worker process became ready."""
        return self._ready_at if self._state is WorkerState.RUNNING else None

    @property
    def metrics_url(self) -> str | None:
        """The current worker's ``/metrics`` URL, or None before the first start."""
        return self._metrics_url

    # What status and tests read

    @property
    def state(self) -> WorkerState:
        """The current state."""
        return self._state

    @property
    def restarts(self) -> int:
        """How many times the worker was started again since the daemon started."""
        return max(0, self._spawns - 1)

    @property
    def last_exit(self) -> WorkerExit | None:
        """The classification of the last worker exit."""
        return self._last_exit

    @property
    def last_memory(self) -> int | None:
        """The last memory reading of the worker, in bytes."""
        return self._last_memory

    # Control

    def start(self, placement: Placement) -> None:
        """Start the worker for the first time, in ``placement``."""
        with self._lock:
            self._placement = placement
            self._memory_reader = MemoryReader(placement.worker_cgroup)
            if placement.hard_limit is not None:
                memory = self._settings.memory
                self._budget = MemoryBudget(
                    hard_limit=placement.hard_limit,
                    soft_limit=int(placement.hard_limit * memory.soft_limit_ratio),
                    samples=memory.samples,
                )
            # STOPPED -> STARTING
            self._spawn("start", "daemon started")

    def tick(self) -> None:
        """Advance the state machine by one step.

        The scheduler calls this every ``tick_interval``. It waits for at most
        one health check (``health.timeout``) and never for a backoff.
        """
        with self._lock:
            self._handle_restart_requests()
            state = self._state
            if state is WorkerState.STARTING:
                self._tick_starting()
            elif state is WorkerState.RUNNING:
                self._tick_running()
            elif state is WorkerState.STOPPING:
                self._tick_stopping()
            elif state is WorkerState.BACKOFF:
                self._tick_backoff()

    def request_restart(self, source: str) -> RestartOutcome:
        """Start the worker again now, ending any backoff or cool-off; return what was done."""
        with self._lock:
            self._failures = 0
            self._failure_times.clear()
            state = self._state
            detail = f"requested by {source}"
            if state in (WorkerState.STARTING, WorkerState.RUNNING):
                pid = self.pid
                # RUNNING/STARTING -> STOPPING, then STOPPING -> STARTING once it is gone
                self._begin_stop("manual", detail, then=WorkerState.STARTING)
                return RestartOutcome(True, f"restarting: stopping pid {pid} (was {state})")
            if state is WorkerState.STOPPING:
                self._after_stop = WorkerState.STARTING
                return RestartOutcome(
                    True, "restarting: the worker is stopping and starts again once it is gone"
                )
            # BACKOFF -> STARTING, FATAL -> STARTING, STOPPED -> STARTING
            self._spawn("manual", detail)
            if self._state is WorkerState.FATAL:
                return RestartOutcome(False, f"start failed: {self._last_spawn_error}")
            return RestartOutcome(True, f"started pid {self.pid} (was {state})")

    def shutdown(self) -> None:
        """Stop the worker and wait until all its processes are gone; used on daemon shutdown."""
        with self._lock:
            state = self._state
            if state in (WorkerState.STARTING, WorkerState.RUNNING):
                # RUNNING -> STOPPING, STARTING -> STOPPING
                self._begin_stop("shutdown", "daemon stopping", then=WorkerState.STOPPED)
            elif state is WorkerState.STOPPING:
                self._after_stop = WorkerState.STOPPED
            elif state in (WorkerState.BACKOFF, WorkerState.FATAL):
                # BACKOFF -> STOPPED, FATAL -> STOPPED
                self._transition(WorkerState.STOPPED, "shutdown", "daemon stopping")
            # Shutdown runs on the main thread after the scheduler stopped, so it may wait.
            while self._state is WorkerState.STOPPING:
                self._tick_stopping()
                if self._state is WorkerState.STOPPING:
                    time.sleep(0.05)
            self._wait_for_leftovers()
            if self._pid_file is not None:
                self._pid_file.unlink(missing_ok=True)

    # States

    def _tick_starting(self) -> None:
        process = self._require_process()
        returncode = process.poll()
        if returncode is not None:
            self._on_unexpected_exit(returncode)
            return
        if self._sample_memory():
            return

        result = self._probe.check(self._require_health_url(), self._health_timeout)
        now = self._clock()
        if result.ok:
            self._ready_monotonic = now
            self._ready_at = self._wall_clock()
            self._health_failures = 0
            self._next_health_at = now + self._settings.health.interval.total_seconds()
            elapsed = now - self._spawned_at
            logger.info("success: worker entered RUNNING state, health check passed after %.2fs", elapsed)
            # STARTING -> RUNNING
            self._transition(WorkerState.RUNNING, "ready", f"healthy after {elapsed:.2f}s")
            at = self._wall_clock()
            self._alerts.resolve(RULE_DOWN, "the worker is ready again", at)
            self._alerts.resolve(RULE_MEMORY, "the restarted worker is ready", at)
            self._alerts.resolve(RULE_FATAL, "the worker started and is ready", at)
            return

        startup_timeout = self._settings.health.startup_timeout.total_seconds()
        if now - self._spawned_at >= startup_timeout:
            detail = f"not healthy after {startup_timeout:g}s (last check: {result.detail})"
            self._alerts.fire(RULE_DOWN, f"worker missed its start-up timeout: {detail}", self._wall_clock())
            # STARTING -> STOPPING
            self._begin_stop("startup_timeout", detail, then=WorkerState.BACKOFF)

    def _tick_running(self) -> None:
        process = self._require_process()
        returncode = process.poll()
        if returncode is not None:
            self._on_unexpected_exit(returncode)
            return
        if self._sample_memory():
            return

        now = self._clock()
        if now - self._ready_monotonic >= self._stable_after:
            if self._failures:
                logger.info(
                    "worker stable for %.0fs; backoff starts again from %gs",
                    self._stable_after,
                    self._policy.initial,
                )
                self._failures = 0
            self._alerts.resolve(RULE_CRASH_LOOP, "the worker has been ready and stable", self._wall_clock())

        if now < self._next_health_at:
            return
        self._next_health_at = now + self._settings.health.interval.total_seconds()
        checked_at = self._wall_clock()
        result = self._probe.check(self._require_health_url(), self._health_timeout)
        if result.ok:
            if self._health_failures:
                logger.info("worker health check passed again after %d failures", self._health_failures)
            self._health_failures = 0
            return

        if self._health_failures == 0:
            self._first_failed_check_at = checked_at
        self._health_failures += 1
        limit = self._settings.health.failures
        logger.warning(
            "worker health check failed (%d of %d): %s", self._health_failures, limit, result.detail
        )
        if self._health_failures >= limit:
            detail = f"{limit} consecutive health checks failed, the last: {result.detail}"
            self._alerts.fire(RULE_DOWN, f"worker hangs: {detail}", self._wall_clock())
            # RUNNING -> STOPPING, dated from the first failed check: the worker stopped
            # serving then, and uptime figures read the transition's time.
            self._begin_stop("hang", detail, then=WorkerState.BACKOFF, at=self._first_failed_check_at)

    def _tick_stopping(self) -> None:
        process = self._require_process()
        process.poll()
        leftovers = process.leftovers()
        now = self._clock()
        if leftovers and now >= self._stop_deadline and not self._sigkill_sent:
            logger.warning(
                "worker processes %s still running %.0fs after SIGTERM; sending SIGKILL",
                leftovers,
                self._settings.stop_timeout.total_seconds(),
            )
            process.signal_all(signal.SIGKILL)
            self._sigkill_sent = True
            return
        if leftovers and self._sigkill_sent and now >= self._stop_deadline + SIGKILL_WAIT_SECONDS:
            logger.error(
                "worker processes %s survived SIGKILL for %.0fs (uninterruptible sleep?); "
                "carrying on without them",
                leftovers,
                SIGKILL_WAIT_SECONDS,
            )
        elif leftovers or process.popen.returncode is None:
            return
        self._finish_stop(process)

    def _tick_backoff(self) -> None:
        if self._next_start_at is None or self._clock() < self._next_start_at:
            return
        if self._process is not None:
            leftovers = self._process.leftovers()
            if leftovers:
                self._process.signal_all(signal.SIGKILL)
                logger.warning("worker processes %s still present; start postponed", leftovers)
                return
        reason = "cooloff_over" if self._in_cooloff else "restart"
        # BACKOFF -> STARTING
        self._spawn(reason, f"restart {self.restarts + 1} after backoff")

    # Steps

    def _spawn(self, reason: str, detail: str) -> None:
        settings = self._settings
        port = settings.port or free_port()
        argv = [argument.replace("{port}", str(port)) for argument in self._command]
        self._health_url = settings.resolve_url(settings.health_url, "/healthz", port)
        self._metrics_url = settings.resolve_url(settings.metrics_url, "/metrics", port)
        self._next_start_at = None
        self._next_start_wall = None
        self._in_cooloff = False
        try:
            process = spawn_worker(
                argv, self._environ, settings.working_directory, self._placement.worker_cgroup
            )
        except WorkerError as exc:
            self._last_spawn_error = str(exc)
            self._process = None
            # STOPPED/BACKOFF/FATAL/STOPPING -> STARTING, then STARTING -> FATAL
            if self._state is not WorkerState.STARTING:
                self._transition(WorkerState.STARTING, reason, detail)
            logger.error("spawnerr: %s", exc)
            self._transition(WorkerState.FATAL, "spawn_failed", str(exc))
            self._alerts.fire(
                RULE_FATAL,
                f"the worker cannot be started: {exc}. Fix it, then run 'inference-watchdog worker restart'.",
                self._wall_clock(),
            )
            return

        self._process = process
        self._spawns += 1
        self._spawned_at = self._clock()
        self._health_failures = 0
        self._over_soft = 0
        self._next_memory_at = self._spawned_at
        self._sigkill_sent = False
        oom_cgroup = self._placement.oom_cgroup
        self._oom_kills_at_spawn = oom_cgroup.oom_kills() if oom_cgroup else None
        if self._pid_file is not None:
            write_pid_file(self._pid_file, process.pid)
        logger.info("spawned: worker with pid %d (port %d)", process.pid, port)
        # STOPPED/BACKOFF/FATAL/STOPPING -> STARTING
        self._transition(WorkerState.STARTING, reason, detail)

    def _on_unexpected_exit(self, returncode: int) -> None:
        process = self._require_process()
        worker_exit = self._classify(process, returncode)
        logger.warning("exited: worker (%s; not expected)", worker_exit.description)
        leftovers = process.leftovers()
        if leftovers:
            logger.warning("killing processes %s that the worker left behind", leftovers)
            process.signal_all(signal.SIGKILL)
        self._alerts.fire(
            RULE_DOWN,
            f"worker exited: {worker_exit.description}",
            self._wall_clock(),
            {"exit": worker_exit.description, "restarts": str(self.restarts)},
        )
        # STARTING -> BACKOFF, RUNNING -> BACKOFF
        self._schedule_restart("exit", worker_exit.description, worker_exit)

    def _begin_stop(
        self, reason: str, detail: str, then: WorkerState, at: datetime | None = None
    ) -> None:
        process = self._require_process()
        self._stop_reason = reason
        self._stop_detail = detail
        self._after_stop = then
        self._sigkill_sent = False
        self._stop_deadline = self._clock() + self._settings.stop_timeout.total_seconds()
        self._transition(WorkerState.STOPPING, reason, detail, at=at)
        process.signal_all(signal.SIGTERM)

    def _finish_stop(self, process: WorkerProcess) -> None:
        returncode = process.popen.returncode
        if returncode is None:
            worker_exit = lost_exit(SIGKILL_WAIT_SECONDS)
        else:
            worker_exit = self._classify(process, returncode)
        logger.info("exited: worker (%s; expected)", worker_exit.description)
        after = self._after_stop
        if after is WorkerState.BACKOFF:
            # STOPPING -> BACKOFF
            self._schedule_restart(self._stop_reason, self._stop_detail, worker_exit)
        elif after is WorkerState.STARTING:
            self._record_exit(worker_exit)
            # STOPPING -> STARTING
            self._spawn(self._stop_reason, self._stop_detail)
        else:
            self._record_exit(worker_exit)
            # STOPPING -> STOPPED
            self._transition(WorkerState.STOPPED, self._stop_reason, worker_exit.description, worker_exit)

    def _schedule_restart(self, reason: str, detail: str, worker_exit: WorkerExit) -> None:
        self._record_exit(worker_exit)
        now = self._clock()
        restart = self._settings.restart
        window = restart.crash_loop_window.total_seconds()
        self._failures += 1
        self._failure_times = [*recent_failures(self._failure_times, now, window), now]

        if is_crash_loop(self._failure_times, now, window, restart.crash_loop_restarts):
            delay = restart.crash_loop_cooloff.total_seconds()
            count = len(self._failure_times)
            self._failure_times.clear()
            summary = (
                f"worker crash loop: {count} failures within {window:g}s, the last: {detail}. "
                f"Restarts stop for {delay:g}s; 'inference-watchdog worker restart' starts it now."
            )
            logger.error("%s", summary)
            self._alerts.fire(
                RULE_CRASH_LOOP,
                summary,
                self._wall_clock(),
                {"failures": str(count), "last_exit": worker_exit.description},
            )
            reason = "crash_loop"
            self._in_cooloff = True
        else:
            delay = backoff_delay(self._policy, self._failures, self._rng.random())

        self._next_start_at = now + delay
        self._next_start_wall = self._wall_clock() + timedelta(seconds=delay)
        self._transition(WorkerState.BACKOFF, reason, detail, worker_exit, delay_seconds=round(delay, 3))

    def _sample_memory(self) -> bool:
        """Take a memory reading if one is due; return whether it started a memory restart."""
        now = self._clock()
        if now < self._next_memory_at:
            return False
        self._next_memory_at = now + self._settings.memory.interval.total_seconds()
        process = self._require_process()
        reading = self._memory_reader.read(process.pid)
        if reading is None:
            return False
        process.remember(reading.pids)
        self._last_memory = reading.bytes
        if self._budget is None:
            return False

        self._over_soft, action = assess_memory(self._budget, reading.bytes, self._over_soft)
        if action == "none":
            return False
        if action == "hard":
            detail = (
                f"memory {format_bytes(reading.bytes)} reached the hard limit "
                f"{format_bytes(self._budget.hard_limit)}"
            )
        else:
            detail = (
                f"memory {format_bytes(reading.bytes)} above the soft limit "
                f"{format_bytes(self._budget.soft_limit)} for {self._over_soft} readings"
            )
        self._alerts.fire(
            RULE_MEMORY,
            f"worker over its memory budget, restarting it: {detail}",
            self._wall_clock(),
            {"memory_bytes": str(reading.bytes), "source": reading.source},
        )
        # RUNNING -> STOPPING, STARTING -> STOPPING
        self._begin_stop("memory", detail, then=WorkerState.BACKOFF)
        if action == "hard":
            # Past the budget there is no time for a graceful stop: without a
            # cgroup limit nothing else keeps the worker from growing further.
            process.signal_all(signal.SIGKILL)
            self._sigkill_sent = True
        return True

    def _classify(self, process: WorkerProcess, returncode: int) -> WorkerExit:
        oom_cgroup = self._placement.oom_cgroup
        return classify_exit(
            returncode,
            oom_kills_before=self._oom_kills_at_spawn,
            oom_kills_after=oom_cgroup.oom_kills() if oom_cgroup else None,
            sent_sigkill=self._sigkill_sent,
            last_memory=self._last_memory,
        )

    def _wait_for_leftovers(self) -> None:
        process = self._process
        if process is None:
            return
        deadline = self._clock() + SIGKILL_WAIT_SECONDS
        leftovers = process.leftovers()
        while leftovers and self._clock() < deadline:
            process.signal_all(signal.SIGKILL)
            time.sleep(0.05)
            leftovers = process.leftovers()
        if leftovers:
            logger.error("worker processes %s survived SIGKILL at shutdown", leftovers)

    def _record_exit(self, worker_exit: WorkerExit) -> None:
        self._last_exit = worker_exit
        self._last_exit_at = self._wall_clock()

    def _transition(
        self,
        target: WorkerState,
        reason: str,
        detail: str,
        worker_exit: WorkerExit | None = None,
        delay_seconds: float | None = None,
        *,
        at: datetime | None = None,
    ) -> None:
        previous = self._state
        check_transition(previous, target)
        self._state = target
        if target is not WorkerState.RUNNING:
            self._ready_at = None
        logger.info("worker %s -> %s (%s: %s)", previous.name, target.name, reason, detail)
        if self._recorder is None:
            return
        process = self._process
        self._recorder.record(
            Transition(
                at=at or self._wall_clock(),
                from_state=str(previous),
                to_state=str(target),
                reason=reason,
                pid=process.pid if process is not None else None,
                detail=detail,
                exit=worker_exit,
                memory_bytes=self._last_memory,
                delay_seconds=delay_seconds,
            ),
            self._snapshot(),
        )

    def _snapshot(self) -> StatusSnapshot:
        return StatusSnapshot(
            mode=self.mode,
            state=str(self._state),
            pid=self.pid,
            restarts=self.restarts,
            ready_at=self._ready_at,
            next_start_at=self._next_start_wall,
            health_url=self._health_url,
            metrics_url=self._metrics_url,
            last_exit=self._last_exit,
            last_exit_at=self._last_exit_at,
        )

    def _handle_restart_requests(self) -> None:
        now = self._clock()
        if self._recorder is None or now < self._next_request_poll_at:
            return
        self._next_request_poll_at = now + REQUEST_POLL_SECONDS
        requests = self._recorder.pending_requests()
        if not requests:
            return
        sources = ", ".join(f"request {request.id} by {request.requested_by}" for request in requests)
        outcome = self.request_restart(sources)
        logger.info("worker restart %s: %s", sources, outcome.message)
        self._recorder.finish_requests([request.id for request in requests], outcome, self._wall_clock())

    def _require_process(self) -> WorkerProcess:
        if self._process is None:
            raise RuntimeError(f"worker state {self._state} without a process; this is a bug")
        return self._process

    def _require_health_url(self) -> str:
        if self._health_url is None:
            raise RuntimeError("no health URL before the first start; this is a bug")
        return self._health_url

    @property
    def _health_timeout(self) -> float:
        return self._settings.health.timeout.total_seconds()

    @property
    def _stable_after(self) -> float:
        return self._settings.restart.stable_after.total_seconds()
