"""Cheap memory readings from /proc and cgroup files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from watchdog.supervision.cgroups import MemoryCgroup
from watchdog.supervision.memory import (
    MemoryReader,
    ProcessMemory,
    parse_proc_status,
    tree_memory,
)

STATUS = """\
Name:\tpython3
State:\tS (sleeping)
VmRSS:\t  120000 kB
RssAnon:\t  100000 kB
RssFile:\t   18000 kB
RssShmem:\t    2000 kB
Threads:\t4
"""


def test_proc_status_parsed_to_bytes() -> None:
    assert parse_proc_status(42, STATUS) == ProcessMemory(
        pid=42, anon=100000 * 1024, file=18000 * 1024, shmem=2000 * 1024
    )


def test_zombie_status_has_no_memory() -> None:
    assert parse_proc_status(7, "Name:\tworker\nState:\tZ (zombie)\n") == ProcessMemory(7, 0, 0, 0)


def test_shared_pages_counted_once() -> None:
    leader = ProcessMemory(1, anon=100, file=500, shmem=20)
    children = [
        ProcessMemory(2, anon=30, file=500, shmem=20),
        ProcessMemory(3, anon=40, file=500, shmem=20),
    ]

    assert tree_memory(leader, children) == 100 + 30 + 40 + 500 + 20


CHILD_SCRIPT = """
import sys
block = bytearray(30 * 2**20)
for offset in range(0, len(block), 4096):
    block[offset] = 1
print("ready", flush=True)
sys.stdin.read()
"""

PARENT_SCRIPT = """
import subprocess, sys
block = bytearray(40 * 2**20)
for offset in range(0, len(block), 4096):
    block[offset] = 1
child = subprocess.Popen(
    [sys.executable, "-c", sys.argv[1]], stdout=subprocess.PIPE, stdin=subprocess.PIPE
)
child.stdout.readline()
print(child.pid, flush=True)
sys.stdin.read()
child.stdin.close()
child.wait()
"""


def test_reader_sums_process_tree() -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", PARENT_SCRIPT, CHILD_SCRIPT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    try:
        child_pid = int(process.stdout.readline())

        reading = MemoryReader(None).read(process.pid)

        assert reading is not None
        assert reading.source == "proc"
        assert reading.pids == frozenset({process.pid, child_pid})
        assert 70 * 2**20 <= reading.bytes < 140 * 2**20
    finally:
        process.communicate("")


def test_reader_prefers_cgroup(tmp_path: Path) -> None:
    (tmp_path / "memory.current").write_text("104857600\n")
    (tmp_path / "memory.stat").write_text("inactive_file 4857600\n")

    reading = MemoryReader(MemoryCgroup(tmp_path, 2)).read(1)

    assert reading is not None
    assert reading.source == "cgroup"
    assert reading.bytes == 100_000_000


def test_reader_for_gone_process() -> None:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()

    assert MemoryReader(None).read(process.pid) is None
