"""The worker's states and the transitions allowed between them.

::

    STOPPED ──start──▶ STARTING ──health ok──▶ RUNNING
                          │  ▲                    │
      exit, start-up  ────┤  └──── due ─── BACKOFF ◀── exit
      timeout, stop       ▼                  ▲
                       STOPPING ─────────────┘  (hang, memory, start-up timeout)
                          │
                          └──▶ STOPPED (shutdown), STARTING (manual restart)

    STARTING ──the command cannot be executed──▶ FATAL ──manual restart──▶ STARTING

A crash loop is BACKOFF with the cool-off as its delay. Attach mode has its
own smaller set: STARTING (not yet checked), RUNNING (healthy) and STOPPED
(down).
"""

from __future__ import annotations

import enum


class WorkerState(enum.StrEnum):
    """A state of the supervised worker."""

    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    BACKOFF = "backoff"
    STOPPING = "stopping"
    FATAL = "fatal"


# Every transition the supervisor may take; anything else is a bug.
ALLOWED_TRANSITIONS: frozenset[tuple[WorkerState, WorkerState]] = frozenset(
    {
        (WorkerState.STOPPED, WorkerState.STARTING),
        (WorkerState.STARTING, WorkerState.RUNNING),
        (WorkerState.STARTING, WorkerState.BACKOFF),
        (WorkerState.STARTING, WorkerState.STOPPING),
        (WorkerState.STARTING, WorkerState.FATAL),
        (WorkerState.RUNNING, WorkerState.BACKOFF),
        (WorkerState.RUNNING, WorkerState.STOPPING),
        (WorkerState.STOPPING, WorkerState.BACKOFF),
        (WorkerState.STOPPING, WorkerState.STARTING),
        (WorkerState.STOPPING, WorkerState.STOPPED),
        (WorkerState.BACKOFF, WorkerState.STARTING),
        (WorkerState.BACKOFF, WorkerState.STOPPED),
        (WorkerState.FATAL, WorkerState.STARTING),
        (WorkerState.FATAL, WorkerState.STOPPED),
    }
)

# Attach mode only observes: seen healthy or not.
ATTACH_TRANSITIONS: frozenset[tuple[WorkerState, WorkerState]] = frozenset(
    {
        (WorkerState.STARTING, WorkerState.RUNNING),
        (WorkerState.STARTING, WorkerState.STOPPED),
        (WorkerState.RUNNING, WorkerState.STOPPED),
        (WorkerState.STOPPED, WorkerState.RUNNING),
    }
)


class InvalidTransitionError(RuntimeError):
    """The supervisor tried a transition that the state machine does not allow."""

    def __init__(self, current: WorkerState, target: WorkerState) -> None:
        self.current = current
        self.target = target
        super().__init__(
            f"invalid worker transition {current.name} -> {target.name}; this is a bug in the supervisor"
        )


def check_transition(
    current: WorkerState,
    target: WorkerState,
    allowed: frozenset[tuple[WorkerState, WorkerState]] = ALLOWED_TRANSITIONS,
) -> None:
    """Raise ``InvalidTransitionError`` unless ``current -> target`` is in ``allowed``."""
    if (current, target) not in allowed:
        raise InvalidTransitionError(current, target)
