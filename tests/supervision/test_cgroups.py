"""Memory cgroups: locating the daemon's, reading fixture files of both versions, a real child."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from watchdog.supervision.cgroups import (
    V2_DAEMON_LEAF,
    MemoryCgroup,
    locate_memory_cgroup,
    own_memory_cgroup,
    parse_keyed_counters,
)

HYBRID_MOUNTINFO = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""
HYBRID_CGROUP = """\
9:name=systemd:/system.slice/inference-watchdog.service
4:memory:/system.slice/inference-watchdog.service
1:cpu:/
0::/system.slice/inference-watchdog.service
"""
UNIFIED_MOUNTINFO = """\
25 19 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate
"""
UNIFIED_CGROUP = "0::/system.slice/inference-watchdog.service\n"


def test_keyed_counters_parse() -> None:
    text = "oom_kill_disable 0\nunder_oom 1\noom_kill 7\nbogus line here\n"

    assert parse_keyed_counters(text) == {"oom_kill_disable": 0, "under_oom": 1, "oom_kill": 7}


def test_locate_prefers_v1_memory_on_hybrid_host() -> None:
    cgroup = locate_memory_cgroup(HYBRID_CGROUP, HYBRID_MOUNTINFO)

    assert cgroup == MemoryCgroup(Path("/sys/fs/cgroup/memory/system.slice/inference-watchdog.service"), 1)


def test_locate_unified_hierarchy() -> None:
    cgroup = locate_memory_cgroup(UNIFIED_CGROUP, UNIFIED_MOUNTINFO)

    assert cgroup == MemoryCgroup(Path("/sys/fs/cgroup/system.slice/inference-watchdog.service"), 2)


def test_locate_inside_a_container_mount() -> None:
    # The container sees its own cgroup mounted at /sys/fs/cgroup with a non-root mount root.
    mountinfo = "50 40 0:30 /docker/abc /sys/fs/cgroup/memory ro - cgroup cgroup rw,memory\n"

    assert locate_memory_cgroup("5:memory:/docker/abc/sub\n", mountinfo) == MemoryCgroup(
        Path("/sys/fs/cgroup/memory/sub"), 1
    )
    assert locate_memory_cgroup("5:memory:/docker/abc\n", mountinfo) == MemoryCgroup(
        Path("/sys/fs/cgroup/memory"), 1
    )
    assert locate_memory_cgroup("5:memory:/elsewhere\n", mountinfo) is None


def test_locate_without_memory_controller() -> None:
    assert locate_memory_cgroup("1:cpu:/\n", HYBRID_MOUNTINFO) is None


def test_v2_files_read(tmp_path: Path) -> None:
    (tmp_path / "memory.current").write_text("524288000\n")
    (tmp_path / "memory.stat").write_text("anon 400000000\nfile 124288000\ninactive_file 24288000\n")
    (tmp_path / "memory.max").write_text("1073741824\n")
    (tmp_path / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    cgroup = MemoryCgroup(tmp_path, 2)

    assert cgroup.working_set() == 500_000_000
    assert cgroup.limit() == 1_073_741_824
    assert cgroup.oom_kills() == 1


def test_v2_no_limit(tmp_path: Path) -> None:
    (tmp_path / "memory.max").write_text("max\n")

    assert MemoryCgroup(tmp_path, 2).limit() is None


def test_v1_files_read(tmp_path: Path) -> None:
    (tmp_path / "memory.usage_in_bytes").write_text("300000000\n")
    (tmp_path / "memory.stat").write_text("cache 50000\nrss 1\ntotal_inactive_file 100000000\n")
    (tmp_path / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    (tmp_path / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
    cgroup = MemoryCgroup(tmp_path, 1)

    assert cgroup.working_set() == 200_000_000
    assert cgroup.limit() is None
    assert cgroup.oom_kills() == 2


def test_v2_child_moves_residents_to_leaf(tmp_path: Path) -> None:
    # Regular files stand in for the kernel's; cgroup v2 forbids enabling
    # controllers for children while the parent itself holds processes.
    parent = tmp_path / "inference-watchdog.service"
    parent.mkdir()
    (parent / "cgroup.subtree_control").write_text("")
    (parent / "cgroup.procs").write_text("4242\n")
    (parent / V2_DAEMON_LEAF).mkdir()
    (parent / V2_DAEMON_LEAF / "cgroup.procs").write_text("")

    child = MemoryCgroup(parent, 2).create_child("worker")

    assert child == MemoryCgroup(parent / "worker", 2)
    assert child.path.is_dir()
    assert (parent / V2_DAEMON_LEAF / "cgroup.procs").read_text() == "4242"
    assert (parent / "cgroup.subtree_control").read_text() == "+memory"


def test_v2_child_when_memory_already_enabled(tmp_path: Path) -> None:
    (tmp_path / "cgroup.subtree_control").write_text("cpu memory\n")
    (tmp_path / "cgroup.procs").write_text("4242\n")

    MemoryCgroup(tmp_path, 2).create_child("worker")

    assert not (tmp_path / V2_DAEMON_LEAF).exists()
    assert (tmp_path / "cgroup.subtree_control").read_text() == "cpu memory\n"


ALLOCATE_ON_REQUEST = """
import sys
sys.stdin.readline()
block = bytearray(20 * 2**20)
for offset in range(0, len(block), 4096):
    block[offset] = 1
print("allocated", flush=True)
sys.stdin.read()
"""


def test_real_v1_child_cgroup(cgroup_parent: MemoryCgroup) -> None:
    child = cgroup_parent.create_child("worker")
    child.set_limit(64 * 2**20)
    process = subprocess.Popen(
        [sys.executable, "-c", ALLOCATE_ON_REQUEST],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    try:
        child.add_process(process.pid)
        process.stdin.write("go\n")
        process.stdin.flush()
        assert process.stdout.readline() == "allocated\n"

        assert child.processes() == [process.pid]
        assert child.limit() == 64 * 2**20
        assert child.oom_kills() == 0
        working_set = child.working_set()
        assert working_set is not None
        assert 20 * 2**20 <= working_set < 64 * 2**20
    finally:
        process.communicate("")
    child.remove()
    assert not child.path.exists()


def test_own_cgroup_found() -> None:
    own = own_memory_cgroup()

    assert own is not None
    assert own.path.is_dir()
    assert own.oom_kills() is not None
