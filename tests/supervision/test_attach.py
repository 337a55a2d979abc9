"""Attach mode against a worker that the test starts itself."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from supervision_helpers import (
    FAKE_WORKER,
    LABELS,
    RecordingSink,
    fast_settings,
    worker_events,
)

from watchdog.storage import Store
from watchdog.supervision.alerts import RULE_DOWN, AlertEpisodes
from watchdog.supervision.attach import AttachedWorker, pid_from_file
from watchdog.supervision.health import HealthProbe
from watchdog.supervision.process import free_port
from watchdog.supervision.recorder import RestartOutcome, SupervisionRecorder
from watchdog.supervision.states import WorkerState


class ExternalWorker:
    """A test worker started outside the supervisor, as systemd or Docker would."""

    def __init__(self, port: int, pid_file: Path) -> None:
        self.port = port
        self.pid_file = pid_file
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(FAKE_WORKER),
                "--port",
                str(self.port),
                "--pid-file",
                str(self.pid_file),
            ]
        )

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()


@pytest.fixture
def external(tmp_path: Path) -> Iterator[ExternalWorker]:
    worker = ExternalWorker(free_port(), tmp_path / "worker.pid")
    yield worker
    if worker.process is not None and worker.process.poll() is None:
        worker.kill()


@pytest.fixture
def probe() -> Iterator[HealthProbe]:
    client = HealthProbe()
    yield client
    client.close()


def tick_until(watcher: AttachedWorker, state: WorkerState, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        watcher.tick()
        if watcher.state is state:
            return
        time.sleep(0.05)
    pytest.fail(f"attached worker not {state} within {timeout}s; it is {watcher.state}")


def test_attach_alerts_when_down_and_resolves(
    external: ExternalWorker, probe: HealthProbe, store: Store
) -> None:
    sink = RecordingSink()
    settings = fast_settings(mode="attach", port=external.port, pid_file=str(external.pid_file))
    watcher = AttachedWorker(
        settings,
        recorder=SupervisionRecorder(store),
        alerts=AlertEpisodes(sink.emit, LABELS),
        probe=probe,
        pid_source=lambda: pid_from_file(external.pid_file),
    )
    external.start()

    tick_until(watcher, WorkerState.RUNNING)
    first_pid = watcher.pid
    external.kill()
    tick_until(watcher, WorkerState.STOPPED)
    for _ in range(5):
        watcher.tick()
    external.start()
    tick_until(watcher, WorkerState.RUNNING)

    assert first_pid is not None
    assert watcher.pid not in (None, first_pid)
    assert watcher.is_up
    assert [(event.rule, event.state) for event in sink.events] == [
        (RULE_DOWN, "firing"),
        (RULE_DOWN, "resolved"),
    ]
    assert sink.events[0].summary == f"worker down: process {first_pid} is not running"
    transitions = [(event.from_state, event.to_state, event.reason) for event in worker_events(store)]
    assert transitions == [
        ("starting", "running", "up"),
        ("running", "stopped", "down"),
        ("stopped", "running", "up"),
    ]


def test_attach_without_pid_counts_failed_checks(probe: HealthProbe, store: Store) -> None:
    sink = RecordingSink()
    port = free_port()
    settings = fast_settings(mode="attach", port=port, health={"failures": 3})
    watcher = AttachedWorker(
        settings,
        recorder=SupervisionRecorder(store),
        alerts=AlertEpisodes(sink.emit, LABELS),
        probe=probe,
        clock=iter(range(0, 10_000, 10)).__next__,
    )

    watcher.tick()
    watcher.tick()
    assert watcher.state is WorkerState.STARTING
    watcher.tick()

    assert watcher.state is WorkerState.STOPPED
    assert sink.events[0].summary == (
        "worker down: 3 consecutive health checks failed: connection failed: ConnectError"
    )


def test_attach_declines_restart(probe: HealthProbe, store: Store) -> None:
    watcher = AttachedWorker(
        fast_settings(mode="attach", port=8080),
        recorder=SupervisionRecorder(store),
        alerts=AlertEpisodes(RecordingSink().emit, LABELS),
        probe=probe,
    )

    outcome = watcher.request_restart("operator")

    assert outcome == RestartOutcome(
        False,
        "not restarted (operator): in attach mode the daemon does not control the worker; "
        "restart it with the tool that started it",
    )


def test_attach_needs_address() -> None:
    with pytest.raises(ValueError, match="attach mode needs the worker's address"):
        fast_settings(mode="attach")
