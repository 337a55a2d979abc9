"""The worker's memory: reading it, and ``MemoryPerRequest``.

Reading is cheap on every tick: either the RSS of the worker and all its
descendants from ``/proc`` (through psutil), or the usage of the worker's
cgroup. Neither walks ``smaps``. Summed RSS counts pages that forked
children share with their parent once per process, so it overstates the
memory of a pre-forking worker; the cgroup figure does not, but includes
the page cache the worker caused.

``MemoryPerRequest`` is the worker's memory above its idle level, divided
by the requests in flight (at least one). The idle level is the lowest
memory read while the worker was up and had no request in flight, since
the current worker process started (the first reading stands in until an
idle one arrives, and the lowest reading when the server exposes no
in-flight gauge). A worker that loads its model on every request thus
shows roughly the model's size per request, and a healthy one shows only
the memory each request's inputs and outputs take.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import psutil

from watchdog.errors import InputError, WorkerError

MemorySource = Literal["process_tree", "cgroup"]


class MemoryReader:
    """Reads the memory of a process tree or of the cgroup that contains the process."""

    def __init__(
        self,
        source: MemorySource = "process_tree",
        proc_root: Path = Path("/proc"),
        cgroup_root: Path = Path("/sys/fs/cgroup"),
    ) -> None:
        self.source = source
        self._proc_root = proc_root
        self._cgroup_root = cgroup_root

    def read(self, pid: int) -> int:
        """Return the memory of worker ``pid`` in bytes; raise ``WorkerError`` when it is gone."""
        if self.source == "cgroup":
            return self._read_cgroup(pid)
        return process_tree_rss(pid)

    def _read_cgroup(self, pid: int) -> int:
        try:
            membership = (self._proc_root / str(pid) / "cgroup").read_text(encoding="ascii")
        except FileNotFoundError as exc:
            raise WorkerError(f"worker process {pid} not found in {self._proc_root}") from exc
        except OSError as exc:
            raise WorkerError(f"cannot read the cgroup of worker process {pid}: {exc.strerror}") from exc
        path = cgroup_memory_file(membership, self._cgroup_root)
        try:
            text = path.read_text(encoding="ascii").strip()
        except OSError as exc:
            raise InputError(
                f"cannot read {path} for worker process {pid}: {exc.strerror}; "
                'set metrics.memory_source = "process_tree"'
            ) from exc
        if not text.isdigit():
            raise InputError(f"invalid memory usage {text!r} in {path}: expected a byte count")
        return int(text)


def process_tree_rss(pid: int) -> int:
    """Return the summed RSS, in bytes, of process ``pid`` and all its descendants."""
    try:
        root = psutil.Process(pid)
        total = int(root.memory_info().rss)
        children = root.children(recursive=True)
    except psutil.NoSuchProcess as exc:
        raise WorkerError(f"worker process {pid} not found; it may have exited") from exc
    except psutil.AccessDenied as exc:
        raise WorkerError(
            f"access denied reading the memory of worker process {pid}; run the daemon as the "
            'worker\'s user or use metrics.memory_source = "cgroup"'
        ) from exc
    for child in children:
        try:
            total += int(child.memory_info().rss)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            # A child that exited during the walk no longer holds memory.
            continue
    return total


def cgroup_memory_file(membership: str, cgroup_root: Path) -> Path:
    """Return the usage file of the memory cgroup named in a ``/proc/PID/cgroup`` text.

    cgroup v2 lists one ``0::/path`` line and keeps usage in
    ``memory.current``; cgroup v1 lists a line per hierarchy and keeps the
    memory controller's usage in ``memory/<path>/memory.usage_in_bytes``.
    """
    v2_path: str | None = None
    for line in membership.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, path = parts
        if "memory" in controllers.split(","):
            return cgroup_root / "memory" / path.lstrip("/") / "memory.usage_in_bytes"
        if hierarchy == "0" and controllers == "":
            v2_path = path
    if v2_path is not None:
        return cgroup_root / v2_path.lstrip("/") / "memory.current"
    raise InputError(
        'no memory cgroup in the worker\'s /proc/PID/cgroup; set metrics.memory_source = "process_tree"'
    )


@dataclass(frozen=True)
class IdleBaseline:
    """The idle memory level of one worker process."""

    # What identifies the worker process (such as its pid and start time).
    identity: object
    # Lowest memory read with no request in flight, in bytes; None before such a reading.
    idle: int | None
    # Lowest memory read at all since the process started, in bytes.
    lowest: int

    @property
    def level(self) -> int:
        """The idle level to subtract: the lowest idle reading, else the lowest reading."""
        return self.idle if self.idle is not None else self.lowest


def update_baseline(
    baseline: IdleBaseline | None, identity: object, memory: int, in_flight: float | None
) -> IdleBaseline:
    """Fold one reading of an up worker into its baseline; a new process starts a new one."""
    idle_now = in_flight is not None and in_flight <= 0
    if baseline is None or baseline.identity != identity:
        return IdleBaseline(identity=identity, idle=memory if idle_now else None, lowest=memory)

    idle = baseline.idle
    if idle_now:
        idle = memory if idle is None else min(idle, memory)
    return IdleBaseline(identity=identity, idle=idle, lowest=min(baseline.lowest, memory))


def memory_per_request(memory: int, baseline: IdleBaseline, in_flight: float | None) -> float:
    """Return the memory above the idle level per request in flight, in bytes (never negative)."""
    requests = 1.0
    if in_flight is not None and math.isfinite(in_flight):
        requests = max(in_flight, 1.0)
    return max(memory - baseline.level, 0) / requests
