"""Usable CPUs from affinity and cgroup quotas."""

from __future__ import annotations

from pathlib import Path

from watchdog.worker.cpus import cgroup_cpu_quotas, parse_cfs_quota, parse_cpu_max, usable_cpus


def test_cpu_max_with_quota_gives_cpus() -> None:
    assert parse_cpu_max("200000 100000\n") == 2.0
    assert parse_cpu_max("150000 100000") == 1.5


def test_cpu_max_without_limit_is_none() -> None:
    assert parse_cpu_max("max 100000") is None
    assert parse_cpu_max("") is None
    assert parse_cpu_max("abc def") is None


def test_cfs_quota_minus_one_is_none() -> None:
    assert parse_cfs_quota("-1\n", "100000\n") is None
    assert parse_cfs_quota("50000", "100000") == 0.5


def test_usable_cpus_caps_affinity_by_quota() -> None:
    assert usable_cpus(8, [2.0]) == 2
    assert usable_cpus(8, [None, 3.0, 1.5]) == 1
    assert usable_cpus(2, [4.0]) == 2
    assert usable_cpus(4, []) == 4


def test_usable_cpus_is_at_least_one() -> None:
    assert usable_cpus(4, [0.5]) == 1
    assert usable_cpus(0, []) == 1


def test_cgroup_v2_quotas_read_along_the_path(tmp_path: Path) -> None:
    proc_cgroup = tmp_path / "cgroup"
    proc_cgroup.write_text("0::/system.slice/worker.service\n")
    root = tmp_path / "fs"
    service = root / "system.slice" / "worker.service"
    service.mkdir(parents=True)
    (service / "cpu.max").write_text("100000 100000\n")
    (root / "system.slice" / "cpu.max").write_text("max 100000\n")

    quotas = cgroup_cpu_quotas(proc_cgroup, root)

    assert quotas == [1.0, None]
    assert usable_cpus(8, quotas) == 1


def test_cgroup_v1_quota_read_from_cpu_controller(tmp_path: Path) -> None:
    proc_cgroup = tmp_path / "cgroup"
    proc_cgroup.write_text("4:memory:/box\n3:cpu,cpuacct:/box\n")
    directory = tmp_path / "fs" / "cpu,cpuacct" / "box"
    directory.mkdir(parents=True)
    (directory / "cpu.cfs_quota_us").write_text("300000\n")
    (directory / "cpu.cfs_period_us").write_text("100000\n")

    assert cgroup_cpu_quotas(proc_cgroup, tmp_path / "fs") == [3.0]


def test_missing_cgroup_file_gives_no_quota(tmp_path: Path) -> None:
    assert cgroup_cpu_quotas(tmp_path / "absent", tmp_path) == []
