"""Reading the worker's memory, and MemoryPerRequest."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from watchdog.errors import InputError, WorkerError
from watchdog.metrics.memory import (
    IdleBaseline,
    MemoryReader,
    cgroup_memory_file,
    memory_per_request,
    process_tree_rss,
    update_baseline,
)

MIB = 1024 * 1024

V1_MEMBERSHIP = textwrap.dedent(
    """\
    12:pids:/system.slice/inference-watchdog.service
    11:memory:/system.slice/inference-watchdog.service/worker
    4:cpu,cpuacct:/system.slice/inference-watchdog.service
    1:name=systemd:/system.slice/inference-watchdog.service
    """
)
V2_MEMBERSHIP = "0::/system.slice/inference-watchdog.service/worker\n"


def test_cgroup_v2_file_is_memory_current() -> None:
    path = cgroup_memory_file(V2_MEMBERSHIP, Path("/sys/fs/cgroup"))

    assert path == Path("/sys/fs/cgroup/system.slice/inference-watchdog.service/worker/memory.current")


def test_cgroup_v1_file_is_usage_in_bytes() -> None:
    path = cgroup_memory_file(V1_MEMBERSHIP, Path("/sys/fs/cgroup"))

    assert path == Path(
        "/sys/fs/cgroup/memory/system.slice/inference-watchdog.service/worker/memory.usage_in_bytes"
    )


def test_cgroup_without_memory_controller_raises() -> None:
    with pytest.raises(InputError, match="no memory cgroup"):
        cgroup_memory_file("4:cpu,cpuacct:/x\n", Path("/sys/fs/cgroup"))


@pytest.mark.parametrize(
    ("membership", "usage_file"),
    [
        (V2_MEMBERSHIP, "system.slice/inference-watchdog.service/worker/memory.current"),
        (
            V1_MEMBERSHIP,
            "memory/system.slice/inference-watchdog.service/worker/memory.usage_in_bytes",
        ),
    ],
)
def test_cgroup_reader_reads_fixture_tree(tmp_path: Path, membership: str, usage_file: str) -> None:
    proc = tmp_path / "proc"
    (proc / "4242").mkdir(parents=True)
    (proc / "4242" / "cgroup").write_text(membership)
    usage = tmp_path / "cgroup" / usage_file
    usage.parent.mkdir(parents=True)
    usage.write_text("734003200\n")
    reader = MemoryReader("cgroup", proc_root=proc, cgroup_root=tmp_path / "cgroup")

    assert reader.read(4242) == 734_003_200


def test_cgroup_reader_of_missing_process_raises_worker_error(tmp_path: Path) -> None:
    reader = MemoryReader("cgroup", proc_root=tmp_path, cgroup_root=tmp_path)

    with pytest.raises(WorkerError, match="4242 not found"):
        reader.read(4242)


@pytest.fixture
def process_tree() -> Iterator[subprocess.Popen[str]]:
    """A parent holding 40 MiB with a child holding 30 MiB, both touched into RSS."""
    child = (
        "import sys; b = bytearray(b'\\x01' * 30 * 1024 * 1024); print('ready', flush=True); sys.stdin.read()"
    )
    parent = textwrap.dedent(
        f"""
        import subprocess, sys
        b = bytearray(b'\\x01' * 40 * 1024 * 1024)
        child = subprocess.Popen([sys.executable, '-c', {child!r}], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True)
        child.stdout.readline()
        print('ready', flush=True)
        sys.stdin.read()
        child.stdin.close()
        child.wait()
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-c", parent], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    yield process
    assert process.stdin is not None
    process.stdin.close()
    process.wait(timeout=30)


def test_process_tree_rss_includes_children(process_tree: subprocess.Popen[str]) -> None:
    own = psutil.Process(process_tree.pid).memory_info().rss

    total = process_tree_rss(process_tree.pid)

    assert own >= 40 * MIB
    assert total >= own + 30 * MIB


def test_exited_process_raises_worker_error() -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()

    with pytest.raises(WorkerError, match="not found"):
        process_tree_rss(gone.pid)


def test_first_idle_reading_sets_the_level() -> None:
    baseline = update_baseline(None, "pid-1", 500 * MIB, in_flight=0)

    assert baseline.level == 500 * MIB


def test_busy_start_uses_lowest_reading_until_idle() -> None:
    baseline = update_baseline(None, "pid-1", 900 * MIB, in_flight=4)
    baseline = update_baseline(baseline, "pid-1", 800 * MIB, in_flight=2)

    assert baseline.idle is None
    assert baseline.level == 800 * MIB

    baseline = update_baseline(baseline, "pid-1", 850 * MIB, in_flight=0)

    assert baseline.level == 850 * MIB


def test_new_process_starts_a_new_baseline() -> None:
    baseline = update_baseline(None, "pid-1", 500 * MIB, in_flight=0)

    baseline = update_baseline(baseline, "pid-2", 700 * MIB, in_flight=0)

    assert baseline == IdleBaseline(identity="pid-2", idle=700 * MIB, lowest=700 * MIB)


def test_memory_per_request_divides_by_in_flight() -> None:
    baseline = IdleBaseline(identity="pid-1", idle=500 * MIB, lowest=500 * MIB)

    assert memory_per_request(900 * MIB, baseline, in_flight=4) == 100 * MIB


def test_memory_per_request_divides_by_at_least_one() -> None:
    baseline = IdleBaseline(identity="pid-1", idle=500 * MIB, lowest=500 * MIB)

    assert memory_per_request(600 * MIB, baseline, in_flight=0) == 100 * MIB
    assert memory_per_request(600 * MIB, baseline, in_flight=None) == 100 * MIB


def test_memory_per_request_is_never_negative() -> None:
    baseline = IdleBaseline(identity="pid-1", idle=500 * MIB, lowest=500 * MIB)

    assert memory_per_request(400 * MIB, baseline, in_flight=2) == 0.0
