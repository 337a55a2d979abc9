"""Worker chaos: SIGKILL, SIGSTOP and the memory leak against the supervised reference worker.

The supervisor runs the real ONNX worker and records its transitions in a
migrated SQLite file, as the daemon does, but on a controlled clock: each
tick moves it by ``tick_interval``. Faults come in a seeded random order
at seeded random moments. After each one the worker must come back, and the
downtime the daemon recorded must match the outage the test observed with
its own health probe. The two differ only by how long the daemon takes to
notice, so the tolerance of each fault follows from the settings. It is a
tick for an exit, one health interval for a hang (the daemon dates a hang
from its first failed check) and ``stop_timeout`` for a graceful memory
restart.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

import httpx
import pytest

from tests.reliability.conftest import FaultLedger
from tests.reliability.reference_worker import model_cache, worker_command
from tests.supervision.supervision_helpers import FakeClock, RecordingSink, worker_events
from watchdog.config import Settings
from watchdog.config.supervision import SupervisionSettings
from watchdog.reports.collect import worker_transitions
from watchdog.reports.figures import Month, uptime
from watchdog.storage import Store
from watchdog.storage.models import WorkerEvent
from watchdog.supervision.alerts import AlertEpisodes
from watchdog.supervision.cgroups import own_memory_cgroup
from watchdog.supervision.health import HealthProbe
from watchdog.supervision.recorder import SupervisionRecorder
from watchdog.supervision.states import WorkerState
from watchdog.supervision.status import worker_status
from watchdog.supervision.supervisor import Placement, Supervisor

SEED = 20261204
MIB = 1024 * 1024
HARD_LIMIT = 384 * MIB
LEAK_PER_REQUEST = 32 * MIB
FAULTS = ["sigkill", "sigstop", "leak"] * 2
# Real seconds any one wait may take before the test gives up; generous for a shared machine.
DEADLINE = 60.0

SETTINGS = SupervisionSettings.model_validate(
    {
        "tick_interval": "100ms",
        "stop_timeout": "2s",
        "health": {
            # Controlled time: a start that takes 3 real seconds spends many ticks.
            "startup_timeout": "10m",
            "interval": "500ms",
            # Real time: a health request to a stopped process waits this long, and a
            # slower response on a busy machine would count as a failed check.
            "timeout": "1s",
            "failures": 3,
        },
        "restart": {
            "backoff_initial": "200ms",
            "backoff_max": "1s",
            "jitter": 0.2,
            "stable_after": "2s",
            "crash_loop_restarts": 5,
            "crash_loop_window": "5s",
        },
        "memory": {"cgroup": "off", "interval": "200ms", "samples": 3, "soft_limit_ratio": 0.85},
    }
)
TICK = SETTINGS.tick_interval.total_seconds()


def tolerance(fault: str) -> tuple[float, float]:
    """Return the bounds of (observed outage - recorded downtime) for ``fault``, in seconds.

    The daemon's record ends one tick after the test can see the worker
    back at the latest. It starts one tick after an exit, at the first failed
    health check after a hang (at most one interval and a tick later),
    and up to ``stop_timeout`` and a tick before the memory-restarted worker
    stops serving.
    """
    if fault == "sigkill":
        return 0.0, TICK
    if fault == "sigstop":
        health = SETTINGS.health
        return -TICK, health.interval.total_seconds() + TICK
    return -(SETTINGS.stop_timeout.total_seconds() + 2 * TICK), 0.0


def wait_until_reapable(pid: int) -> None:
    """Wait until child ``pid`` can be reaped, without reaping it.

    The leader of a multi-threaded process shows as a zombie before its
    other threads are gone, and only then can its parent collect the exit.
    """
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
            return
        time.sleep(0.005)
    pytest.fail(f"worker process {pid} still running {DEADLINE}s after SIGKILL")


@dataclass(frozen=True)
class Episode:
    """One fault as the test saw it: when the worker stopped serving and when a new one served.

    ``back_at`` is the earlier of the test's first successful probe and the
    daemon's own: either shows the new worker serving.
    """

    fault: str
    old_pid: int
    new_pid: int
    gone_at: datetime
    back_at: datetime

    @property
    def outage(self) -> float:
        return (self.back_at - self.gone_at).total_seconds()


class ChaosRun:
    """Ticks the supervisor on the controlled clock and probes the worker as a client would."""

    def __init__(self, supervisor: Supervisor, clock: FakeClock, client: httpx.Client) -> None:
        self.supervisor = supervisor
        self.clock = clock
        self.client = client

    def step(self) -> None:
        self.clock.advance(TICK)
        self.supervisor.tick()
        time.sleep(0.005)

    def base_url(self) -> str:
        url = self.supervisor.metrics_url
        assert url is not None
        return url.removesuffix("/metrics")

    def serving(self, base_url: str) -> bool:
        try:
            return self.client.get(f"{base_url}/healthz", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    def predict(self, base_url: str) -> int | None:
        try:
            response = self.client.post(f"{base_url}/predict", json={"inputs": [[0.5] * 64]}, timeout=5)
        except httpx.HTTPError:
            return None
        return response.status_code

    def step_until(self, condition: Callable[[], bool], description: str) -> None:
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            self.step()
            if condition():
                return
        pytest.fail(f"{description} not seen within {DEADLINE}s; worker state {self.supervisor.state}")

    def wait_back(self, old_pid: int) -> tuple[int, datetime]:
        """Tick until a new worker process serves; return its pid and the moment."""

        def new_worker_serves() -> bool:
            pid = self.supervisor.pid
            return pid is not None and pid != old_pid and self.serving(self.base_url())

        self.step_until(new_worker_serves, f"a worker other than {old_pid} serving")
        pid = self.supervisor.pid
        assert pid is not None
        return pid, self.clock.wall()

    def inject(self, fault: str) -> Episode:
        old_pid = self.supervisor.pid
        assert old_pid is not None
        if fault == "sigkill":
            gone_at = self.clock.wall()
            os.kill(old_pid, signal.SIGKILL)
            wait_until_reapable(old_pid)
        elif fault == "sigstop":
            gone_at = self.clock.wall()
            os.kill(old_pid, signal.SIGSTOP)
        else:
            gone_at = self.leak_until_gone()
        new_pid, back_at = self.wait_back(old_pid)
        return Episode(fault, old_pid, new_pid, gone_at, back_at)

    def leak_until_gone(self) -> datetime:
        """Send /predict requests to the leaking worker until the daemon's restart takes it away."""
        base_url = self.base_url()
        for _ in range(HARD_LIMIT // LEAK_PER_REQUEST + 4):
            self.predict(base_url)
            for _ in range(3 * SETTINGS.memory.samples):
                self.step()
                if not self.serving(base_url):
                    return self.clock.wall()
        pytest.fail(f"the leaking worker at {base_url} was never restarted")


@pytest.fixture
def chaos_supervisor(
    store: Store, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Supervisor, FakeClock, RecordingSink]]:
    cache = model_cache(tmp_path_factory)
    command = worker_command(
        cache, "--fault", "leak", "--leak-bytes", str(LEAK_PER_REQUEST), "--rate-limit", "0"
    )
    clock = FakeClock()
    sink = RecordingSink()
    probe = HealthProbe()
    supervisor = Supervisor(
        SETTINGS,
        command=command,
        environ=dict(os.environ),
        recorder=SupervisionRecorder(store),
        alerts=AlertEpisodes(sink.emit, {"service": "inference", "host": "test-host"}),
        probe=probe,
        clock=clock.monotonic,
        wall_clock=clock.wall,
        rng=random.Random(SEED),
    )
    supervisor.start(Placement(None, own_memory_cgroup(), HARD_LIMIT))
    try:
        yield supervisor, clock, sink
    finally:
        supervisor.shutdown()
        probe.close()


