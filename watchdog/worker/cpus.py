"""How many CPUs this process may use: its affinity mask and its cgroup CPU quota.

A co-hosted worker that sizes its thread pools by the host's core count
(``os.cpu_count()``) oversubscribes a container limited to one or two CPUs,
and the kernel then throttles it in bursts. The quota is the tighter of
cgroup v2 ``cpu.max`` along the process's cgroup path and cgroup v1
``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable
from pathlib import Path

logger = logging.getLogger(__name__)


def parse_cpu_max(text: str) -> float | None:
    """Return the CPUs allowed by a cgroup v2 ``cpu.max`` line such as ``200000 100000``.

    ``max 100000`` (no limit) and unreadable content return None.
    """
    parts = text.split()
    if len(parts) != 2 or parts[0] == "max":
        return None
    try:
        quota, period = int(parts[0]), int(parts[1])
    except ValueError:
        return None
    if quota <= 0 or period <= 0:
        return None
    return quota / period


def parse_cfs_quota(quota_text: str, period_text: str) -> float | None:
    """Return the CPUs allowed by cgroup v1 ``cpu.cfs_quota_us`` (-1 means no limit)."""
    try:
        quota, period = int(quota_text.strip()), int(period_text.strip())
    except ValueError:
        return None
    if quota <= 0 or period <= 0:
        return None
    return quota / period


def usable_cpus(affinity: int, quotas: Iterable[float | None]) -> int:
    """Return the whole CPUs to size thread pools for: the affinity count capped by the quota.

    A fractional quota rounds down (1.5 CPUs gives 1 thread), because a second
    busy thread would be throttled for part of every period; the result is at least 1.
    """
    limits = [quota for quota in quotas if quota is not None]
    count = max(1, affinity)
    if limits:
        count = min(count, max(1, math.floor(min(limits))))
    return count


def _cgroup_v2_quotas(cgroup_root: Path, relative: str) -> list[float | None]:
    quotas: list[float | None] = []
    directory = cgroup_root / relative.lstrip("/")
    while True:
        try:
            quotas.append(parse_cpu_max((directory / "cpu.max").read_text(encoding="ascii")))
        except OSError:
            pass
        if directory == cgroup_root or cgroup_root not in directory.parents:
            break
        directory = directory.parent
    return quotas


def _cgroup_v1_quota(cgroup_root: Path, controllers: str, relative: str) -> float | None:
    for mount in (controllers, "cpu", "cpu,cpuacct"):
        directory = cgroup_root / mount / relative.lstrip("/")
        try:
            quota = (directory / "cpu.cfs_quota_us").read_text(encoding="ascii")
            period = (directory / "cpu.cfs_period_us").read_text(encoding="ascii")
        except OSError:
            continue
        return parse_cfs_quota(quota, period)
    return None


def cgroup_cpu_quotas(
    proc_cgroup: Path = Path("/proc/self/cgroup"), cgroup_root: Path = Path("/sys/fs/cgroup")
) -> list[float | None]:
    """Read the CPU quotas that apply to this process from its cgroups (v2, then v1)."""
    try:
        lines = proc_cgroup.read_text(encoding="ascii").splitlines()
    except OSError:
        return []
    quotas: list[float | None] = []
    for line in lines:
        hierarchy, _, rest = line.partition(":")
        controllers, _, relative = rest.partition(":")
        if hierarchy == "0" and controllers == "":
            quotas.extend(_cgroup_v2_quotas(cgroup_root, relative))
        elif "cpu" in controllers.split(","):
            quotas.append(_cgroup_v1_quota(cgroup_root, controllers, relative))
    return quotas


def detect_usable_cpus() -> int:
    """Return the CPUs this process may use, from its affinity mask and cgroup CPU quota."""
    affinity = len(os.sched_getaffinity(0))
    count = usable_cpus(affinity, cgroup_cpu_quotas())
    logger.debug("usable CPUs: %s (affinity %s, host %s)", count, affinity, os.cpu_count())
    return count
