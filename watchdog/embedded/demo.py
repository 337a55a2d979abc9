"""The demo of the embedded default: traffic from one local client and one scripted worker crash.

Once the bundled worker is first ready, the driver sends it, from one
client on 127.0.0.1 with the project's load generator:

- a steady phase at ``STEADY_RATE`` requests per second;
- a spike whose middle fifth reaches the expected peak, ``DEMO_PEAK_RPS``;
- a retry storm: the worker's per-client rate limit (10 requests per second
  by default) responds with 429, and the client sends every rejected request
  again at once. The worker then counts hundreds of requests per second, far
  above 120 % of the peak, and ``traffic_above_peak`` fires;
- steady traffic again until the daemon stops.

Rejected requests count in the worker's ``inference_requests_total``, so the
storm shows in the metric windows even though the rate limit refuses most
of it. Separately, ``fault_after`` seconds after the worker was first ready,
the driver kills the worker with SIGKILL, as a crash would end it; the
supervisor restarts it and raises one ``worker_down`` alert.

The driver only targets the worker that the daemon spawned from the bundled
command, on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from watchdog.config import Settings
from watchdog.config.demo import DemoSettings
from watchdog.supervision.handle import WorkerHandle
from watchdog.worker.loadgen import SPIKE_FACTOR, LoadPlan, LoadResult, Profile, run_load_async

logger = logging.getLogger(__name__)

# The expected peak request rate of the demo service. The steady and spike phases stay at or
# below it; the retry storm goes far above it. A load test can send ten times this.
DEMO_PEAK_RPS = 20.0
# A quarter of the peak, and half the worker's default per-client rate limit of 10 per second.
STEADY_RATE = DEMO_PEAK_RPS / 4
# The storm's schedule alone is above 120 % of the peak, so it raises the alert even
# with the worker's rate limit off. With the limit on, the retries add far more.
STORM_RATE = DEMO_PEAK_RPS * 1.5
# Long phases run as plans of at most this many seconds, so that traffic follows the worker
# to its new port after a restart.
CHUNK_SECONDS = 10.0
WAIT_POLL_SECONDS = 0.5


@dataclass(frozen=True)
class Phase:
    """One phase of demo traffic; ``seconds`` None runs until the demo stops."""

    name: str
    profile: Profile
    rate: float
    seconds: float | None
    announcement: str


def demo_phases(settings: DemoSettings) -> list[Phase]:
    """Return the traffic phases in order; none when demo traffic is off."""
    if not settings.traffic:
        return []
    spike_base = DEMO_PEAK_RPS / SPIKE_FACTOR
    return [
        Phase(
            "steady",
            "steady",
            STEADY_RATE,
            settings.steady_for.total_seconds(),
            f"steady traffic, {STEADY_RATE:g} requests/s for {settings.steady_for.total_seconds():g}s",
        ),
        Phase(
            "spike",
            "spike",
            spike_base,
            settings.spike_for.total_seconds(),
            f"a spike: {spike_base:g} requests/s, {DEMO_PEAK_RPS:g} (the expected peak) in the "
            f"middle fifth of {settings.spike_for.total_seconds():g}s",
        ),
        Phase(
            "retry-storm",
            "retry-storm",
            STORM_RATE,
            settings.storm_for.total_seconds(),
            f"a retry storm for {settings.storm_for.total_seconds():g}s: one client sends "
            f"{STORM_RATE:g} requests/s and retries every refused one at once",
        ),
        Phase(
            "steady-after",
            "steady",
            STEADY_RATE,
            None,
            f"steady traffic again, {STEADY_RATE:g} requests/s until the daemon stops",
        ),
    ]


def demo_applies(settings: Settings) -> bool:
    """Return whether the demo may drive the worker: the daemon spawns the bundled worker."""
    supervision = settings.supervision
    return supervision.mode == "spawn" and supervision.command is None


def alert_overrides(settings: DemoSettings) -> dict[str, Any]:
    """Return the alert settings that the demo traffic is sized for."""
    if not settings.traffic:
        return {}
    return {"rules": {"expected_peak_rps": DEMO_PEAK_RPS}}


@dataclass
class PhaseOutcome:
    """Requests the load generator sent in one phase and their outcomes, summed over its plans."""

    name: str
    attempts: int = 0
    retries: int = 0
    succeeded: int = 0
    status_counts: dict[str, int] = field(default_factory=dict)

    def add(self, result: LoadResult) -> None:
        """Add one plan's result."""
        self.attempts += result.attempts
        self.retries += result.retries
        self.succeeded += result.succeeded
        for status, count in result.status_counts.items():
            self.status_counts[status] = self.status_counts.get(status, 0) + count

    def describe(self) -> str:
        """Return one line: attempts, retries and responses by status."""
        statuses = ", ".join(f"{status}: {count}" for status, count in sorted(self.status_counts.items()))
        return f"{self.name}: {self.attempts} requests ({self.retries} retries; {statuses or 'none'})"