def recorded_outage(events: list[WorkerEvent], episode: Episode) -> tuple[datetime, datetime]:
    """Return when the old worker left RUNNING and when the new one reached it, as recorded."""
    down = next(e for e in events if e.pid == episode.old_pid and e.from_state == WorkerState.RUNNING)
    up = next(e for e in events if e.pid == episode.new_pid and e.to_state == WorkerState.RUNNING)
    return down.at, up.at


def recorded_downtime(events: list[WorkerEvent], episode: Episode) -> float:
    """Return the seconds between the old worker leaving RUNNING and the new one reaching it."""
    down, up = recorded_outage(events, episode)
    return (up - down).total_seconds()


def test_worker_returns_and_downtime_matches(
    chaos_supervisor: tuple[Supervisor, FakeClock, RecordingSink],
    store: Store,
    fault_ledger: FaultLedger,
    request: pytest.FixtureRequest,
) -> None:
    supervisor, clock, _ = chaos_supervisor
    rng = random.Random(SEED)
    faults = list(FAULTS)
    rng.shuffle(faults)
    with httpx.Client(trust_env=False) as client:
        run = ChaosRun(supervisor, clock, client)
        run.step_until(lambda: supervisor.is_up, "the first worker ready")
        started = clock.wall()
        episodes = []
        served_after = []

        for fault in faults:
            for _ in range(rng.randint(5, 25)):
                run.step()
            episode = run.inject(fault)
            episodes.append(episode)
            served_after.append(run.predict(run.base_url()))
            run.step_until(lambda: supervisor.is_up, "the restarted worker ready")
        ended = clock.wall()

    events = worker_events(store)
    episodes = [
        replace(episode, back_at=min(episode.back_at, recorded_outage(events, episode)[1]))
        for episode in episodes
    ]
    deviations = [episode.outage - recorded_downtime(events, episode) for episode in episodes]
    within = [
        tolerance(episode.fault)[0] - 1e-6 <= deviation <= tolerance(episode.fault)[1] + 1e-6
        for episode, deviation in zip(episodes, deviations, strict=True)
    ]
    restarts = worker_status(store, Settings())["restarts"]
    fault_ledger.record(
        request,
        scenario="worker chaos: SIGKILL, SIGSTOP and the memory leak",
        fault="worker fault",
        injected=len(faults),
        checked_item="restarts with their downtime recorded",
        checked=sum(within),
        lost=len(faults) - sum(within),
        duplicated=restarts - len(faults),
    )

    assert served_after == [200] * len(faults)
    assert len({episode.new_pid for episode in episodes}) == len(faults)
    assert restarts == len(faults)
    assert supervisor.state is WorkerState.RUNNING
    for episode, deviation in zip(episodes, deviations, strict=True):
        low, high = tolerance(episode.fault)
        assert low - 1e-6 <= deviation <= high + 1e-6, (episode, deviation)
    reasons = [event.reason for event in events if event.from_state == WorkerState.RUNNING]
    assert sorted(reasons) == sorted(
        {"sigkill": "exit", "sigstop": "hang", "leak": "memory"}[f] for f in faults
    )

    # The monthly report's uptime comes from the same transitions.
    with store.session() as session:
        transitions, _ = worker_transitions(session, Month.containing(started))
    reported = uptime(transitions, started, ended, up_at_start=True)
    span = (ended - started).total_seconds()
    recorded = sum(recorded_downtime(events, episode) for episode in episodes)
    observed = sum(episode.outage for episode in episodes)
    slack = sum(max(-tolerance(e.fault)[0], tolerance(e.fault)[1]) for e in episodes)
    assert reported == percent(span - recorded, span)
    assert abs(reported - percent(span - observed, span)) <= Decimal(str(slack / span * 100)) + Decimal(
        "0.01"
    )


def percent(part: float, whole: float) -> Decimal:
    """Return ``part`` as a percentage of ``whole``, rounded as the monthly report rounds it."""
    value = Decimal(str(part)) / Decimal(str(whole)) * 100
    return value.quantize(Decimal("0.01"), ROUND_HALF_UP)
