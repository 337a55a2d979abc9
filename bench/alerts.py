"""Benchmark of the alert engine: events per second from rule evaluation to the outbox.

Each scenario builds metric windows and runs them through ``MetricRules``.
It emits the events to a real ``AlertEngine`` on a SQLite file in a
temporary directory, and runs the engine's processing cycle (dedup,
grouping, flood guard, one SQLite transaction into the outbox) every
``--cycle`` events. Time is
simulated (10 s per window), so the numbers measure the code, not waiting.
Nothing is sent to Slack.

    .venv/bin/python bench/alerts.py [--windows N] [--cycle N]

Prints a Markdown table; docs/performance.md records a run.
"""

from __future__ import annotations

import argparse
import logging
import platform
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from watchdog.alerts.engine import AlertEngine
from watchdog.alerts.rules import MetricRules, MetricWindow
from watchdog.config import Settings
from watchdog.storage import open_store
from watchdog.storage.models import OutboxMessage

START = datetime(2026, 3, 2, tzinfo=UTC)
WINDOW = timedelta(seconds=10)


@dataclass
class Result:
    """One scenario's outcome."""

    name: str
    events: int
    seconds: float
    outbox_rows: int

    @property
    def rate(self) -> float:
        return self.events / self.seconds


class Clock:
    def __init__(self) -> None:
        self.time = START

    def __call__(self) -> datetime:
        return self.time


def storm_windows(count: int, hosts: int) -> Iterator[tuple[int, MetricWindow]]:
    """Yield the windows of a retry storm: above the expected peak, with high latency and errors."""
    for index in range(count):
        start = START + WINDOW * (index // hosts)
        yield (
            index % hosts,
            MetricWindow(
                start=start,
                end=start + WINDOW,
                requests=900,
                errors=90,
                p99_latency_seconds=2.5,
                queue_depth=120,
                memory_bytes=900 * 80 * 1024**2,
                expected_peak_rps=50,
            ),
        )


def flapping_windows(count: int, hosts: int) -> Iterator[tuple[int, MetricWindow]]:
    """Yield windows whose latency crosses both levels each time, so every event is a state change."""
    for index in range(count):
        start = START + WINDOW * (index // hosts)
        latency = 2.0 if (index // hosts) % 2 == 0 else 0.1
        yield (
            index % hosts,
            MetricWindow(start=start, end=start + WINDOW, requests=10, errors=0, p99_latency_seconds=latency),
        )


def run_scenario(
    name: str,
    *,
    windows: Callable[[int, int], Iterator[tuple[int, MetricWindow]]],
    count: int,
    hosts: int,
    cycle: int,
    directory: Path,
) -> Result:
    settings = Settings(
        mode="production",
        state_dir=directory,
        alerts={
            "default_route": {"group_by": ["rule", "host"], "group_wait": "0s"},
            "rules": {
                rule: {"for": "0s"}
                for rule in ("p99_latency", "queue_depth", "memory_per_request", "error_rate", "traffic")
            },
        },
    )
    database = directory / (name.replace(" ", "-").replace(",", "") + ".db")
    store = open_store(f"sqlite:///{database}")
    clock = Clock()
    engine = AlertEngine(store, settings, clock)
    engine.load()
    rules = [MetricRules(settings.alerts.rules, {"host": f"host-{i}"}) for i in range(hosts)]

    events = 0
    since_cycle = 0
    started = time.perf_counter()
    for host, window in windows(count, hosts):
        clock.time = window.end
        for event in rules[host].evaluate(window):
            engine.emit(event)
            events += 1
            since_cycle += 1
        if since_cycle >= cycle:
            engine.process()
            since_cycle = 0
    engine.process()
    seconds = time.perf_counter() - started

    with store.session() as session:
        rows = session.scalar(select(func.count()).select_from(OutboxMessage)) or 0
    store.close()
    return Result(name, events, seconds, int(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=20_000, help="metric windows per scenario")
    parser.add_argument("--cycle", type=int, default=5_000, help="events between processing cycles")
    args = parser.parse_args()
    # The flapping scenario logs a warning per host; the table is the output here.
    logging.getLogger("watchdog").setLevel(logging.ERROR)

    scenarios = [
        ("storm, 1 host", storm_windows, 1),
        ("storm, 500 hosts", storm_windows, 500),
        ("flapping, 50 hosts", flapping_windows, 50),
    ]
    results = []
    with tempfile.TemporaryDirectory() as directory:
        for name, windows, hosts in scenarios:
            results.append(
                run_scenario(
                    name,
                    windows=windows,
                    count=args.windows,
                    hosts=hosts,
                    cycle=args.cycle,
                    directory=Path(directory),
                )
            )

    print(
        f"Python {platform.python_version()} on {platform.machine()}, {args.windows} windows, "
        f"a processing cycle every {args.cycle} events\n"
    )
    print("| scenario | events | seconds | events/s | outbox rows |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for result in results:
        print(
            f"| {result.name} | {result.events:,} | {result.seconds:.2f} | "
            f"{result.rate:,.0f} | {result.outbox_rows:,} |"
        )


if __name__ == "__main__":
    main()
