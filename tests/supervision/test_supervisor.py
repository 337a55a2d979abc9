"""The spawn-mode supervisor against real worker processes."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import psutil
from supervision_helpers import (
    FakeClock,
    PredictTraffic,
    RecordingSink,
    SupervisorFactory,
    fake_worker_command,
    fast_settings,
    process_exists,
    reference_worker,
    tick_until,
    wait_until_exited,
    worker_events,
)

from watchdog.storage import Store
from watchdog.supervision.alerts import RULE_CRASH_LOOP, RULE_DOWN, RULE_FATAL, RULE_MEMORY
from watchdog.supervision.cgroups import MemoryCgroup
from watchdog.supervision.exits import ExitKind
from watchdog.supervision.process import group_members
from watchdog.supervision.recorder import RestartOutcome
from watchdog.supervision.states import WorkerState
from watchdog.supervision.supervisor import Placement


def test_crash_loop_alerts_once_and_cools_off(
    make_supervisor: SupervisorFactory, sink: RecordingSink, store: Store
) -> None:
    clock = FakeClock()
    settings = fast_settings(
        restart={"crash_loop_restarts": 10, "crash_loop_window": "60s", "crash_loop_cooloff": "10m"}
    )
    supervisor = make_supervisor(settings, fake_worker_command("--exit-status", "3"), clock=clock)
    spawned: list[int] = []

    # 30 s of controlled time in 0.1 s ticks; each worker exits at once.
    for _ in range(300):
        pid = supervisor.pid
        if pid is not None and pid not in spawned:
            spawned.append(pid)
            wait_until_exited(pid)
        clock.advance(0.1)
        supervisor.tick()

    assert len(spawned) == 10
    assert len(sink.firing(RULE_CRASH_LOOP)) == 1
    assert len(sink.firing(RULE_DOWN)) == 1
    assert supervisor.state is WorkerState.BACKOFF
    events = worker_events(store)
    assert [event.reason for event in events].count("crash_loop") == 1
    assert sum(1 for event in events if event.to_state == "starting") == 10
    crash_loop = next(event for event in events if event.reason == "crash_loop")
    assert crash_loop.delay_seconds == 600.0
    assert crash_loop.exit_kind == "exit_status"
    assert crash_loop.exit_status == 3


def test_cooloff_ends_with_one_restart(
    make_supervisor: SupervisorFactory, sink: RecordingSink, store: Store
) -> None:
    clock = FakeClock()
    settings = fast_settings(
        restart={"crash_loop_restarts": 2, "crash_loop_window": "60s", "crash_loop_cooloff": "5m"}
    )
    supervisor = make_supervisor(settings, fake_worker_command("--exit-status", "1"), clock=clock)
    spawned: list[int] = []

    def run(seconds: float) -> None:
        for _ in range(int(seconds / 0.5)):
            pid = supervisor.pid
            if pid is not None and pid not in spawned:
                spawned.append(pid)
                wait_until_exited(pid)
            clock.advance(0.5)
            supervisor.tick()

    run(299)
    spawns_during_cooloff = len(spawned)
    run(10)

    # After the cool-off the worker gets a fresh window: two more failures, a second loop.
    assert spawns_during_cooloff == 2
    assert len(spawned) == 4
    reasons = [(event.to_state, event.reason) for event in worker_events(store)]
    assert reasons == [
        ("starting", "start"),
        ("backoff", "exit"),
        ("starting", "restart"),
        ("backoff", "crash_loop"),
        ("starting", "cooloff_over"),
        ("backoff", "exit"),
        ("starting", "restart"),
        ("backoff", "crash_loop"),
    ]
    assert len(sink.firing(RULE_CRASH_LOOP)) == 1


def test_sigkill_restarts_within_backoff(make_supervisor: SupervisorFactory, store: Store) -> None:
    settings = fast_settings()
    supervisor = make_supervisor(settings, fake_worker_command())
    tick_until(supervisor, lambda: supervisor.state is WorkerState.RUNNING)
    first_pid = supervisor.pid
    assert first_pid is not None

    os.kill(first_pid, signal.SIGKILL)
    tick_until(
        supervisor,
        lambda: supervisor.state is WorkerState.RUNNING and supervisor.pid != first_pid,
    )

    events = worker_events(store)
    exit_event = next(event for event in events if event.reason == "exit")
    assert exit_event.detail == "killed by SIGKILL"
    assert exit_event.exit_kind == "signal"
    assert exit_event.exit_signal == 9
    assert exit_event.to_state == "backoff"
    assert 0.16 <= exit_event.delay_seconds <= 0.24
    restart = events[events.index(exit_event) + 1]
    assert (restart.from_state, restart.to_state, restart.reason) == (
        "backoff",
        "starting",
        "restart",
    )
    waited = (restart.at - exit_event.at).total_seconds()
    assert waited >= exit_event.delay_seconds
    assert supervisor.restarts == 1
    assert supervisor.last_exit is not None
    assert supervisor.last_exit.description == "killed by SIGKILL"


def test_stop_leaves_no_process_or_zombie(make_supervisor: SupervisorFactory, tmp_path: Path) -> None:
    grandchild_file = tmp_path / "grandchild.pid"
    supervisor = make_supervisor(
        fast_settings(), fake_worker_command("--grandchild-pid-file", str(grandchild_file))
    )
    tick_until(supervisor, lambda: supervisor.state is WorkerState.RUNNING)
    worker_pid = supervisor.pid
    assert worker_pid is not None
    grandchild = int(grandchild_file.read_text())
    assert os.getpgid(grandchild) == worker_pid

    supervisor.shutdown()

    assert supervisor.state is WorkerState.STOPPED
    assert group_members(worker_pid) == []
    assert not process_exists(worker_pid)
    assert not process_exists(grandchild)
    zombies = [child.pid for child in psutil.Process().children() if child.status() == psutil.STATUS_ZOMBIE]
    assert zombies == []


def test_stop_escalates_to_sigkill(make_supervisor: SupervisorFactory, store: Store, tmp_path: Path) -> None:
    grandchild_file = tmp_path / "grandchild.pid"
    settings = fast_settings(stop_timeout="500ms")
    supervisor = make_supervisor(
        settings,
        fake_worker_command("--ignore-sigterm", "--grandchild-pid-file", str(grandchild_file)),
    )
    tick_until(supervisor, lambda: supervisor.state is WorkerState.RUNNING)
    worker_pid = supervisor.pid
    assert worker_pid is not None
    grandchild = int(grandchild_file.read_text())

    supervisor.shutdown()

    assert group_members(worker_pid) == []
    assert not process_exists(grandchild)
    stopped = worker_events(store)[-1]
    assert (stopped.from_state, stopped.to_state, stopped.reason) == (
        "stopping",
        "stopped",
        "shutdown",
    )
    assert stopped.detail == "killed by SIGKILL (sent by the supervisor)"


def test_orphaned_grandchild_killed_after_crash(make_supervisor: SupervisorFactory, tmp_path: Path) -> None:
    grandchild_file = tmp_path / "grandchild.pid"
    supervisor = make_supervisor(
        fast_settings(), fake_worker_command("--grandchild-pid-file", str(grandchild_file))
    )
    tick_until(supervisor, lambda: supervisor.state is WorkerState.RUNNING)
    first_pid = supervisor.pid
    assert first_pid is not None
    grandchild = int(grandchild_file.read_text())

    os.kill(first_pid, signal.SIGKILL)
    tick_until(supervisor, lambda: supervisor.pid not in (None, first_pid))

    assert not process_exists(grandchild)
    assert group_members(first_pid) == []


def test_hang_fault_restarts_after_failed_checks(
    make_supervisor: SupervisorFactory,
    sink: RecordingSink,
    store: Store,
    reference_model_cache: Path,
) -> None:
    # The reference worker stops responding to /healthz from its second /predict request on.
    command = reference_worker(reference_model_cache, "--fault", "hang", "--hang-after", "2")
    supervisor = make_supervisor(fast_settings(stop_timeout="1s"), command)
    tick_until(supervisor, lambda: supervisor.is_up)
    first_pid = supervisor.pid

    with PredictTraffic(supervisor, interval=0.1, timeout=0.3):
        tick_until(supervisor, lambda: supervisor.state is WorkerState.STOPPING)
    tick_until(supervisor, lambda: supervisor.is_up and supervisor.pid != first_pid)

    events = worker_events(store)
    hang = next(event for event in events if event.reason == "hang")
    assert (hang.from_state, hang.to_state) == ("running", "stopping")
    assert hang.pid == first_pid
    assert hang.detail == "3 consecutive health checks failed, the last: timed out after 0.5s"
    stopped = events[events.index(hang) + 1]
    assert (stopped.from_state, stopped.to_state, stopped.reason) == ("stopping", "backoff", "hang")
    # Hung requests hold up the worker's graceful shutdown past the 1 s stop timeout.
    assert stopped.exit_kind == "signal"
    assert stopped.exit_signal == signal.SIGKILL
    assert supervisor.last_exit is not None
    assert supervisor.last_exit.description == "killed by SIGKILL (sent by the supervisor)"
    restarted = events[events.index(hang) + 2]
    assert (restarted.from_state, restarted.to_state, restarted.reason) == (
        "backoff",
        "starting",
        "restart",
    )
    assert len(sink.firing(RULE_DOWN)) == 1
    assert sink.firing(RULE_DOWN)[0].summary == f"worker hangs: {hang.detail}"
    assert len(sink.resolved(RULE_DOWN)) == 1


def test_leak_fault_restarted_before_hard_limit(
    make_supervisor: SupervisorFactory,
    sink: RecordingSink,
    store: Store,
    reference_model_cache: Path,
) -> None:
    # The reference worker starts at about 130 MiB and keeps 8 MiB per /predict request.
    hard_limit = 480 * 2**20
    settings = fast_settings(memory={"soft_limit_ratio": 0.625, "samples": 3, "interval": "200ms"})
    command = reference_worker(reference_model_cache, "--fault", "leak", "--leak-bytes", "8MiB")
    supervisor = make_supervisor(settings, command, placement=Placement(None, None, hard_limit))
    tick_until(supervisor, lambda: supervisor.is_up)
    first_pid = supervisor.pid
    peak = 0

    def restarted() -> bool:
        nonlocal peak
        peak = max(peak, supervisor.last_memory or 0)
        return supervisor.is_up and supervisor.pid != first_pid

    with PredictTraffic(supervisor, interval=0.05):
        tick_until(supervisor, restarted)

    events = worker_events(store)
    memory = next(event for event in events if event.reason == "memory")
    assert (memory.from_state, memory.to_state) == ("running", "stopping")
    assert memory.pid == first_pid
    assert memory.detail.startswith("memory ")
    assert memory.detail.endswith("above the soft limit 300.0 MiB for 3 readings")
    assert 300 * 2**20 < memory.memory_bytes < hard_limit
    assert peak < hard_limit
    assert len(sink.firing(RULE_MEMORY)) == 1
    assert sink.firing(RULE_MEMORY)[0].summary.startswith("worker over its memory budget")
    assert len(sink.resolved(RULE_MEMORY)) == 1


def test_real_oom_kill_classified(
    make_supervisor: SupervisorFactory,
    store: Store,
    cgroup_parent: MemoryCgroup,
    reference_model_cache: Path,
) -> None:
    # A 256 MiB cgroup limit and a 32 MiB leak per request: the kernel's OOM
    # killer acts long before the supervisor's soft limit (100 readings) would.
    limit = 256 * 2**20
    worker_cgroup = cgroup_parent.create_child("worker")
    worker_cgroup.set_limit(limit)
    settings = fast_settings(memory={"soft_limit_ratio": 1.0, "samples": 100})
    command = reference_worker(reference_model_cache, "--fault", "leak", "--leak-bytes", "32MiB")
    supervisor = make_supervisor(
        settings, command, placement=Placement(worker_cgroup, worker_cgroup, limit * 2)
    )
    tick_until(supervisor, lambda: supervisor.is_up)
    first_pid = supervisor.pid

    with PredictTraffic(supervisor, interval=0.05):
        tick_until(supervisor, lambda: supervisor.state is WorkerState.BACKOFF)

    exit_event = worker_events(store)[-1]
    assert exit_event.reason == "exit"
    assert exit_event.pid == first_pid
    assert exit_event.exit_kind == "oom"
    assert exit_event.exit_signal == 9
    assert exit_event.detail == (
        "OOM kill (killed by SIGKILL; the cgroup's oom_kill counter rose from 0 to 1)"
    )
    assert supervisor.last_exit is not None
    assert supervisor.last_exit.kind is ExitKind.OOM


def test_worker_environment_lacks_systemd_variables(
    make_supervisor: SupervisorFactory, tmp_path: Path
) -> None:
    env_file = tmp_path / "environment.json"
    environ = {
        **os.environ,
        "NOTIFY_SOCKET": "@/org/freedesktop/systemd1/notify/123",
        "WATCHDOG_USEC": "30000000",
        "WATCHDOG_PID": str(os.getpid()),
        "CREDENTIALS_DIRECTORY": "/run/credentials/inference-watchdog.service",
        "WORKER_MODEL": "resnet",
    }
    settings = fast_settings(environment={"OMP_NUM_THREADS": "1", "NOTIFY_SOCKET": "/run/x"})

    supervisor = make_supervisor(settings, fake_worker_command("--env-file", str(env_file)), environ=environ)
    tick_until(supervisor, lambda: supervisor.state is WorkerState.RUNNING)

    seen = json.loads(env_file.read_text())
    for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "CREDENTIALS_DIRECTORY"):
        assert name not in seen
    assert seen["WORKER_MODEL"] == "resnet"
    assert seen["OMP_NUM_THREADS"] == "1"
    assert seen["PATH"] == os.environ["PATH"]


def test_worker_in_own_process_group(make_supervisor: SupervisorFactory) -> None:
    supervisor = make_supervisor(fast_settings(), fake_worker_command())
    tick_until(supervisor, lambda: supervisor.state is WorkerState.RUNNING)
    pid = supervisor.pid
    assert pid is not None

    assert os.getpgid(pid) == pid
    assert os.getsid(pid) == pid
    assert os.getpgid(pid) != os.getpgid(0)


def test_startup_timeout_counts_as_failure(
    make_supervisor: SupervisorFactory, sink: RecordingSink, store: Store
) -> None:
    settings = fast_settings(health={"startup_timeout": "500ms"})
    supervisor = make_supervisor(settings, fake_worker_command("--startup-delay", "30"))

    tick_until(supervisor, lambda: supervisor.state is WorkerState.BACKOFF)

    reasons = [(event.to_state, event.reason) for event in worker_events(store)]
    assert reasons == [
        ("starting", "start"),
        ("stopping", "startup_timeout"),
        ("backoff", "startup_timeout"),
    ]
    assert len(sink.firing(RULE_DOWN)) == 1


def test_missing_command_is_fatal_until_restart(
    make_supervisor: SupervisorFactory, sink: RecordingSink, store: Store, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-worker"
    supervisor = make_supervisor(fast_settings(), [str(missing)])

    assert supervisor.state is WorkerState.FATAL
    assert len(sink.firing(RULE_FATAL)) == 1
    supervisor.tick()
    assert supervisor.state is WorkerState.FATAL

    missing.write_text("#!/bin/sh\nexec sleep 600\n")
    missing.chmod(0o755)
    outcome = supervisor.request_restart("test")

    assert supervisor.state is WorkerState.STARTING
    assert outcome == RestartOutcome(True, f"started pid {supervisor.pid} (was fatal)")
    fatal = next(event for event in worker_events(store) if event.to_state == "fatal")
    assert fatal.detail == (
        f"worker command '{missing}' not found or not executable: check supervision.command "
        "and the PATH of the daemon"
    )


def test_manual_restart_ends_cooloff(make_supervisor: SupervisorFactory, store: Store) -> None:
    clock = FakeClock()
    settings = fast_settings(restart={"crash_loop_restarts": 2, "crash_loop_cooloff": "10m"})
    supervisor = make_supervisor(settings, fake_worker_command("--exit-status", "1"), clock=clock)
    for _ in range(40):
        pid = supervisor.pid
        if pid is not None:
            wait_until_exited(pid)
        clock.advance(0.5)
        supervisor.tick()
    assert supervisor.state is WorkerState.BACKOFF

    outcome = supervisor.request_restart("operator")

    assert outcome == RestartOutcome(True, f"started pid {supervisor.pid} (was backoff)")
    last = worker_events(store)[-1]
    assert (last.from_state, last.to_state, last.reason) == ("backoff", "starting", "manual")
    assert last.detail == "requested by operator"


def test_manual_restart_of_running_worker(make_supervisor: SupervisorFactory, store: Store) -> None:
    supervisor = make_supervisor(fast_settings(), fake_worker_command())
    tick_until(supervisor, lambda: supervisor.state is WorkerState.RUNNING)
    first_pid = supervisor.pid

    outcome = supervisor.request_restart("operator")
    tick_until(
        supervisor,
        lambda: supervisor.state is WorkerState.RUNNING and supervisor.pid != first_pid,
    )

    assert outcome == RestartOutcome(True, f"restarting: stopping pid {first_pid} (was running)")
    transitions = [(event.from_state, event.to_state, event.reason) for event in worker_events(store)]
    assert transitions[-3:] == [
        ("running", "stopping", "manual"),
        ("stopping", "starting", "manual"),
        ("starting", "running", "ready"),
    ]
