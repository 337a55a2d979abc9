"""Benchmark: the daemon's own CPU time, peak RSS and PutMetricData calls at 10-second ticks.

    .venv/bin/python bench/daemon_overhead.py --duration 600

Every party runs in its own process, so that only the daemon is measured:
moto's server (CloudWatch), the Slack API double, the worker (the bundled
reference worker with a steady load generator when ``watchdog.worker`` is
installed, else a stand-in that serves the reference worker's metric names
with simulated traffic), and the daemon itself. The script re-runs itself
with ``--role`` for each party.

Measured on the daemon process alone, from the end of a warm-up to the end
of the run: CPU time (user + system) as a share of one core, the peak RSS
(``VmHWM``), ticks, and PutMetricData requests per hour from the daemon's
own counters. Targets: at most 0.2 % of one core, at most 90 MB peak RSS,
one request per tick. Results go in docs/performance.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WARM_UP_SECONDS = 25.0
TARGET_CPU_PERCENT = 0.2
TARGET_PEAK_RSS_MB = 90.0


# -- the parties -------------------------------------------------------------


def serve_moto() -> None:
    from watchdog.embedded.aws import EmbeddedAws

    server = EmbeddedAws()
    server.start()
    print(server.endpoint_url, flush=True)
    sys.stdin.read()
    server.stop()


def serve_slack(log_path: str) -> None:
    from watchdog.embedded.slack_double import SlackDouble

    double = SlackDouble(log_path=Path(log_path))
    double.start()
    print(double.base_url, flush=True)
    sys.stdin.read()
    double.stop()


def serve_stand_in_worker() -> None:
    """Serve the reference worker's metric names, with about 20 requests a second."""
    import random

    from prometheus_client import (
        CollectorRegistry,
        Counter,
        Gauge,
        Histogram,
        ProcessCollector,
        start_http_server,
    )

    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    duration = Histogram("inference_duration_seconds", "Model run time.", registry=registry)
    requests = Counter("inference_requests_total", "Requests.", ["outcome"], registry=registry)
    queue = Gauge("inference_queue_depth", "Queued requests.", registry=registry)
    in_flight = Gauge("inference_in_flight", "Running requests.", registry=registry)
    server, _ = start_http_server(0, addr="127.0.0.1", registry=registry)
    print(server.server_port, flush=True)

    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    while not stop.wait(0.05):
        duration.observe(random.uniform(0.005, 0.05))
        requests.labels("ok" if random.random() > 0.01 else "error").inc()
        queue.set(random.randint(0, 3))
        in_flight.set(random.randint(0, 2))


def run_daemon(
    *,
    state_dir: str,
    aws_endpoint: str,
    slack_url: str,
    worker_url: str,
    worker_pid: int,
    duration: float,
) -> None:
    from watchdog.aws import AwsClients
    from watchdog.config import load_settings
    from watchdog.daemon import Daemon
    from watchdog.embedded.aws import EMBEDDED_ACCESS_KEY_ID, EMBEDDED_SECRET_ACCESS_KEY
    from watchdog.logs import configure_logging
    from watchdog.systemd import Notifier

    loaded = load_settings(
        overrides={
            "mode": "production",
            "state_dir": Path(state_dir),
            "log_level": "WARNING",
            "aws": {"endpoint_url": aws_endpoint},
            "slack": {"base_url": slack_url, "bot_token": "xoxb-bench-local-double"},
        },
        environ={},
    )
    configure_logging("WARNING")
    aws = AwsClients(
        loaded.settings.aws,
        access_key_id=EMBEDDED_ACCESS_KEY_ID,
        secret_access_key=EMBEDDED_SECRET_ACCESS_KEY,
    )
    daemon = Daemon(loaded, aws=aws, notifier=Notifier(None))
    if daemon.context.services.worker is None:
        # NOTE: without supervision in the daemon, the worker is handed over as attach mode would.
        daemon.context.services.worker = _AttachedWorker(worker_pid, worker_url)
    daemon.start()
    print("started", flush=True)
    try:
        daemon.run(threading.Event(), None if duration <= 0 else _seconds(duration))
    finally:
        daemon.stop()


class _AttachedWorker:
    def __init__(self, pid: int, url: str) -> None:
        self.pid = pid
        self.is_up = True
        self.started_at = None
        self.metrics_url = url


def _seconds(value: float) -> Any:
    from datetime import timedelta

    return timedelta(seconds=value)


# -- the measurement ---------------------------------------------------------


