"""Memory cgroups, v1 and v2: find the daemon's own, create the worker's, read its counters.

cgroup v2 (the unified hierarchy) keeps the OOM-kill count in
``memory.events`` and the limit in ``memory.max``. cgroup v1, still the
default on hosts such as Amazon Linux 2, keeps them in ``memory.oom_control``
(its ``oom_kill`` line exists since Linux 4.13) and ``memory.limit_in_bytes``.
Every read here is a small text file, cheap enough for each memory sample.

Reference: the kernel's Documentation/admin-guide/cgroup-v2.rst and
cgroup-v1/memory.rst.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from watchdog.errors import WorkerError

logger = logging.getLogger(__name__)

CgroupVersion = Literal[1, 2]

# cgroup v1 reports "no limit" as PAGE_COUNTER_MAX pages, 9223372036854771712
# bytes with 4 KiB pages; anything this large is no limit at all.
_V1_UNLIMITED = 2**60

# The leaf that contains the daemon's own processes once its v2 cgroup gets
# children: cgroup v2 lets only cgroups without processes hand controllers down.
V2_DAEMON_LEAF = "supervisor"


class CgroupError(WorkerError):
    """A cgroup could not be created, configured or joined."""


def parse_keyed_counters(text: str) -> dict[str, int]:
    """Parse ``key value`` lines (memory.events, memory.oom_control, memory.stat) into a dict."""
    counters: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            counters[parts[0]] = int(parts[1])
    return counters


@dataclass(frozen=True)
class MemoryCgroup:
    """One memory cgroup directory and the file names its version uses."""

    path: Path
    version: CgroupVersion

    @property
    def procs_file(self) -> Path:
        """The ``cgroup.procs`` file: writing a process id into it moves that process here."""
        return self.path / "cgroup.procs"

    def oom_kills(self) -> int | None:
        """Return the cgroup's ``oom_kill`` counter, or None when it cannot be read."""
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        try:
            text = (self.path / name).read_text(encoding="ascii")
        except OSError:
            return None
        return parse_keyed_counters(text).get("oom_kill")

    def working_set(self) -> int | None:
        """Return the memory charged to the cgroup minus inactive file cache, in bytes.

        Usage alone includes page cache that the kernel reclaims before it
        OOM-kills anything; the working set (usage minus ``inactive_file``,
        as the kubelet computes it) is what counts against the limit.
        """
        usage_name = "memory.current" if self.version == 2 else "memory.usage_in_bytes"
        inactive_name = "inactive_file" if self.version == 2 else "total_inactive_file"
        try:
            usage = int((self.path / usage_name).read_text(encoding="ascii").strip())
            stat = parse_keyed_counters((self.path / "memory.stat").read_text(encoding="ascii"))
        except (OSError, ValueError):
            return None
        return max(0, usage - stat.get(inactive_name, 0))

    def limit(self) -> int | None:
        """Return the cgroup's memory limit in bytes, or None when it has none or is unreadable."""
        name = "memory.max" if self.version == 2 else "memory.limit_in_bytes"
        try:
            text = (self.path / name).read_text(encoding="ascii").strip()
        except OSError:
            return None
        if text == "max" or not text.isdigit():
            return None
        value = int(text)
        return None if value >= _V1_UNLIMITED else value

    def set_limit(self, limit: int) -> None:
        """Set the memory limit in bytes."""
        name = "memory.max" if self.version == 2 else "memory.limit_in_bytes"
        self._write(name, str(limit))

    def processes(self) -> list[int]:
        """Return the ids of the processes in this cgroup (not in its children)."""
        try:
            text = self.procs_file.read_text(encoding="ascii")
        except OSError:
            return []
        return [int(line) for line in text.split() if line.isdigit()]

    def add_process(self, pid: int) -> None:
        """Move process ``pid`` into this cgroup."""
        self._write("cgroup.procs", str(pid))

    def create_child(self, name: str) -> MemoryCgroup:
        """Create (or reuse) the child cgroup ``name`` with the memory controller enabled."""
        child = MemoryCgroup(self.path / name, self.version)
        if self.version == 2:
            self._enable_memory_for_children()
        try:
            child.path.mkdir(exist_ok=True)
        except OSError as exc:
            raise CgroupError(
                f"cannot create cgroup {child.path}: {exc.strerror}; run the daemon as root or "
                "with Delegate=yes, or set supervision.memory.cgroup = 'off'"
            ) from exc
        return child

    def remove(self) -> None:
        """Remove the cgroup directory; it must hold no processes. A failure is logged."""
        try:
            self.path.rmdir()
        except FileNotFoundError:
            return
        except OSError as exc:
            logger.warning("removing cgroup %s failed: %s", self.path, exc.strerror)

    def _enable_memory_for_children(self) -> None:
        subtree = self.path / "cgroup.subtree_control"
        try:
            enabled = subtree.read_text(encoding="ascii").split()
        except OSError as exc:
            raise CgroupError(f"cannot read {subtree}: {exc.strerror}") from exc
        if "memory" in enabled:
            return

        # The "no internal processes" rule: move this cgroup's processes (the
        # daemon's, when this is its own cgroup) into a leaf child first.
        # NOTE: this cgroup v2 path has run against fixture files only; the
        # test machine's memory controller is on cgroup v1.
        residents = self.processes()
        if residents:
            leaf = MemoryCgroup(self.path / V2_DAEMON_LEAF, 2)
            try:
                leaf.path.mkdir(exist_ok=True)
            except OSError as exc:
                raise CgroupError(f"cannot create cgroup {leaf.path}: {exc.strerror}") from exc
            for pid in residents:
                leaf.add_process(pid)
            logger.info("moved %d processes from %s into %s", len(residents), self.path, leaf.path)
        self._write("cgroup.subtree_control", "+memory")

    def _write(self, name: str, value: str) -> None:
        target = self.path / name
        try:
            # Control files take one value per write(); open without truncating
            # or creating, as the kernel's files cannot be created anyway.
            descriptor = os.open(target, os.O_WRONLY)
            try:
                os.write(descriptor, value.encode("ascii"))
            finally:
                os.close(descriptor)
        except OSError as exc:
            raise CgroupError(f"writing {value!r} to {target} failed: {exc.strerror}") from exc


