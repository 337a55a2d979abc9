"""Cheap memory readings of the worker: its own cgroup, else ``/proc`` of its process tree.

A reading must be cheap enough for every sample, so it never walks
``/proc/PID/smaps``. With a cgroup of its own the worker's working set comes
from two small cgroup files and counts every page once. Without one, the
reading sums ``RssAnon`` (private memory) of every process in the tree and
adds the leader's ``RssFile`` and ``RssShmem`` once, because forked children
map the same libraries and model file. Monit's ``totalmem`` adds each child's
full RSS, so it counts those shared pages once per child.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import psutil

from watchdog.supervision.cgroups import MemoryCgroup

logger = logging.getLogger(__name__)

_STATUS_FIELDS = {"RssAnon:": "anon", "RssFile:": "file", "RssShmem:": "shmem"}


@dataclass(frozen=True)
class ProcessMemory:
    """Resident memory of one process from ``/proc/PID/status``, in bytes."""

    pid: int
    anon: int
    file: int
    shmem: int


@dataclass(frozen=True)
class MemoryReading:
    """One memory sample of the worker and the processes it was taken over."""

    bytes: int
    source: Literal["cgroup", "proc"]
    pids: frozenset[int]


def parse_proc_status(pid: int, text: str) -> ProcessMemory:
    """Parse the ``RssAnon``, ``RssFile`` and ``RssShmem`` lines (in kB) of ``/proc/PID/status``.

    A zombie or a kernel thread has no such lines; its memory is zero.
    """
    values = {"anon": 0, "file": 0, "shmem": 0}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in _STATUS_FIELDS and parts[1].isdigit():
            values[_STATUS_FIELDS[parts[0]]] = int(parts[1]) * 1024
    return ProcessMemory(pid=pid, **values)


def tree_memory(leader: ProcessMemory, descendants: Sequence[ProcessMemory]) -> int:
    """Return the tree's memory: every process's private memory, shared pages counted once."""
    private = leader.anon + sum(process.anon for process in descendants)
    return private + leader.file + leader.shmem


def read_process_memory(pid: int, proc: Path = Path("/proc")) -> ProcessMemory | None:
    """Read one process's resident memory, or None when it has gone."""
    try:
        text = (proc / str(pid) / "status").read_text(encoding="utf-8", errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return None
    except OSError as exc:
        logger.debug("reading /proc/%d/status failed: %s", pid, exc.strerror)
        return None
    return parse_proc_status(pid, text)


def descendant_pids(pid: int) -> list[int]:
    """Return the ids of every process below ``pid``, or an empty list when it has gone."""
    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return []


class MemoryReader:
    """Reads the worker's memory from its own cgroup when it has one, else from ``/proc``."""

    def __init__(self, cgroup: MemoryCgroup | None, proc: Path = Path("/proc")) -> None:
        self._cgroup = cgroup
        self._proc = proc

    def read(self, pid: int) -> MemoryReading | None:
        """Return one reading of the tree below ``pid``, or None when nothing could be read."""
        descendants = descendant_pids(pid)
        pids = frozenset([pid, *descendants])
        if self._cgroup is not None:
            working_set = self._cgroup.working_set()
            if working_set is not None:
                return MemoryReading(working_set, "cgroup", pids)

        leader = read_process_memory(pid, self._proc)
        if leader is None:
            return None
        others = [
            memory
            for memory in (read_process_memory(child, self._proc) for child in descendants)
            if memory is not None
        ]
        return MemoryReading(tree_memory(leader, others), "proc", pids)
