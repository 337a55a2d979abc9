"""Restart timing after SIGKILL: how soon the daemon starts the worker again and when it is ready.

Runs the real daemon loop (APScheduler job, default tick and backoff
settings) with one supervised worker in a temporary state directory, kills
the worker with SIGKILL again and again, and reads each phase from the
stored worker transitions. Two settings differ from the defaults so that
every kill meets a stable worker: ``stable_after`` is 2 s (each kill waits
for it, so the delay is always ``backoff_initial``) and
``crash_loop_restarts`` is 1000.

- detect: SIGKILL sent -> exit recorded (the tick that polled the process)
- restart: SIGKILL sent -> new process spawned (detection plus backoff)
- ready: SIGKILL sent -> new process passed its health check
- startup: spawned -> ready (the worker's own start-up plus health polling)

    .venv/bin/python bench/supervision.py --runs 20
    .venv/bin/python bench/supervision.py --worker stub   # stdlib worker, no model
    .venv/bin/python bench/supervision.py --idle-cpu 30   # daemon CPU while the worker is healthy

The ``reference`` worker is ``python -m watchdog.worker serve`` with its
bundled model. ``stub`` is the test worker in tests/supervision/. It loads
nothing, so its numbers are the supervisor's own overhead.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from watchdog.config import LoadedSettings, load_settings
from watchdog.daemon import Daemon
from watchdog.storage.models import WorkerEvent
from watchdog.supervision.component import SupervisionComponent, reference_worker_command
from watchdog.supervision.supervisor import Supervisor

STABLE_AFTER = 2.0
STUB_WORKER = Path(__file__).resolve().parents[1] / "tests" / "supervision" / "fake_worker.py"


def wait_for(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.01)
    raise SystemExit(f"timed out after {timeout}s waiting for the worker; see the log above")


def worker_command(kind: str) -> list[str]:
    if kind == "reference":
        return reference_worker_command()
    return [sys.executable, str(STUB_WORKER), "--port", "{port}"]


def events_after(daemon: Daemon, after_id: int) -> list[WorkerEvent]:
    with daemon.store.session() as session:
        statement = select(WorkerEvent).where(WorkerEvent.id > after_id).order_by(WorkerEvent.id)
        return list(session.scalars(statement).all())


def bench_settings(directory: str, kind: str, tick_interval: str | None) -> LoadedSettings:
    supervision: dict[str, object] = {
        "command": worker_command(kind),
        # A budget, so that the idle measurement includes the memory readings.
        "memory": {"cgroup": "off", "limit": "4GiB"},
        "restart": {"stable_after": f"{STABLE_AFTER}s", "crash_loop_restarts": 1000},
    }
    if tick_interval:
        supervision["tick_interval"] = tick_interval
    return load_settings(
        overrides={"mode": "production", "state_dir": Path(directory), "supervision": supervision},
        environ={},
    )


def idle_cpu(kind: str, seconds: float, tick_interval: str | None) -> None:
    """Print the daemon's CPU use while it supervises a healthy worker."""
    with tempfile.TemporaryDirectory(prefix="bench-supervision-") as directory:
        loaded = bench_settings(directory, kind, tick_interval)
        daemon = Daemon(loaded, factories=[SupervisionComponent])
        worker = daemon.context.services.worker
        assert isinstance(worker, Supervisor)
        daemon.start()
        try:
            wait_for(lambda: worker.is_up, timeout=120)
            before = os.times()
            started = time.monotonic()
            time.sleep(seconds)
            after = os.times()
            elapsed = time.monotonic() - started
        finally:
            daemon.stop()
    used = (after.user - before.user) + (after.system - before.system)
    tick = loaded.settings.supervision.tick_interval.total_seconds()
    print(
        f"worker: {kind}, tick {tick:g}s: daemon CPU {used:.2f}s in {elapsed:.1f}s "
        f"({100 * used / elapsed:.2f} % of one core)"
    )


def measure(kind: str, runs: int, tick_interval: str | None) -> dict[str, list[float]]:
    phases: dict[str, list[float]] = {"detect": [], "restart": [], "ready": [], "startup": []}
    with tempfile.TemporaryDirectory(prefix="bench-supervision-") as directory:
        loaded = bench_settings(directory, kind, tick_interval)
        daemon = Daemon(loaded, factories=[SupervisionComponent])
        worker = daemon.context.services.worker
        assert isinstance(worker, Supervisor)
        daemon.start()
        try:
            wait_for(lambda: worker.is_up, timeout=120)
            for _ in range(runs):
                # Past stable_after (and one more tick) the backoff is back at its start;
                # the random part spreads the kills over the phase of the tick.
                tick = loaded.settings.supervision.tick_interval.total_seconds()
                time.sleep(STABLE_AFTER + 2 * tick + random.uniform(0, tick))
                last_id = max((event.id for event in events_after(daemon, 0)), default=0)
                pid = worker.pid
                assert pid is not None
                killed_at = datetime.now(UTC)
                os.kill(pid, signal.SIGKILL)
                wait_for(lambda old=pid: worker.is_up and worker.pid != old, timeout=120)
                # The state changes just before its row is committed.
                wait_for(
                    lambda after=last_id: any(
                        event.to_state == "running" for event in events_after(daemon, after)
                    ),
                    timeout=10,
                )
                events = events_after(daemon, last_id)
                exited = next(event for event in events if event.reason == "exit")
                spawned = next(event for event in events if event.to_state == "starting")
                ready = next(event for event in events if event.to_state == "running")
                phases["detect"].append((exited.at - killed_at).total_seconds())
                phases["restart"].append((spawned.at - killed_at).total_seconds())
                phases["ready"].append((ready.at - killed_at).total_seconds())
                phases["startup"].append((ready.at - spawned.at).total_seconds())
        finally:
            daemon.stop()
    return phases


def print_table(kind: str, runs: int, phases: dict[str, list[float]]) -> None:
    print(f"worker: {kind}, runs: {runs}, seconds after SIGKILL (startup: after spawn)")
    print(f"{'phase':<8} {'min':>7} {'median':>7} {'p90':>7} {'max':>7}")
    for name, values in phases.items():
        ordered = sorted(values)
        p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
        print(
            f"{name:<8} {ordered[0]:>7.3f} {statistics.median(ordered):>7.3f} {p90:>7.3f} {ordered[-1]:>7.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="SIGKILLs to measure")
    parser.add_argument(
        "--worker",
        choices=["reference", "stub"],
        help="worker to supervise [default: reference if watchdog.worker exists, else stub]",
    )
    parser.add_argument(
        "--tick-interval", help="supervision.tick_interval, such as 250ms [default: the setting's]"
    )
    parser.add_argument(
        "--idle-cpu",
        type=float,
        metavar="SECONDS",
        help="measure the daemon's CPU use over SECONDS with a healthy worker instead",
    )
    options = parser.parse_args()
    kind = options.worker
    if kind is None:
        kind = "reference" if importlib.util.find_spec("watchdog.worker") else "stub"
    if options.idle_cpu:
        idle_cpu(kind, options.idle_cpu, options.tick_interval)
        return
    phases = measure(kind, options.runs, options.tick_interval)
    print_table(kind, options.runs, phases)


if __name__ == "__main__":
    main()
