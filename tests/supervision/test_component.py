"""The supervision component inside a real daemon: job, services, status, the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from click.testing import CliRunner
from supervision_helpers import (
    RecordingSink,
    fake_worker_command,
    fast_settings,
    process_exists,
    reference_worker,
    worker_events,
)

from watchdog.cli import main
from watchdog.config import LoadedSettings, load_settings
from watchdog.config.supervision import MemorySettings
from watchdog.daemon import Daemon
from watchdog.errors import ConfigError
from watchdog.storage import open_store
from watchdog.supervision.alerts import RULE_DOWN, RULE_FATAL, RULE_MEMORY
from watchdog.supervision.attach import AttachedWorker
from watchdog.supervision.cgroups import MemoryCgroup
from watchdog.supervision.component import PID_FILE_NAME, SupervisionComponent, worker_cgroup_name
from watchdog.supervision.process import write_pid_file
from watchdog.supervision.states import WorkerState
from watchdog.supervision.supervisor import Supervisor


def load(state_dir: Path, command: list[str] | None = None, **supervision: Any) -> LoadedSettings:
    settings = fast_settings(command=command or fake_worker_command(), **supervision)
    return load_settings(
        overrides={"mode": "production", "state_dir": state_dir, "supervision": settings},
        environ={},
    )


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"condition not met within {timeout}s")


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def running_daemon(state_dir: Path, reference_model_cache: Path) -> Iterator[tuple[Daemon, RecordingSink]]:
    """A daemon supervising the reference ONNX worker, with a recording alert sink."""
    command = reference_worker(reference_model_cache)
    daemon = Daemon(load(state_dir, command), factories=[SupervisionComponent])
    sink = RecordingSink()
    daemon.context.services.alert_sink = sink
    daemon.start()
    try:
        yield daemon, sink
    finally:
        daemon.stop()


def supervisor_of(daemon: Daemon) -> Supervisor:
    worker = daemon.context.services.worker
    assert isinstance(worker, Supervisor)
    return worker


def test_daemon_restarts_worker_after_sigkill(
    running_daemon: tuple[Daemon, RecordingSink], state_dir: Path
) -> None:
    daemon, sink = running_daemon
    worker = supervisor_of(daemon)
    wait_for(lambda: worker.is_up)
    first_pid = worker.pid
    assert first_pid is not None

    # The first ready resolves what an earlier daemon run may have left firing.
    wait_for(lambda: len(sink.events) == 3)
    assert sorted((event.rule, event.state) for event in sink.events) == [
        (RULE_DOWN, "resolved"),
        (RULE_FATAL, "resolved"),
        (RULE_MEMORY, "resolved"),
    ]
    sink.events.clear()

    os.kill(first_pid, signal.SIGKILL)
    wait_for(lambda: worker.is_up and worker.pid != first_pid)
    wait_for(lambda: len(sink.events) == 2)

    events = worker_events(daemon.store)
    exit_event = next(event for event in events if event.reason == "exit")
    assert exit_event.pid == first_pid
    assert exit_event.detail == "killed by SIGKILL"
    assert exit_event.exit_kind == "signal"
    assert 0.16 <= exit_event.delay_seconds <= 0.24
    restart = events[events.index(exit_event) + 1]
    assert (restart.to_state, restart.reason) == ("starting", "restart")
    assert (restart.at - exit_event.at).total_seconds() >= exit_event.delay_seconds
    assert [event.rule for event in sink.events] == [RULE_DOWN, RULE_DOWN]
    assert [event.state for event in sink.events] == ["firing", "resolved"]
    assert sink.events[0].summary == "worker exited: killed by SIGKILL"
    assert sink.events[0].severity == "warning"
    assert dict(sink.events[0].labels) == {
        "service": "inference",
        "host": daemon.settings.host_name,
    }

    result = CliRunner().invoke(main, ["status", "--json", "--state-dir", str(state_dir)])

    assert result.exit_code == 0, result.output
    status = json.loads(result.output)["worker"]
    assert status["state"] == "running"
    assert status["pid"] == worker.pid
    assert status["restarts"] == 1
    assert status["mode"] == "spawn"
    assert status["last_exit"]["kind"] == "signal"
    assert status["last_exit"]["description"] == "killed by SIGKILL"
    assert status["last_exit"]["signal"] == 9
    assert status["last_exit"]["exit_status"] is None


def test_worker_restart_command(running_daemon: tuple[Daemon, RecordingSink], state_dir: Path) -> None:
    daemon, _ = running_daemon
    worker = supervisor_of(daemon)
    wait_for(lambda: worker.is_up)
    first_pid = worker.pid

    result = CliRunner().invoke(main, ["worker", "restart", "--state-dir", str(state_dir)])

    assert result.exit_code == 0, result.output
    assert result.output == (
        f"restart requested (request 1) from daemon pid {os.getpid()}\n"
        f"restarting: stopping pid {first_pid} (was running)\n"
    )
    wait_for(lambda: worker.is_up and worker.pid != first_pid)
    manual = [event for event in worker_events(daemon.store) if event.reason == "manual"]
    assert [(event.from_state, event.to_state) for event in manual] == [
        ("running", "stopping"),
        ("stopping", "starting"),
    ]
    assert manual[0].detail.startswith("requested by request 1 by ")


def test_worker_restart_needs_running_daemon(state_dir: Path) -> None:
    open_store(f"sqlite:///{state_dir / 'watchdog.db'}").close()

    result = CliRunner().invoke(main, ["worker", "restart", "--state-dir", str(state_dir)])

    assert result.exit_code == 1
    assert "the daemon is not running" in result.output


def test_worker_events_command(running_daemon: tuple[Daemon, RecordingSink], state_dir: Path) -> None:
    daemon, _ = running_daemon
    worker = supervisor_of(daemon)
    wait_for(lambda: worker.is_up)

    result = CliRunner().invoke(main, ["worker", "events", "--state-dir", str(state_dir)])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 2
    assert " stopped -> starting start" in lines[0]
    assert "starting -> running  ready" in lines[1]


def test_status_before_first_start(state_dir: Path) -> None:
    open_store(f"sqlite:///{state_dir / 'watchdog.db'}").close()

    result = CliRunner().invoke(main, ["status", "--json", "--state-dir", str(state_dir)])

    assert result.exit_code == 0, result.output
    status = json.loads(result.output)["worker"]
    assert status["state"] is None
    assert status["pid"] is None
    assert status["restarts"] == 0
    assert status["last_exit"] is None


def test_worker_runs_in_own_cgroup(state_dir: Path, cgroup_parent: MemoryCgroup) -> None:
    loaded = load(
        state_dir,
        memory={"cgroup": "auto", "cgroup_parent": str(cgroup_parent.path), "limit": "256MiB"},
    )
    daemon = Daemon(loaded, factories=[SupervisionComponent])
    daemon.start()
    worker_cgroup = MemoryCgroup(cgroup_parent.path / worker_cgroup_name(MemorySettings(), state_dir), 1)
    try:
        worker = supervisor_of(daemon)
        wait_for(lambda: worker.is_up)

        assert worker_cgroup.processes() == [worker.pid]
        assert worker_cgroup.limit() == 256 * 2**20
    finally:
        daemon.stop()
    assert not worker_cgroup.path.exists()


def test_worker_cgroup_named_per_state_dir(tmp_path: Path) -> None:
    first = worker_cgroup_name(MemorySettings(), tmp_path / "one")
    second = worker_cgroup_name(MemorySettings(), tmp_path / "two")

    assert first.startswith("inference-watchdog-worker-")
    assert len(first) == len("inference-watchdog-worker-") + 8
    assert first != second
    assert worker_cgroup_name(MemorySettings(), tmp_path / "one") == first
    assert worker_cgroup_name(MemorySettings(cgroup_name="pinned"), tmp_path / "one") == "pinned"


def test_second_daemon_spares_first_worker(tmp_path: Path, cgroup_parent: MemoryCgroup) -> None:
    memory = {"cgroup": "auto", "cgroup_parent": str(cgroup_parent.path), "limit": "256MiB"}
    first = Daemon(load(tmp_path / "first", memory=memory), factories=[SupervisionComponent])
    second = Daemon(load(tmp_path / "second", memory=memory), factories=[SupervisionComponent])
    first.start()
    try:
        first_worker = supervisor_of(first)
        wait_for(lambda: first_worker.is_up)
        first_pid = first_worker.pid
        second.start()
        try:
            second_worker = supervisor_of(second)
            wait_for(lambda: second_worker.is_up)

            assert first_pid is not None
            assert psutil.Process(first_pid).status() != psutil.STATUS_ZOMBIE
            assert first_worker.pid == first_pid
            assert first_worker.restarts == 0
            assert second_worker.pid != first_pid
        finally:
            second.stop()
    finally:
        first.stop()


def test_leftover_worker_killed_at_start(state_dir: Path) -> None:
    leftover = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True
    )
    state_dir.mkdir(parents=True)
    write_pid_file(state_dir / PID_FILE_NAME, leftover.pid)
    daemon = Daemon(load(state_dir), factories=[SupervisionComponent])

    daemon.start()
    try:
        assert leftover.wait(timeout=10) == -signal.SIGKILL
    finally:
        daemon.stop()
    assert not process_exists(leftover.pid)
    assert not (state_dir / PID_FILE_NAME).exists()


def test_limit_share_needs_cgroup_limit(state_dir: Path) -> None:
    loaded = load(state_dir, memory={"limit_share": 0.5})

    with pytest.raises(ConfigError) as raised:
        Daemon(loaded, factories=[SupervisionComponent])

    assert str(raised.value).startswith("supervision.memory.limit_share 0.5 needs a memory limit")


def test_mode_off_runs_nothing(state_dir: Path) -> None:
    daemon = Daemon(load(state_dir, mode="off"), factories=[SupervisionComponent])

    assert daemon.context.services.worker is None
    assert daemon.components[0].jobs() == []
    daemon.store.close()


def test_attach_mode_sets_handle(state_dir: Path) -> None:
    daemon = Daemon(load(state_dir, mode="attach", port=8080), factories=[SupervisionComponent])

    worker = daemon.context.services.worker
    assert isinstance(worker, AttachedWorker)
    assert worker.metrics_url == "http://127.0.0.1:8080/metrics"
    assert worker.state is WorkerState.STARTING
    daemon.store.close()
