"""Exit classification, with OOM counters read from cgroup v1 and v2 fixture directories."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from watchdog.supervision.cgroups import MemoryCgroup
from watchdog.supervision.exits import ExitKind, WorkerExit, classify_exit, lost_exit, signal_name

V1_OOM_CONTROL = "oom_kill_disable 0\nunder_oom 0\noom_kill {count}\n"
V2_MEMORY_EVENTS = "low 0\nhigh 0\nmax 12\noom 3\noom_kill {count}\noom_group_kill 0\n"


def fixture_cgroup(directory: Path, version: int, oom_kills: int) -> MemoryCgroup:
    """Write the OOM counter file that cgroup ``version`` keeps, and return that cgroup."""
    directory.mkdir(exist_ok=True)
    if version == 1:
        (directory / "memory.oom_control").write_text(V1_OOM_CONTROL.format(count=oom_kills))
    else:
        (directory / "memory.events").write_text(V2_MEMORY_EVENTS.format(count=oom_kills))
    return MemoryCgroup(directory, version)  # type: ignore[arg-type]


@pytest.mark.parametrize("version", [1, 2])
def test_oom_kill_from_cgroup_counter(tmp_path: Path, version: int) -> None:
    cgroup = fixture_cgroup(tmp_path / "worker", version, oom_kills=4)
    before = cgroup.oom_kills()
    fixture_cgroup(tmp_path / "worker", version, oom_kills=5)

    worker_exit = classify_exit(
        -signal.SIGKILL,
        oom_kills_before=before,
        oom_kills_after=cgroup.oom_kills(),
        sent_sigkill=False,
        last_memory=None,
    )

    assert worker_exit == WorkerExit(
        ExitKind.OOM,
        None,
        9,
        "OOM kill (killed by SIGKILL; the cgroup's oom_kill counter rose from 4 to 5)",
    )


@pytest.mark.parametrize("version", [1, 2])
def test_sigkill_without_oom_is_plain_kill(tmp_path: Path, version: int) -> None:
    cgroup = fixture_cgroup(tmp_path / "worker", version, oom_kills=2)

    worker_exit = classify_exit(
        -signal.SIGKILL,
        oom_kills_before=cgroup.oom_kills(),
        oom_kills_after=cgroup.oom_kills(),
        sent_sigkill=False,
        last_memory=300 * 2**20,
    )

    assert worker_exit == WorkerExit(ExitKind.SIGNAL, None, 9, "killed by SIGKILL")


def test_shell_exit_137_with_oom_is_oom(tmp_path: Path) -> None:
    # A shell wrapper reports its OOM-killed child as exit status 137.
    worker_exit = classify_exit(
        137, oom_kills_before=0, oom_kills_after=1, sent_sigkill=False, last_memory=None
    )

    assert worker_exit.kind is ExitKind.OOM
    assert worker_exit.exit_status == 137
    assert worker_exit.description == (
        "OOM kill (exit status 137; the cgroup's oom_kill counter rose from 0 to 1)"
    )


def test_unreadable_counter_means_possible_oom(tmp_path: Path) -> None:
    cgroup = MemoryCgroup(tmp_path / "missing", 2)

    worker_exit = classify_exit(
        -signal.SIGKILL,
        oom_kills_before=cgroup.oom_kills(),
        oom_kills_after=cgroup.oom_kills(),
        sent_sigkill=False,
        last_memory=812 * 2**20,
    )

    assert worker_exit == WorkerExit(
        ExitKind.POSSIBLE_OOM,
        None,
        9,
        "killed by SIGKILL, possibly OOM (no readable cgroup oom_kill counter; last memory "
        "reading 812.0 MiB)",
    )


def test_possible_oom_without_memory_reading() -> None:
    worker_exit = classify_exit(-9, None, None, sent_sigkill=False, last_memory=None)

    assert worker_exit.description == (
        "killed by SIGKILL, possibly OOM (no readable cgroup oom_kill counter; no memory reading)"
    )


def test_v1_kernel_without_oom_kill_line(tmp_path: Path) -> None:
    # Linux before 4.13 has no oom_kill line in memory.oom_control.
    (tmp_path / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\n")

    assert MemoryCgroup(tmp_path, 1).oom_kills() is None


def test_sigkill_sent_by_supervisor() -> None:
    worker_exit = classify_exit(-9, 0, 0, sent_sigkill=True, last_memory=None)

    assert worker_exit == WorkerExit(ExitKind.SIGNAL, None, 9, "killed by SIGKILL (sent by the supervisor)")


@pytest.mark.parametrize(
    ("returncode", "expected"),
    [
        (0, WorkerExit(ExitKind.CLEAN, 0, None, "exited cleanly (exit status 0)")),
        (3, WorkerExit(ExitKind.EXIT_STATUS, 3, None, "exit status 3")),
        (-15, WorkerExit(ExitKind.SIGNAL, None, 15, "killed by SIGTERM")),
        (-11, WorkerExit(ExitKind.SIGNAL, None, 11, "killed by SIGSEGV")),
    ],
)
def test_exit_status_and_signals(returncode: int, expected: WorkerExit) -> None:
    assert classify_exit(returncode, None, None, sent_sigkill=False, last_memory=None) == expected


def test_signal_without_name() -> None:
    assert signal_name(200) == "signal 200"


def test_lost_exit_description() -> None:
    assert lost_exit(5.0) == WorkerExit(
        ExitKind.LOST,
        None,
        None,
        "still present 5s after SIGKILL (uninterruptible sleep?); its exit status is unknown",
    )
