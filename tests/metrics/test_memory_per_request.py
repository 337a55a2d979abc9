"""MemoryPerRequest of a real process that loads its model per request, or shares it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.metrics.conftest import PipelineRig, StaticWorker

MODEL_MIB = 40
MIB = 1024 * 1024


class FakeWorker:
    """tests/metrics/fake_worker.py as a child process, driven through its stdin."""

    def __init__(self) -> None:
        script = Path(__file__).with_name("fake_worker.py")
        self.process = subprocess.Popen(
            [sys.executable, str(script), str(MODEL_MIB)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline())

    def command(self, line: str) -> None:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        assert self.process.stdout.readline().startswith("ok")

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


@pytest.fixture
def fake_worker() -> Iterator[FakeWorker]:
    worker = FakeWorker()
    yield worker
    worker.stop()


def published(rig: PipelineRig, name: str) -> float:
    items: list[dict[str, Any]] = rig.counter.requests[-1]["MetricData"]
    return float(next(item["Value"] for item in items if item["MetricName"] == name))


def test_per_request_loading_near_model_size(
    make_rig: Callable[..., PipelineRig], fake_worker: FakeWorker
) -> None:
    worker = StaticWorker(
        pid=fake_worker.process.pid, metrics_url=f"http://127.0.0.1:{fake_worker.port}/metrics"
    )
    rig = make_rig(worker=worker)
    fake_worker.command("idle")
    rig.tick()

    fake_worker.command("share 20")
    rig.tick()
    shared = published(rig, "MemoryPerRequest")

    fake_worker.command("load 4")
    rig.tick()
    loading = published(rig, "MemoryPerRequest")

    assert shared < 0.05 * MODEL_MIB * MIB
    assert loading >= 0.5 * MODEL_MIB * MIB
    assert published(rig, "InFlight") == 4
