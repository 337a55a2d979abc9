"""Starting, signalling and reaping the worker's processes.

The worker runs in a session and process group of its own (``setsid``), so a
signal to the group reaches every process it started that did not leave the
group. The daemon also makes itself a child subreaper: a grandchild whose
parent dies is re-parented to the daemon instead of PID 1, and the daemon
reaps it, so no zombie and no orphan survives the worker. Processes that
left the group (``setsid`` again) are still found through the worker's
cgroup, when it has one, and through the descendants seen at each memory
reading.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import psutil

from watchdog.errors import WorkerError
from watchdog.supervision.cgroups import MemoryCgroup
from watchdog.systemd import child_environment

logger = logging.getLogger(__name__)

# prctl(2) option: orphaned descendants are re-parented to this process.
_PR_SET_CHILD_SUBREAPER = 36

# Moves the shell into the cgroup named by $0, then replaces itself with the
# worker: same process id, so the worker starts inside its cgroup and every
# page it allocates is charged there.
_JOIN_CGROUP_SCRIPT = 'echo $$ > "$0" && exec "$@"'


def become_subreaper() -> bool:
    """Make this process the reaper of its orphaned descendants; return whether that worked."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        result = libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError) as exc:
        logger.warning("cannot become a child subreaper: %s; orphans go to PID 1", exc)
        return False
    if result != 0:
        logger.warning(
            "cannot become a child subreaper: %s; orphans go to PID 1",
            os.strerror(ctypes.get_errno()),
        )
        return False
    return True


def worker_environment(environ: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    """Return the daemon's environment plus ``extra``, without systemd's private variables."""
    return child_environment({**environ, **extra})


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
    return port


def resolve_executable(argv: Sequence[str], environ: Mapping[str, str]) -> str:
    """Return the path of ``argv[0]``; raise ``WorkerError`` when it cannot be executed."""
    if not argv:
        raise WorkerError("the worker command is empty: set supervision.command")
    found = shutil.which(argv[0], path=environ.get("PATH", os.defpath))
    if found is None:
        raise WorkerError(
            f"worker command {argv[0]!r} not found or not executable: check supervision.command "
            "and the PATH of the daemon"
        )
    return found


class WorkerProcess:
    """One spawned worker and the processes it started."""

    def __init__(self, popen: subprocess.Popen[bytes], cgroup: MemoryCgroup | None) -> None:
        self.popen = popen
        self.pid = popen.pid
        # start_new_session=True made the worker the leader of its own group.
        self.pgid = popen.pid
        self.cgroup = cgroup
        self._known: dict[int, psutil.Process] = {}

    def poll(self) -> int | None:
        """Return the worker's exit code once it has exited (reaping it), else None."""
        return self.popen.poll()

    def remember(self, pids: Iterable[int]) -> None:
        """Record descendants seen alive, so they are stopped even if they leave the group."""
        for pid in pids:
            if pid == self.pid or pid in self._known:
                continue
            try:
                self._known[pid] = psutil.Process(pid)
            except psutil.NoSuchProcess:
                continue

    def signal_all(self, sig: signal.Signals) -> None:
        """Send ``sig`` to the worker's group, its cgroup and every descendant seen."""
        try:
            os.killpg(self.pgid, sig)
        except ProcessLookupError:
            pass
        except PermissionError as exc:
            logger.warning("sending %s to process group %d failed: %s", sig.name, self.pgid, exc)

        for process in self._others():
            try:
                # psutil checks the process's start time first, so a reused pid is left alone.
                process.send_signal(sig)
            except psutil.NoSuchProcess:
                continue
            except psutil.AccessDenied:
                logger.warning("sending %s to process %d was denied", sig.name, process.pid)

    def leftovers(self) -> list[int]:
        """Reap what can be reaped, then return the ids of the worker's processes still present.

        The worker itself is reaped by ``poll`` and counted until then; a zombie
        counts too, since only its parent can remove it.
        """
        self._reap_orphans()
        present: set[int] = set()
        if self.popen.returncode is None:
            present.add(self.pid)
        present.update(process.pid for process in self._others())
        return sorted(present)

    def _others(self) -> list[psutil.Process]:
        # NOTE: without a cgroup, a process that left the group (setsid) and
        # was never seen by a memory reading is not found here.
        candidates = dict(self._known)
        for pid in [*group_members(self.pgid), *(self.cgroup.processes() if self.cgroup else [])]:
            if pid != self.pid and pid not in candidates:
                try:
                    candidates[pid] = psutil.Process(pid)
                except psutil.NoSuchProcess:
                    continue
        alive = []
        for pid, process in candidates.items():
            if process.is_running():
                alive.append(process)
            else:
                self._known.pop(pid, None)
        return alive

    def _reap_orphans(self) -> None:
        own_pid = os.getpid()
        for process in self._others():
            try:
                if process.ppid() != own_pid:
                    continue
                # Only our own orphans, never the worker itself: Popen must reap
                # it, or its exit status would be lost.
                os.waitpid(process.pid, os.WNOHANG)
            except (psutil.NoSuchProcess, ChildProcessError):
                continue


def group_members(pgid: int) -> list[int]:
    """Return the ids of every process in process group ``pgid``, zombies included."""
    members = []
    for pid in psutil.pids():
        try:
            if os.getpgid(pid) == pgid:
                members.append(pid)
        except (ProcessLookupError, PermissionError):
            continue
    return members


def spawn_worker(
    argv: Sequence[str],
    environ: Mapping[str, str],
    working_directory: Path | None,
    cgroup: MemoryCgroup | None,
) -> WorkerProcess:
    """Start the worker in its own session and process group, inside ``cgroup`` if given."""
    executable = resolve_executable(argv, environ)
    command = [executable, *argv[1:]]
    if cgroup is not None:
        command = ["/bin/sh", "-c", _JOIN_CGROUP_SCRIPT, str(cgroup.procs_file), *command]
    try:
        popen = subprocess.Popen(
            command,
            env=dict(environ),
            cwd=working_directory,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
    except OSError as exc:
        raise WorkerError(
            f"starting the worker {argv[0]!r} failed: {exc.strerror}; check supervision.command "
            "and supervision.working_directory"
        ) from exc
    return WorkerProcess(popen, cgroup)


def write_pid_file(path: Path, pid: int) -> None:
    """Record the worker's id and start time, so that a later daemon run can find a leftover."""
    try:
        started = psutil.Process(pid).create_time()
    except psutil.NoSuchProcess:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"pid": pid, "create_time": started}), encoding="utf-8")
    temporary.replace(path)


def kill_leftover_worker(path: Path) -> int | None:
    """Kill the process group of a worker that an earlier daemon run left behind.

    The pid file contains the process's start time, so a pid reused by another
    program is never signalled. Returns the killed worker's id, if any.
    """
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        pid = int(record["pid"])
        create_time = float(record["create_time"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        logger.warning("ignoring unreadable worker pid file %s: %s", path, exc)
        path.unlink(missing_ok=True)
        return None
    path.unlink(missing_ok=True)
    try:
        process = psutil.Process(pid)
        if abs(process.create_time() - create_time) > 0.01:
            return None
        os.killpg(os.getpgid(pid), signal.SIGKILL)
    except (psutil.NoSuchProcess, ProcessLookupError):
        return None
    except PermissionError as exc:
        logger.warning("cannot kill the leftover worker %d: %s", pid, exc)
        return None
    return pid
