"""Benchmark of the reference worker: latency, throughput and memory, shared session vs per-request loading.

Run from the repository root:

    .venv/bin/python bench/worker.py                   # digits model and a 100 MB synthetic model
    .venv/bin/python bench/worker.py --quick --model-size 20MB

For each model it starts a fresh worker process per mode and concurrency
and drives it with the load generator at an unlimited rate. The worker's
prediction cache and rate limit are off, so every request runs inference.
It reports:

- p50, p99 and throughput at concurrency 1, 10 and 50, with the shared
  session and with the load-per-request fault, and their ratios;
- peak RSS (``VmHWM`` of the worker process) at each concurrency;
- RSS growth between request 1,000 and request 10,000 at concurrency 10;
- at concurrency 1, the bare ``InferenceSession.run`` time against the HTTP
  round trip of the same sample, measured in alternation.

It prints Markdown tables. Point it at nothing: it starts its own workers on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import signal
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from watchdog.config.types import parse_byte_size
from watchdog.config.worker import default_model_cache_dir
from watchdog.worker import digits
from watchdog.worker.cpus import detect_usable_cpus
from watchdog.worker.launcher import WorkerProcess
from watchdog.worker.loadgen import LoadPlan, LoadResult, run_load
from watchdog.worker.runtime import create_session
from watchdog.worker.synthetic import ensure_synthetic_model

CONCURRENCY = (1, 10, 50)
READY_TIMEOUT = 300.0
MiB = 1024 * 1024


@dataclass(frozen=True)
class Level:
    """One measured point: a mode at a concurrency, and at concurrency 1 the paired latencies."""

    mode: str
    concurrency: int
    result: LoadResult
    peak_rss: int
    paired: Paired | None = None


def proc_kib(path: str, field: str) -> int:
    """Return the number after ``field:`` in a /proc file (VmRSS, VmHWM, MemTotal are in kB)."""
    for line in Path(path).read_text(encoding="ascii").splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise KeyError(f"{field} not in {path}")


def process_memory(pid: int, field: str) -> int:
    """Return ``VmRSS`` or ``VmHWM`` (peak RSS) of a process in bytes."""
    return proc_kib(f"/proc/{pid}/status", field) * 1024


def machine_description() -> list[str]:
    """Describe the host: CPUs, CPU model, RAM and library versions."""
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    memory_kib = proc_kib("/proc/meminfo", "MemTotal")
    versions = ", ".join(
        f"{name} {metadata.version(name)}" for name in ("onnxruntime", "starlette", "uvicorn", "httpx")
    )
    return [
        f"- CPUs: `nproc` = {os.cpu_count()}, usable by the worker = {detect_usable_cpus()}",
        f"- CPU model: {model}",
        f"- RAM: {memory_kib / 1024 / 1024:.1f} GiB",
        f"- Python {platform.python_version()}, {versions}",
    ]


@dataclass(frozen=True)
class Paired:
    """Medians of the bare run and of the HTTP round trip, measured in alternation."""

    bare: float
    http: float


def paired_latency(worker: WorkerProcess, model: Path, samples: np.ndarray, pairs: int) -> Paired:
    """Alternate one bare ``InferenceSession.run`` and one HTTP request of the same sample.

    Both sides see the same moment of a shared, noisy machine, so their ratio
    holds even when the absolute times drift. The bare session has the
    worker's options. The HTTP side is ``http.client`` on one keep-alive
    connection, because httpx, which the load generator uses, spends about a
    millisecond of CPU per request on its own.
    """
    assert worker.port is not None
    session = create_session(model, detect_usable_cpus())
    name = session.get_inputs()[0].name
    connection = http.client.HTTPConnection("127.0.0.1", worker.port, timeout=60)
    headers = {"Content-Type": "application/json"}
    bare_timings = []
    http_timings = []
    try:
        for index in range(pairs + 10):
            sample = samples[index % len(samples)][np.newaxis, :]
            started = time.perf_counter()
            session.run(None, {name: sample})
            bare = time.perf_counter() - started

            body = json.dumps({"inputs": sample.tolist()})
            started = time.perf_counter()
            connection.request("POST", "/predict", body, headers)
            response = connection.getresponse()
            response.read()
            round_trip = time.perf_counter() - started
            if response.status != 200:
                raise RuntimeError(f"worker returned status {response.status} to the paired client")
            # The first ten pairs warm up both sides.
            if index >= 10:
                bare_timings.append(bare)
                http_timings.append(round_trip)
    finally:
        connection.close()
    return Paired(statistics.median(bare_timings), statistics.median(http_timings))


class RssGuard:
    """Kills a worker whose RSS passes ``limit`` bytes, so a run cannot exhaust a shared machine."""

    def __init__(self, worker: WorkerProcess, limit: int) -> None:
        self.worker = worker
        self.limit = limit
        self.tripped = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="rss-guard", daemon=True)

    def __enter__(self) -> RssGuard:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._stop.wait(0.1):
            try:
                rss = process_memory(self.worker.pid, "VmRSS")
            except (OSError, KeyError):
                return
            if rss > self.limit:
                print(f"  RSS {rss / MiB:.0f} MiB over the guard; killing the worker", file=sys.stderr)
                self.tripped = True
                os.kill(self.worker.pid, signal.SIGKILL)
                return


@dataclass(frozen=True)
class Bench:
    """The benchmark's worker directory root, model cache, samples and RSS limit."""

    work_root: Path
    cache: Path
    samples: np.ndarray
    rss_limit: int

    def start_worker(self, name: str, model: Path, per_request: bool) -> WorkerProcess:
        """Start a worker with the cache and rate limit off, and wait until it is ready."""
        args = ["--model", str(model), "--cache-ttl", "0", "--rate-limit", "0", "--queue-size", "256"]
        if per_request:
            args += ["--fault", "load-per-request"]
        worker = WorkerProcess(self.work_root / name, self.cache, args)
        worker.start()
        worker.wait_ready(READY_TIMEOUT)
        return worker

    def drive(self, worker: WorkerProcess, concurrency: int, requests: int) -> LoadResult:
        """Send ``requests`` requests as fast as ``concurrency`` allows."""
        plan = LoadPlan(
            url=worker.base_url,
            rate=0,
            concurrency=concurrency,
            duration=3600,
            max_requests=requests,
            timeout=300,
        )
        return run_load(plan, self.samples)

    def measure_levels(self, model: Path, per_request: bool, requests: int, pairs: int) -> list[Level]:
        """Measure latency, throughput and peak RSS of one mode at each concurrency, a fresh worker each."""
        mode = "per-request loading" if per_request else "shared session"
        levels = []
        for concurrency in CONCURRENCY:
            name = f"{model.stem}-{'loading' if per_request else 'shared'}-{concurrency}"
            worker = self.start_worker(name, model, per_request)
            paired = None
            try:
                with RssGuard(worker, self.rss_limit) as guard:
                    self.drive(worker, 1, 5)
                    result = self.drive(worker, concurrency, requests)
                if guard.tripped:
                    raise SystemExit(f"worker RSS passed --rss-limit at concurrency {concurrency}")
                peak = process_memory(worker.pid, "VmHWM")
                if concurrency == 1 and not per_request:
                    paired = paired_latency(worker, model, self.samples, pairs)
            finally:
                worker.terminate()
            print(
                f"  {mode:<20} c={concurrency:<3} {result.succeeded}/{result.attempts} ok, "
                f"p50 {result.percentile(0.5) * 1000:.2f} ms, peak RSS {peak / MiB:.0f} MiB",
                file=sys.stderr,
            )
            levels.append(Level(mode, concurrency, result, peak, paired))
        return levels

    def measure_growth(self, model: Path, per_request: bool, checkpoints: tuple[int, int]) -> tuple[int, int]:
        """Return the worker's RSS after each checkpoint's number of requests, at concurrency 10."""
        name = f"{model.stem}-growth-{'loading' if per_request else 'shared'}"
        worker = self.start_worker(name, model, per_request)
        try:
            first = self.drive(worker, 10, checkpoints[0])
            rss_first = process_memory(worker.pid, "VmRSS")
            second = self.drive(worker, 10, checkpoints[1] - checkpoints[0])
            rss_second = process_memory(worker.pid, "VmRSS")
        finally:
            worker.terminate()
        failures = first.attempts - first.succeeded + second.attempts - second.succeeded
        if failures:
            print(f"  warning: {failures} failed requests during the growth run", file=sys.stderr)
        return rss_first, rss_second


