"""Exit classification: clean exit, exit status, killed by a signal, OOM kill.

A SIGKILL exit (-9, which shells show as 137) is not proof of an OOM kill:
an operator, a script or the supervisor itself may have sent it. The proof
is the cgroup's ``oom_kill`` counter (cgroup v2 ``memory.events``, cgroup v1
``memory.oom_control``) rising while the worker ran. When no counter is
readable, a SIGKILL that the supervisor did not send is reported as
"possibly OOM" with the last memory reading.
"""

from __future__ import annotations

import enum
import signal
from dataclasses import dataclass


class ExitKind(enum.StrEnum):
    """The way a worker process ended."""

    CLEAN = "clean"
    EXIT_STATUS = "exit_status"
    SIGNAL = "signal"
    OOM = "oom"
    POSSIBLE_OOM = "possible_oom"
    # Still present after SIGKILL and a wait, so its exit status was never read.
    LOST = "lost"


@dataclass(frozen=True)
class WorkerExit:
    """One classified exit, with the sentence that logs, events and alerts show."""

    kind: ExitKind
    exit_status: int | None
    signal_number: int | None
    description: str

    @property
    def signal_name(self) -> str | None:
        """The signal's name, such as ``SIGKILL``, if a signal ended the process."""
        if self.signal_number is None:
            return None
        return signal_name(self.signal_number)


def signal_name(number: int) -> str:
    """Return ``SIGKILL`` for 9, or ``signal N`` for a number Python has no name for."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def format_bytes(value: int) -> str:
    """Format a byte count in MiB with one decimal, as memory readings are shown."""
    return f"{value / 2**20:.1f} MiB"


def classify_exit(
    returncode: int,
    oom_kills_before: int | None,
    oom_kills_after: int | None,
    sent_sigkill: bool,
    last_memory: int | None,
) -> WorkerExit:
    """Classify the exit of a worker process.

    ``returncode`` is ``subprocess.Popen.returncode`` (negative for a
    signal). The ``oom_kills`` counters are the cgroup's readings when the
    worker started and after it ended, None when unreadable. ``sent_sigkill``
    is whether the supervisor itself sent SIGKILL.
    """
    counters_known = oom_kills_before is not None and oom_kills_after is not None
    if oom_kills_before is not None and oom_kills_after is not None and oom_kills_after > oom_kills_before:
        how = _plain_description(returncode)
        return WorkerExit(
            kind=ExitKind.OOM,
            exit_status=returncode if returncode >= 0 else None,
            signal_number=-returncode if returncode < 0 else None,
            description=f"OOM kill ({how}; the cgroup's oom_kill counter rose from "
            f"{oom_kills_before} to {oom_kills_after})",
        )

    if returncode == 0:
        return WorkerExit(ExitKind.CLEAN, 0, None, "exited cleanly (exit status 0)")
    if returncode > 0:
        return WorkerExit(ExitKind.EXIT_STATUS, returncode, None, f"exit status {returncode}")
    return _signal_exit(-returncode, sent_sigkill, counters_known, last_memory)


def _signal_exit(
    number: int, sent_sigkill: bool, counters_known: bool, last_memory: int | None
) -> WorkerExit:
    description = f"killed by {signal_name(number)}"
    if number == signal.SIGKILL and sent_sigkill:
        return WorkerExit(ExitKind.SIGNAL, None, number, f"{description} (sent by the supervisor)")
    if number != signal.SIGKILL or counters_known:
        return WorkerExit(ExitKind.SIGNAL, None, number, description)

    if last_memory is not None:
        memory = f"last memory reading {format_bytes(last_memory)}"
    else:
        memory = "no memory reading"
    return WorkerExit(
        ExitKind.POSSIBLE_OOM,
        None,
        number,
        f"{description}, possibly OOM (no readable cgroup oom_kill counter; {memory})",
    )


def lost_exit(waited: float) -> WorkerExit:
    """Describe a worker that was still present ``waited`` seconds after SIGKILL."""
    return WorkerExit(
        ExitKind.LOST,
        None,
        None,
        f"still present {waited:g}s after SIGKILL (uninterruptible sleep?); its exit status is unknown",
    )


def _plain_description(returncode: int) -> str:
    if returncode >= 0:
        return f"exit status {returncode}"
    return f"killed by {signal_name(-returncode)}"