def locate_memory_cgroup(proc_cgroup: str, mountinfo: str) -> MemoryCgroup | None:
    """Return the memory cgroup that ``/proc/PID/cgroup`` names, found through ``mountinfo``.

    A cgroup v1 memory hierarchy wins over the unified one, because on a
    hybrid host the memory controller is bound to v1 and the v2 tree has none.
    """
    v1_path: str | None = None
    v2_path: str | None = None
    for line in proc_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, path = parts
        if "memory" in controllers.split(","):
            v1_path = path
        elif hierarchy == "0" and controllers == "":
            v2_path = path

    mounts = _cgroup_mounts(mountinfo)
    if v1_path is not None:
        for mount_root, mount_point, fs_type, super_options in mounts:
            if fs_type == "cgroup" and "memory" in super_options.split(","):
                directory = _join(mount_point, mount_root, v1_path)
                return MemoryCgroup(directory, 1) if directory is not None else None
        return None
    if v2_path is not None:
        for mount_root, mount_point, fs_type, _options in mounts:
            if fs_type == "cgroup2":
                directory = _join(mount_point, mount_root, v2_path)
                return MemoryCgroup(directory, 2) if directory is not None else None
    return None


def own_memory_cgroup(proc: Path = Path("/proc")) -> MemoryCgroup | None:
    """Return this process's memory cgroup, or None when there is none with memory accounting."""
    try:
        proc_cgroup = (proc / "self" / "cgroup").read_text(encoding="utf-8")
        mountinfo = (proc / "self" / "mountinfo").read_text(encoding="utf-8")
    except OSError as exc:
        logger.info("no cgroup information readable: %s", exc.strerror)
        return None
    cgroup = locate_memory_cgroup(proc_cgroup, mountinfo)
    if cgroup is None or not cgroup.path.is_dir():
        return None
    if cgroup.version == 2 and not _has_memory_controller(cgroup.path):
        return None
    return cgroup


def _has_memory_controller(path: Path) -> bool:
    try:
        return "memory" in (path / "cgroup.controllers").read_text(encoding="ascii").split()
    except OSError:
        return False


def _cgroup_mounts(mountinfo: str) -> list[tuple[str, str, str, str]]:
    # mountinfo line: ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [OPTIONAL...] - TYPE SOURCE SUPER
    mounts = []
    for line in mountinfo.splitlines():
        before, separator, after = line.partition(" - ")
        if not separator:
            continue
        fields = before.split()
        tail = after.split()
        if len(fields) < 5 or len(tail) < 3:
            continue
        if tail[0] in ("cgroup", "cgroup2"):
            mounts.append((_unescape(fields[3]), _unescape(fields[4]), tail[0], tail[2]))
    return mounts


def _unescape(field: str) -> str:
    # mountinfo writes space, tab, newline and backslash as octal escapes.
    for escaped, plain in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(escaped, plain)
    return field


def _join(mount_point: str, mount_root: str, cgroup_path: str) -> Path | None:
    relative = os.path.relpath(cgroup_path, mount_root)
    if relative == ".":
        return Path(mount_point)
    if relative.startswith(".."):
        # The cgroup lies outside what this mount shows.
        return None
    return Path(mount_point) / relative