class DemoDriver:
    """Runs the demo traffic and the worker fault on a thread of its own, with its own event loop."""

    def __init__(
        self,
        settings: DemoSettings,
        worker: WorkerHandle | None,
        echo: Callable[[str], None],
        samples: npt.NDArray[np.float32] | None = None,
    ) -> None:
        self._settings = settings
        self._worker = worker
        self._echo = echo
        self._samples = samples
        self._stop = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self.outcomes: list[PhaseOutcome] = []
        self.fault_done = False

    def start(self) -> None:
        """Start the driver's thread; it waits for the worker before its first request."""
        if self._worker is None or not (self._settings.traffic or self._settings.worker_fault):
            return
        self._thread = threading.Thread(target=self._run, name="embedded-demo", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the traffic in flight and wait for the thread."""
        self._stop.set()
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            try:
                loop.call_soon_threadsafe(wake.set)
            except RuntimeError:
                # The loop has already closed: the thread is ending by itself.
                pass
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                logger.warning("demo traffic did not stop within %gs", timeout)
            self._thread = None

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception:
            # Any error at all: the demo must never take the daemon down with it.
            logger.exception("demo traffic failed")

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        if self._stop.is_set():
            return
        if not await self._wait_for_worker():
            return
        ready_at = time.monotonic()
        tasks = []
        if self._settings.traffic:
            tasks.append(asyncio.create_task(self._drive_traffic()))
        if self._settings.worker_fault:
            tasks.append(asyncio.create_task(self._crash_worker(ready_at)))
        stopper = asyncio.create_task(self._wake.wait())
        running = set(tasks)
        # Traffic runs until the demo stops; the fault task ends after the crash.
        while running and not stopper.done():
            done, _ = await asyncio.wait([stopper, *running], return_when=asyncio.FIRST_COMPLETED)
            running -= done
            if any(task.exception() is not None for task in done if task is not stopper):
                break
        for task in [stopper, *tasks]:
            task.cancel()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, Exception):
                logger.error("demo task failed", exc_info=outcome)

    async def _sleep(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; return False if the demo was stopped meanwhile."""
        assert self._wake is not None
        try:
            await asyncio.wait_for(self._wake.wait(), timeout=max(seconds, 0.0))
        except TimeoutError:
            return True
        return False

    async def _wait_for_worker(self) -> bool:
        assert self._worker is not None
        while not self._worker.is_up:
            if not await self._sleep(WAIT_POLL_SECONDS):
                return False
        return True

    def _worker_base_url(self) -> str | None:
        assert self._worker is not None
        url = self._worker.metrics_url
        return url.rsplit("/", 1)[0] if url else None

    async def _drive_traffic(self) -> None:
        if self._samples is None:
            from watchdog.worker.digits import load_samples

            self._samples = await asyncio.to_thread(load_samples)
        for phase in demo_phases(self._settings):
            self._echo(f"demo: {phase.announcement}")
            outcome = PhaseOutcome(phase.name)
            self.outcomes.append(outcome)
            await self._run_phase(phase, outcome)
            logger.info("demo phase %s", outcome.describe())

    async def _run_phase(self, phase: Phase, outcome: PhaseOutcome) -> None:
        """Send the phase's plans: one for a phase whose profile has a shape, else chunks."""
        ends_at = None if phase.seconds is None else time.monotonic() + phase.seconds
        while ends_at is None or time.monotonic() < ends_at:
            if not await self._wait_for_worker():
                return
            base_url = self._worker_base_url()
            if base_url is None:
                return
            left = None if ends_at is None else ends_at - time.monotonic()
            # The spike's shape spans the whole phase, so it runs as one plan.
            length = left if phase.profile == "spike" and left else CHUNK_SECONDS
            if left is not None:
                length = min(length, left)
            if length <= 0:
                return
            plan = LoadPlan(
                url=base_url, rate=phase.rate, concurrency=1, duration=length, profile=phase.profile
            )
            outcome.add(await run_load_async(plan, self._samples))

    async def _crash_worker(self, ready_at: float) -> None:
        assert self._worker is not None
        delay = ready_at + self._settings.fault_after.total_seconds() - time.monotonic()
        if not await self._sleep(delay):
            return
        pid = self._worker.pid
        if pid is None:
            self._echo("demo: the worker is not running, so the scripted crash is skipped")
            return
        self._echo(f"demo: crashing the worker (SIGKILL to pid {pid}); the supervisor restarts it")
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            logger.warning("demo: worker %d exited before the scripted crash", pid)
            return
        self.fault_done = True
