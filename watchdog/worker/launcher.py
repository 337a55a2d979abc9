"""Start a worker as a child process and wait until it listens and is ready.

For tests, benchmarks and demos that need a real worker process. The
supervisor has its own restart logic; this only starts, waits and stops.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx
from prometheus_client.parser import text_string_to_metric_families

from watchdog.errors import WorkerError
from watchdog.worker.metrics import OUTCOMES

logger = logging.getLogger(__name__)

# systemd's notification and credential variables belong to the daemon, never to its child.
PRIVATE_ENVIRONMENT = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "CREDENTIALS_DIRECTORY")


def child_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Return this process's environment without systemd's private variables, plus ``extra``."""
    environment = {key: value for key, value in os.environ.items() if key not in PRIVATE_ENVIRONMENT}
    environment.update(extra or {})
    return environment


def parse_metrics(text: str) -> dict[str, float]:
    """Flatten Prometheus text into ``{'name{label="value"}': value}``, labels sorted by name."""
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{key}="{value}"' for key, value in sorted(sample.labels.items()))
            key = f"{sample.name}{{{labels}}}" if labels else sample.name
            values[key] = sample.value
    return values


def request_outcomes(metrics: dict[str, float]) -> dict[str, int]:
    """Return ``inference_requests_total`` by outcome from flattened metrics."""
    return {outcome: int(metrics[f'inference_requests_total{{outcome="{outcome}"}}']) for outcome in OUTCOMES}


class WorkerProcess:
    """One ``python -m watchdog.worker serve`` child on 127.0.0.1 and a free port."""

    def __init__(
        self,
        work_dir: Path,
        model_cache: Path,
        args: list[str] | None = None,
        environment: dict[str, str] | None = None,
    ) -> None:
        self.work_dir = work_dir
        self.port_file = work_dir / "worker.port"
        self.log_path = work_dir / "worker.log"
        self.command = [
            sys.executable,
            "-m",
            "watchdog.worker",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--port-file",
            str(self.port_file),
            "--model-cache",
            str(model_cache),
            *(args or []),
        ]
        self._environment = child_environment(environment)
        self.process: subprocess.Popen[bytes] | None = None
        self.port: int | None = None

    @property
    def pid(self) -> int:
        """The child's process id."""
        if self.process is None:
            raise WorkerError("the worker process is not started")
        return self.process.pid

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` of the running worker."""
        if self.port is None:
            raise WorkerError("the worker has not reported its port yet")
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Spawn the child; its stdout and stderr go to ``worker.log`` in the work directory."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.port_file.unlink(missing_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self._environment,
            )
        logger.info("started worker pid %s: %s", self.process.pid, " ".join(self.command))

    def log_text(self) -> str:
        """Return what the worker has written to its log so far."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for_port(self, timeout: float) -> int:
        """Wait until the worker wrote its port file; raise ``WorkerError`` if it exits or times out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise WorkerError(
                    f"worker exited with status {self.process.returncode} before listening; "
                    f"log:\n{self.log_text()}"
                )
            try:
                text = self.port_file.read_text(encoding="ascii").strip()
            except FileNotFoundError:
                text = ""
            if text:
                self.port = int(text)
                return self.port
            time.sleep(0.05)
        raise WorkerError(f"worker wrote no port file within {timeout:.0f}s; log:\n{self.log_text()}")

    def wait_ready(self, timeout: float) -> None:
        """Wait until ``/healthz`` returns 200; raise ``WorkerError`` if it exits or times out."""
        deadline = time.monotonic() + timeout
        if self.port is None:
            self.wait_for_port(timeout)
        last = "no response"
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise WorkerError(
                    f"worker exited with status {self.process.returncode} before it was ready; "
                    f"log:\n{self.log_text()}"
                )
            try:
                response = httpx.get(f"{self.base_url}/healthz", timeout=2.0)
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code == 200:
                    return
                last = f"{response.status_code} {response.text}"
            time.sleep(0.05)
        raise WorkerError(f"worker not ready within {timeout:.0f}s ({last}); log:\n{self.log_text()}")

    def metrics(self) -> dict[str, float]:
        """Scrape ``/metrics`` and return it flattened (see ``parse_metrics``)."""
        response = httpx.get(f"{self.base_url}/metrics", timeout=10.0)
        response.raise_for_status()
        return parse_metrics(response.text)

    def terminate(self, timeout: float = 30.0) -> int:
        """Send SIGTERM and wait for the exit status; SIGKILL after ``timeout`` seconds."""
        if self.process is None:
            raise WorkerError("the worker process is not started")
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                logger.warning("worker pid %s ignored SIGTERM for %.0fs; killing it", self.pid, timeout)
                self.process.kill()
        return self.process.wait()

    def __enter__(self) -> WorkerProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.process is not None and self.process.poll() is None:
            self.terminate()
