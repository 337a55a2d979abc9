"""The worker state machine's guarded transitions."""

from __future__ import annotations

import pytest

from watchdog.supervision.states import (
    ALLOWED_TRANSITIONS,
    ATTACH_TRANSITIONS,
    InvalidTransitionError,
    WorkerState,
    check_transition,
)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (WorkerState.STOPPED, WorkerState.STARTING),
        (WorkerState.STARTING, WorkerState.RUNNING),
        (WorkerState.RUNNING, WorkerState.BACKOFF),
        (WorkerState.RUNNING, WorkerState.STOPPING),
        (WorkerState.STOPPING, WorkerState.BACKOFF),
        (WorkerState.STOPPING, WorkerState.STARTING),
        (WorkerState.STOPPING, WorkerState.STOPPED),
        (WorkerState.BACKOFF, WorkerState.STARTING),
        (WorkerState.STARTING, WorkerState.FATAL),
        (WorkerState.FATAL, WorkerState.STARTING),
    ],
)
def test_transition_allowed(current: WorkerState, target: WorkerState) -> None:
    check_transition(current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (WorkerState.STOPPED, WorkerState.RUNNING),
        (WorkerState.BACKOFF, WorkerState.RUNNING),
        (WorkerState.RUNNING, WorkerState.STARTING),
        (WorkerState.RUNNING, WorkerState.STOPPED),
        (WorkerState.FATAL, WorkerState.RUNNING),
        (WorkerState.STOPPED, WorkerState.STOPPING),
    ],
)
def test_transition_rejected(current: WorkerState, target: WorkerState) -> None:
    with pytest.raises(InvalidTransitionError) as raised:
        check_transition(current, target)

    assert str(raised.value) == (
        f"invalid worker transition {current.name} -> {target.name}; this is a bug in the supervisor"
    )


def test_no_state_transitions_to_itself() -> None:
    for current, target in ALLOWED_TRANSITIONS | ATTACH_TRANSITIONS:
        assert current is not target


def test_attach_mode_cannot_back_off() -> None:
    with pytest.raises(InvalidTransitionError):
        check_transition(WorkerState.RUNNING, WorkerState.BACKOFF, ATTACH_TRANSITIONS)

    check_transition(WorkerState.STOPPED, WorkerState.RUNNING, ATTACH_TRANSITIONS)