def start_role(role: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, __file__, "--role", role, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def first_line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if not line:
        raise RuntimeError(f"process {process.args} exited before it was ready")
    return line


def start_worker(duration: float) -> tuple[list[subprocess.Popen[str]], str, int, str]:
    """Start the reference worker and a steady load, or the stand-in; return url and pid."""
    if importlib.util.find_spec("watchdog.worker") is not None:
        port = _free_port()
        worker = subprocess.Popen(
            [sys.executable, "-m", "watchdog", "worker", "serve", "--host", "127.0.0.1", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        base = f"http://127.0.0.1:{port}"
        _wait_for(f"{base}/healthz", 120)
        load = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "watchdog",
                "loadgen",
                "--url",
                base,
                "--rate",
                "20",
                "--concurrency",
                "2",
                "--duration",
                f"{int(duration + WARM_UP_SECONDS + 30)}s",
                "--profile",
                "steady",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        return [worker, load], f"{base}/metrics", worker.pid, "reference worker + loadgen (8 req/s)"
    stand_in = start_role("stand-in-worker")
    port = int(first_line(stand_in))
    return [stand_in], f"http://127.0.0.1:{port}/metrics", stand_in.pid, "stand-in worker (20 req/s)"


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(url: str, seconds: float) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} not ready within {seconds:.0f}s")


def peak_rss_bytes(pid: int) -> int:
    """Return the process's peak resident set (VmHWM) in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


def measure(duration: float) -> dict[str, Any]:
    import psutil

    from watchdog.config import Settings
    from watchdog.status import collect_status
    from watchdog.storage import open_store

    state_dir = tempfile.mkdtemp(prefix="daemon-overhead-")
    moto = start_role("moto")
    slack = start_role("slack", str(Path(state_dir) / "slack.jsonl"))
    parties = [moto, slack]
    try:
        aws_endpoint = first_line(moto)
        slack_url = first_line(slack)
        workers, worker_url, worker_pid, worker_kind = start_worker(duration)
        parties.extend(workers)

        daemon = start_role(
            "daemon",
            state_dir,
            aws_endpoint,
            slack_url,
            worker_url,
            str(worker_pid),
            str(duration + WARM_UP_SECONDS + 5),
        )
        parties.append(daemon)
        first_line(daemon)
        process = psutil.Process(daemon.pid)

        time.sleep(WARM_UP_SECONDS)
        settings = Settings(state_dir=Path(state_dir))
        before_cpu = process.cpu_times()
        before_requests, before_ticks = _daemon_counts(settings, open_store, collect_status)
        started = time.monotonic()

        time.sleep(duration)

        wall = time.monotonic() - started
        after_cpu = process.cpu_times()
        peak = peak_rss_bytes(daemon.pid)
        resident = process.memory_info().rss
        after_requests, after_ticks = _daemon_counts(settings, open_store, collect_status)
    finally:
        for party in reversed(parties):
            _stop(party)

    cpu = (after_cpu.user + after_cpu.system) - (before_cpu.user + before_cpu.system)
    requests = after_requests - before_requests
    ticks = after_ticks - before_ticks
    return {
        "worker": worker_kind,
        "seconds": round(wall, 1),
        "cpu_seconds": round(cpu, 3),
        "cpu_percent_of_one_core": round(100 * cpu / wall, 3),
        "peak_rss_mb": round(peak / 1e6, 1),
        "rss_at_end_mb": round(resident / 1e6, 1),
        "ticks": ticks,
        "put_metric_data_requests": requests,
        "requests_per_tick": round(requests / ticks, 3) if ticks else None,
        "put_metric_data_per_hour": round(requests * 3600 / wall),
    }


def _daemon_counts(settings: Any, open_store: Any, collect_status: Any) -> tuple[int, int]:
    store = open_store(settings.resolved_database_url(), migrate=False)
    try:
        status = collect_status(store, settings)
    finally:
        store.close()
    tick = status["jobs"].get("metrics-tick", {})
    return int(status["metrics"]["put_metric_data_requests"]), int(tick.get("runs", 0))


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is not None:
        return
    if process.stdin is not None:
        try:
            process.stdin.close()
        except BrokenPipeError:
            pass
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def print_table(result: dict[str, Any]) -> None:
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    print(
        f"worker: {result['worker']}; measured {result['seconds']} s after a {WARM_UP_SECONDS:.0f} s warm-up"
    )
    print()
    print("| measure | value | target |")
    print("| --- | --- | --- |")
    print(f"| CPU, % of one core | {result['cpu_percent_of_one_core']} | <= {TARGET_CPU_PERCENT} |")
    print(f"| CPU seconds | {result['cpu_seconds']} | |")
    print(f"| peak RSS (MB) | {result['peak_rss_mb']} | <= {TARGET_PEAK_RSS_MB:.0f} |")
    print(f"| RSS at the end (MB) | {result['rss_at_end_mb']} | |")
    print(f"| ticks | {result['ticks']} | |")
    print(f"| PutMetricData requests | {result['put_metric_data_requests']} | |")
    print(f"| requests per tick | {result['requests_per_tick']} | 1 |")
    print(f"| PutMetricData per hour | {result['put_metric_data_per_hour']} | 360 |")
    print()
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=600.0, help="Seconds measured (600).")
    parser.add_argument("--role", help=argparse.SUPPRESS)
    parser.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    options = parser.parse_args()

    if options.role == "moto":
        serve_moto()
    elif options.role == "slack":
        serve_slack(*options.args)
    elif options.role == "stand-in-worker":
        serve_stand_in_worker()
    elif options.role == "daemon":
        state_dir, aws_endpoint, slack_url, worker_url, worker_pid, duration = options.args
        run_daemon(
            state_dir=state_dir,
            aws_endpoint=aws_endpoint,
            slack_url=slack_url,
            worker_url=worker_url,
            worker_pid=int(worker_pid),
            duration=float(duration),
        )
    else:
        print_table(measure(options.duration))


if __name__ == "__main__":
    main()