def latency_table(shared: list[Level], loading: list[Level] | None) -> list[str]:
    """Render latency, throughput and peak RSS per concurrency, with per-request-loading ratios."""
    header = "| concurrency | mode | requests | p50 ms | p99 ms | throughput req/s | peak RSS MiB |"
    lines = [header, "|---:|---|---:|---:|---:|---:|---:|"]
    rows = list(shared) + list(loading or [])
    for level in sorted(rows, key=lambda item: (item.concurrency, item.mode != "shared session")):
        result = level.result
        lines.append(
            f"| {level.concurrency} | {level.mode} | {result.succeeded}/{result.attempts} | "
            f"{result.percentile(0.5) * 1000:.2f} | {result.percentile(0.99) * 1000:.2f} | "
            f"{result.throughput:.1f} | {level.peak_rss / MiB:.0f} |"
        )
    lines.append("")
    paired = shared[0].paired
    if paired is not None:
        lines += [
            "- concurrency 1, alternating a bare `InferenceSession.run` and an HTTP request "
            "(`http.client`, keep-alive) of the same sample, medians: "
            f"bare {paired.bare * 1000:.3f} ms, HTTP {paired.http * 1000:.3f} ms, "
            f"ratio {paired.http / paired.bare:.2f}x",
        ]
    if loading:
        lines += [
            "",
            "| concurrency | p50 ratio (loading / shared) | peak RSS ratio | "
            "throughput ratio (shared / loading) |",
            "|---:|---:|---:|---:|",
        ]
        for base, bad in zip(shared, loading, strict=True):
            lines.append(
                f"| {base.concurrency} | "
                f"{bad.result.percentile(0.5) / base.result.percentile(0.5):.1f}x | "
                f"{bad.peak_rss / base.peak_rss:.2f}x | "
                f"{base.result.throughput / max(bad.result.throughput, 1e-9):.1f}x |"
            )
    return lines


