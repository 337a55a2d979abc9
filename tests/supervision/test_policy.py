"""Backoff, crash-loop and memory-budget decisions."""

from __future__ import annotations

from datetime import timedelta

import pytest

from watchdog.config.supervision import RestartSettings
from watchdog.supervision.policy import (
    BackoffPolicy,
    MemoryBudget,
    assess_memory,
    backoff_delay,
    is_crash_loop,
    recent_failures,
    resolve_hard_limit,
)

POLICY = BackoffPolicy(initial=0.5, maximum=30.0, multiplier=2.0, jitter=0.2)


@pytest.mark.parametrize(
    ("failures", "expected"),
    [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (6, 16.0), (7, 30.0), (500, 30.0)],
)
def test_backoff_doubles_up_to_maximum(failures: int, expected: float) -> None:
    assert backoff_delay(POLICY, failures, draw=0.5) == expected


def test_backoff_jitter_spreads_delay() -> None:
    assert backoff_delay(POLICY, 3, draw=0.0) == pytest.approx(1.6)
    assert backoff_delay(POLICY, 3, draw=0.999999) == pytest.approx(2.4, abs=1e-5)


def test_backoff_jitter_never_exceeds_maximum() -> None:
    assert backoff_delay(POLICY, 10, draw=0.999) == 30.0
    assert POLICY.bounds(10) == (24.0, 30.0)


def test_backoff_bounds_match_delays() -> None:
    low, high = POLICY.bounds(1)

    assert (low, high) == pytest.approx((0.4, 0.6))
    for draw in (0.0, 0.25, 0.5, 0.75, 0.999):
        assert low <= backoff_delay(POLICY, 1, draw) <= high


def test_backoff_rejects_zero_failures() -> None:
    with pytest.raises(ValueError, match="failures must be 1 or more, got 0"):
        backoff_delay(POLICY, 0, draw=0.5)


def test_backoff_policy_from_settings() -> None:
    settings = RestartSettings(
        backoff_initial=timedelta(seconds=1), backoff_max=timedelta(seconds=8), jitter=0.1
    )

    assert BackoffPolicy.from_settings(settings) == BackoffPolicy(1.0, 8.0, 2.0, 0.1)


def test_restart_settings_reject_max_below_initial() -> None:
    with pytest.raises(ValueError, match="backoff_max 0:00:01 is below backoff_initial 0:00:05"):
        RestartSettings(backoff_initial="5s", backoff_max="1s")


def test_crash_loop_counts_failures_in_window() -> None:
    failures = [100.0, 130.0, 170.0, 190.0, 200.0]

    assert is_crash_loop(failures, now=200.0, window=100.0, threshold=5)
    assert not is_crash_loop(failures, now=201.0, window=100.0, threshold=5)
    assert recent_failures(failures, now=201.0, window=100.0) == [130.0, 170.0, 190.0, 200.0]


def test_crash_loop_needs_threshold() -> None:
    assert not is_crash_loop([1.0, 2.0], now=2.0, window=60.0, threshold=3)
    assert is_crash_loop([1.0, 2.0, 3.0], now=3.0, window=60.0, threshold=3)


BUDGET = MemoryBudget(hard_limit=1000, soft_limit=800, samples=3)


def test_memory_below_soft_resets_count() -> None:
    assert assess_memory(BUDGET, 800, over_soft=2) == (0, "none")


def test_memory_soft_restart_after_samples() -> None:
    count, action = assess_memory(BUDGET, 900, over_soft=0)
    assert (count, action) == (1, "none")
    count, action = assess_memory(BUDGET, 850, over_soft=count)
    assert (count, action) == (2, "none")
    count, action = assess_memory(BUDGET, 950, over_soft=count)
    assert (count, action) == (3, "soft")


def test_memory_hard_limit_acts_at_once() -> None:
    assert assess_memory(BUDGET, 1000, over_soft=0) == (1, "hard")


def test_hard_limit_from_bytes_or_share() -> None:
    assert resolve_hard_limit(512, None, cgroup_limit=4096) == 512
    assert resolve_hard_limit(None, 0.75, cgroup_limit=4096) == 3072
    assert resolve_hard_limit(None, None, cgroup_limit=4096) is None


def test_hard_limit_share_needs_cgroup_limit() -> None:
    with pytest.raises(ValueError) as raised:
        resolve_hard_limit(None, 0.5, cgroup_limit=None)

    assert str(raised.value) == (
        "supervision.memory.limit_share 0.5 needs a memory limit on the daemon's cgroup, and "
        "it has none: set supervision.memory.limit in bytes instead"
    )
