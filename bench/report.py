"""Time the monthly summary on a database holding 13 months of minute rollups.

Usage: .venv/bin/python bench/report.py [--months 13] [--runs 5] [--db PATH]

It fills a migrated SQLite file with one metric rollup per minute for
``--months`` months (about 43,800 rows a month), daily spend for three
services, worker events and alert counts, then builds the report of the
last full month (figures and chart) ``--runs`` times and prints a table.
The target is under 2 s per report.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert

from watchdog.config import Settings
from watchdog.reports.component import build_month
from watchdog.reports.figures import Month
from watchdog.storage import Store, open_store
from watchdog.storage.models import MetricRollup, SpendDailyCost, WorkerEvent

SERVICES = ("Amazon Elastic Compute Cloud - Compute", "AmazonCloudWatch", "Amazon Simple Storage Service")


def fill(store: Store, first: Month, months: int, rng: random.Random) -> int:
    """Write ``months`` months of minute rollups, daily spend and worker events; return the rollup rows."""
    start = first.start
    end = start
    month = first
    for _ in range(months):
        month = month.next()
    end = month.start
    rows = 0
    batch: list[dict[str, object]] = []
    minute = start
    with store.engine.begin() as connection:
        while minute < end:
            requests = rng.randint(200, 900)
            batch.append(
                {
                    "minute": minute,
                    "windows": 6,
                    "worker_up_windows": 6,
                    "request_count": requests,
                    "error_count": rng.randint(0, 3),
                    "latency_ms": [[5.0, requests // 2], [12.0, requests // 2 - 4], [80.0, 4]],
                    "p50_ms": 5.0,
                    "p99_ms": 80.0,
                    "max_queue_depth": float(rng.randint(0, 20)),
                    "max_in_flight": 4.0,
                    "max_memory_rss": rng.randint(200, 400) * 1024 * 1024,
                    "max_memory_per_request": 1.5e6,
                }
            )
            minute += timedelta(minutes=1)
            if len(batch) == 5000:
                connection.execute(insert(MetricRollup), batch)
                rows += len(batch)
                batch = []
        if batch:
            connection.execute(insert(MetricRollup), batch)
            rows += len(batch)

        day = start.date()
        spend = []
        while day < end.date():
            for service in SERVICES:
                spend.append(
                    {
                        "day": day,
                        "service": service,
                        "record_type": "Usage",
                        "amount": Decimal(rng.randint(100, 2000)) / 100,
                        "unit": "USD",
                        "estimated": False,
                        "metric": "UnblendedCost",
                        "source": "cost_explorer",
                        "fetched_at": datetime.now(UTC),
                    }
                )
            day += timedelta(days=1)
        connection.execute(insert(SpendDailyCost), spend)

        events = []
        moment = start
        while moment < end:
            events.append({"at": moment, "from_state": "running", "to_state": "backoff", "reason": "exit"})
            events.append(
                {
                    "at": moment + timedelta(seconds=2),
                    "from_state": "backoff",
                    "to_state": "starting",
                    "reason": "due",
                }
            )
            events.append(
                {
                    "at": moment + timedelta(seconds=4),
                    "from_state": "starting",
                    "to_state": "running",
                    "reason": "ok",
                }
            )
            moment += timedelta(hours=rng.randint(6, 48))
        connection.execute(insert(WorkerEvent), events)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--months", type=int, default=13)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--db", type=Path, default=None, help="SQLite file to create (default: a temp file)")
    args = parser.parse_args()

    directory = Path(tempfile.mkdtemp(prefix="bench-report-"))
    path = args.db or directory / "watchdog.db"
    store = open_store(f"sqlite:///{path}")
    first = Month(2025, 11)
    began = time.perf_counter()
    rows = fill(store, first, args.months, random.Random(42))
    filled = time.perf_counter() - began
    settings = Settings(state_dir=directory)
    month = first
    for _ in range(args.months - 1):
        month = month.next()
    now = month.end + timedelta(hours=10)

    timings = []
    for _ in range(args.runs):
        began = time.perf_counter()
        with store.session() as session:
            report, chart = build_month(session, settings, month, now)
        timings.append(time.perf_counter() - began)
    store.close()

    size_mb = path.stat().st_size / 1e6
    print(f"database: {path} ({size_mb:.0f} MB, {rows:,} minute rollups, filled in {filled:.1f} s)")
    print(f"report month: {month}, {report.inferences:,} inferences, chart {len(chart):,} bytes")
    print()
    print("| runs | min (s) | median (s) | max (s) | target (s) |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    print(
        f"| {len(timings)} | {min(timings):.3f} | {statistics.median(timings):.3f} | "
        f"{max(timings):.3f} | 2.000 |"
    )


if __name__ == "__main__":
    main()
