"""Helpers for supervision tests: the test worker, fast settings, a recording sink, clocks."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from sqlalchemy import select

from watchdog.alerts.events import AlertEvent
from watchdog.config.supervision import SupervisionSettings
from watchdog.storage import Store
from watchdog.storage.models import WorkerEvent
from watchdog.supervision.alerts import AlertEpisodes
from watchdog.supervision.cgroups import MemoryCgroup, own_memory_cgroup
from watchdog.supervision.component import reference_worker_command
from watchdog.supervision.health import HealthProbe
from watchdog.supervision.recorder import SupervisionRecorder
from watchdog.supervision.supervisor import Placement, Supervisor

FAKE_WORKER = Path(__file__).with_name("fake_worker.py")
LABELS = {"service": "inference", "host": "test-host"}


def reference_worker(model_cache: Path, *arguments: str) -> list[str]:
    """Return the command line of the reference ONNX worker with ``arguments``."""
    return [*reference_worker_command(), "--model-cache", str(model_cache), *arguments]


class PredictTraffic:
    """Sends /predict requests to whichever worker process is current, from a thread."""

    def __init__(self, supervisor: Supervisor, interval: float, timeout: float = 1.0) -> None:
        self._supervisor = supervisor
        self._interval = interval
        self._timeout = timeout
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="predict-traffic", daemon=True)
        self.sent = 0

    def __enter__(self) -> PredictTraffic:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        body = {"inputs": [[0.5] * 64]}
        with httpx.Client(trust_env=False) as client:
            while not self._stop.is_set():
                metrics_url = self._supervisor.metrics_url
                if metrics_url is not None and self._supervisor.is_up:
                    url = metrics_url.removesuffix("/metrics") + "/predict"
                    try:
                        client.post(url, json=body, timeout=self._timeout)
                        self.sent += 1
                    except httpx.HTTPError:
                        pass
                self._stop.wait(self._interval)


def fake_worker_command(*arguments: str) -> list[str]:
    """Return the command line of the test worker with ``arguments``."""
    return [sys.executable, str(FAKE_WORKER), "--port", "{port}", *arguments]


def fast_settings(**overrides: Any) -> SupervisionSettings:
    """Return supervision settings with short intervals, merged with ``overrides``."""
    document: dict[str, Any] = {
        "tick_interval": "100ms",
        "stop_timeout": "3s",
        "health": {
            "startup_timeout": "20s",
            "interval": "200ms",
            "timeout": "500ms",
            "failures": 3,
        },
        "restart": {
            "backoff_initial": "200ms",
            "backoff_max": "1s",
            "jitter": 0.2,
            "stable_after": "60s",
            "crash_loop_restarts": 5,
            "crash_loop_window": "60s",
            "crash_loop_cooloff": "10m",
        },
        "memory": {"cgroup": "off", "interval": "200ms"},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(document.get(key), dict):
            document[key] = {**document[key], **value}
        else:
            document[key] = value
    return SupervisionSettings.model_validate(document)


@dataclass
class RecordingSink:
    """An alert sink that keeps every event, for assertions."""

    events: list[AlertEvent] = field(default_factory=list)

    def emit(self, event: AlertEvent) -> None:
        self.events.append(event)

    def firing(self, rule: str) -> list[AlertEvent]:
        return [event for event in self.events if event.rule == rule and event.state == "firing"]

    def resolved(self, rule: str) -> list[AlertEvent]:
        return [event for event in self.events if event.rule == rule and event.state == "resolved"]


class FakeClock:
    """A monotonic clock and a matching UTC wall clock that move only when advanced."""

    def __init__(self) -> None:
        self.seconds = 1000.0
        self._epoch = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def monotonic(self) -> float:
        return self.seconds

    def wall(self) -> datetime:
        return self._epoch + timedelta(seconds=self.seconds)

    def advance(self, seconds: float) -> None:
        self.seconds += seconds


@dataclass
class SupervisorFactory:
    """Builds supervisors on the test's store and shuts every one down at the end."""

    store: Store
    sink: RecordingSink
    built: list[Supervisor] = field(default_factory=list)
    probes: list[HealthProbe] = field(default_factory=list)

    def __call__(
        self,
        settings: SupervisionSettings,
        command: list[str],
        *,
        clock: FakeClock | None = None,
        environ: dict[str, str] | None = None,
        placement: Placement | None = None,
        seed: int = 7,
    ) -> Supervisor:
        import random

        probe = HealthProbe()
        self.probes.append(probe)
        extra: dict[str, Any] = {}
        if clock is not None:
            extra = {"clock": clock.monotonic, "wall_clock": clock.wall}
        supervisor = Supervisor(
            settings,
            command=command,
            environ=environ if environ is not None else dict(os.environ),
            recorder=SupervisionRecorder(self.store),
            alerts=AlertEpisodes(self.sink.emit, LABELS),
            probe=probe,
            rng=random.Random(seed),
            **extra,
        )
        self.built.append(supervisor)
        supervisor.start(placement or Placement(None, own_memory_cgroup(), None))
        return supervisor

    def close(self) -> None:
        for supervisor in self.built:
            supervisor.shutdown()
        for probe in self.probes:
            probe.close()


def tick_until(
    supervisor: Supervisor,
    condition: Callable[[], bool],
    timeout: float = 30.0,
    interval: float = 0.05,
) -> None:
    """Tick ``supervisor`` until ``condition`` holds; fail with its state after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        supervisor.tick()
        if condition():
            return
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout}s; worker state {supervisor.state}")


def wait_until_exited(pid: int, timeout: float = 20.0) -> None:
    """Wait until process ``pid`` has exited (a zombie not yet reaped counts as exited)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.NoSuchProcess:
            return
        time.sleep(0.01)
    pytest.fail(f"process {pid} still running after {timeout}s")


def worker_events(store: Store) -> list[WorkerEvent]:
    """Return every stored worker transition, oldest first."""
    with store.session() as session:
        return list(session.scalars(select(WorkerEvent).order_by(WorkerEvent.id)).all())


def process_exists(pid: int) -> bool:
    """Return whether ``pid`` exists at all, zombies included."""
    try:
        psutil.Process(pid)
    except psutil.NoSuchProcess:
        return False
    return True


def remove_when_empty(cgroup: MemoryCgroup) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            cgroup.path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"cgroup {cgroup.path} still busy after 10s")
