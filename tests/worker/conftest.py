"""Fixtures for the worker tests: built models and real worker processes on 127.0.0.1."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.types import ASGIApp

from watchdog.worker import digits
from watchdog.worker.launcher import WorkerProcess
from watchdog.worker.synthetic import build_synthetic_model

# Generous, because the machine is shared: a worker imports ONNX Runtime and
# Starlette, and may build the digits model, before it is ready.
READY_TIMEOUT = 60.0

StartWorker = Callable[..., WorkerProcess]


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model cache directory shared by the session, with the digits model already built."""
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(scope="session")
def digits_model(model_cache: Path) -> digits.BuiltModel:
    """The digits model, trained once per session and exported into ``model_cache``."""
    return digits.build(model_cache)


@pytest.fixture(scope="session")
def small_synthetic_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic model of about 4 MiB: three 512-unit layers."""
    path = tmp_path_factory.mktemp("synthetic") / "synthetic-small.onnx"
    build_synthetic_model(path, size_bytes=3 * 512 * 512 * 4, hidden=512, seed=7)
    return path


@pytest.fixture
def start_worker(tmp_path: Path, model_cache: Path, digits_model: digits.BuiltModel) -> Iterator[StartWorker]:
    """Start real worker processes (``python -m watchdog.worker serve``); stop them afterwards."""
    started: list[WorkerProcess] = []

    def start(
        *args: str, cache: Path | None = None, wait_ready: bool = True, name: str | None = None
    ) -> WorkerProcess:
        work_dir = tmp_path / (name or f"worker-{len(started)}")
        worker = WorkerProcess(work_dir, cache or model_cache, list(args))
        started.append(worker)
        worker.start()
        if wait_ready:
            worker.wait_ready(READY_TIMEOUT)
        else:
            worker.wait_for_port(READY_TIMEOUT)
        return worker

    yield start
    for worker in started:
        if worker.process is not None and worker.process.poll() is None:
            worker.process.kill()
            worker.process.wait()


class ThreadedServer:
    """Uvicorn serving an app in a background thread on 127.0.0.1 and a free port."""

    def __init__(self, app: ASGIApp) -> None:
        config = uvicorn.Config(
            app, host="127.0.0.1", port=0, lifespan="on", ws="none", log_config=None, access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="test-uvicorn", daemon=True)
        self.base_url = ""

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + READY_TIMEOUT
        while not self.server.started:
            assert self.thread.is_alive(), "uvicorn stopped during startup"
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(READY_TIMEOUT)


@pytest.fixture
def serve_app() -> Iterator[Callable[[ASGIApp], httpx.Client]]:
    """Serve apps in-process on real sockets; return an HTTP client for each."""
    running: list[tuple[ThreadedServer, httpx.Client]] = []

    def serve(app: ASGIApp) -> httpx.Client:
        server = ThreadedServer(app)
        server.start()
        client = httpx.Client(base_url=server.base_url, timeout=30.0)
        running.append((server, client))
        return client

    yield serve
    for server, client in running:
        client.close()
        server.stop()
