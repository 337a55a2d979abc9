"""Fixtures for supervision tests: supervisors on the test's store, a scratch memory cgroup."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from supervision_helpers import RecordingSink, SupervisorFactory, remove_when_empty

from watchdog.storage import Store
from watchdog.supervision.cgroups import MemoryCgroup, own_memory_cgroup
from watchdog.worker import digits


@pytest.fixture(scope="session")
def reference_model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model cache holding the reference worker's digits model, built once per session."""
    cache = tmp_path_factory.mktemp("supervision-model-cache")
    digits.build(cache)
    return cache


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def make_supervisor(store: Store, sink: RecordingSink) -> Iterator[SupervisorFactory]:
    factory = SupervisorFactory(store, sink)
    yield factory
    factory.close()


@pytest.fixture
def cgroup_parent() -> Iterator[MemoryCgroup]:
    """A fresh memory cgroup under this test process's own, removed afterwards.

    The test machine and CI run as root with a writable cgroup v1 memory
    controller; the fixture fails (never skips) where that does not hold.
    """
    own = own_memory_cgroup()
    assert own is not None, "no memory cgroup found for the test process"
    parent = MemoryCgroup(own.path / f"supervision-test-{os.getpid()}-{time.monotonic_ns()}", own.version)
    parent.path.mkdir()
    yield parent
    for child in sorted(parent.path.iterdir(), reverse=True):
        if child.is_dir():
            cgroup = MemoryCgroup(child, own.version)
            for pid in cgroup.processes():
                os.kill(pid, signal.SIGKILL)
            remove_when_empty(cgroup)
    remove_when_empty(parent)