def growth_line(label: str, checkpoints: tuple[int, int], growth: tuple[int, int]) -> str:
    """Render one RSS growth row."""
    first, second = growth
    percent = (second - first) / first * 100
    return (
        f"| {label} | {checkpoints[0]:,} | {first / MiB:.1f} | {checkpoints[1]:,} | "
        f"{second / MiB:.1f} | {percent:+.2f} % |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-size", default="100MB", help="synthetic model weights (default 100MB)")
    parser.add_argument("--cache", type=Path, help="model cache directory (default: the user cache)")
    parser.add_argument("--quick", action="store_true", help="fewer requests, for a smoke run")
    parser.add_argument("--requests", type=int, help="requests per level, shared session")
    parser.add_argument("--loading-requests", type=int, help="requests per level, per-request loading")
    parser.add_argument("--growth", default="1000,10000", help="request counts of the two RSS readings")
    parser.add_argument(
        "--skip-loading-growth", action="store_true", help="skip per-request loading's RSS growth run"
    )
    parser.add_argument("--skip-digits", action="store_true", help="measure the synthetic model only")
    parser.add_argument(
        "--rss-limit", default="12GiB", help="kill a worker whose RSS passes this (default 12GiB)"
    )
    args = parser.parse_args()

    size = parse_byte_size(args.model_size)
    cache = args.cache or default_model_cache_dir(os.environ)
    first, second = (int(part) for part in args.growth.split(","))
    if args.quick:
        first, second = first // 10, second // 10
    checkpoints = (first, second)
    shared_requests = args.requests or (200 if args.quick else 1000)
    loading_requests = args.loading_requests or (40 if args.quick else 200)

    print("Building models...", file=sys.stderr)
    models = {}
    if not args.skip_digits:
        models["digits MLP"] = digits.ensure_model(cache)
    models[f"synthetic {args.model_size}"] = ensure_synthetic_model(cache, size)
    samples = digits.load_samples()
    command = " ".join(["python", "bench/worker.py", *sys.argv[1:]])
    out = ["### Machine", "", *machine_description(), f"- Command: `{command}`", ""]

    with tempfile.TemporaryDirectory(prefix="bench-worker-") as temporary:
        bench = Bench(Path(temporary), cache, samples, parse_byte_size(args.rss_limit))
        for label, model in models.items():
            size_mib = model.stat().st_size / MiB
            small = size_mib < 10
            print(f"{label}: {model} ({size_mib:.1f} MiB)", file=sys.stderr)
            pairs = 1000 if small else 300
            shared = bench.measure_levels(model, False, shared_requests, pairs)
            loading = bench.measure_levels(model, True, loading_requests, pairs)
            out += [f"### {label} ({model.stat().st_size / 1e6:.2f} MB file)", ""]
            out += latency_table(shared, loading)
            out += [
                "",
                "| mode | requests | RSS MiB | requests | RSS MiB | growth |",
                "|---|---:|---:|---:|---:|---:|",
            ]
            growth = bench.measure_growth(model, False, checkpoints)
            out.append(growth_line("shared session", checkpoints, growth))
            # Per-request loading of a large model takes a tenth of a second or more
            # per request, so its growth run is done on the small model only.
            if small and not args.skip_loading_growth:
                growth = bench.measure_growth(model, True, checkpoints)
                out.append(growth_line("per-request loading", checkpoints, growth))
            out.append("")

    print("\n".join(out))


if __name__ == "__main__":
    main()
