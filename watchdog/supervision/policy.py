"""Restart decisions as plain functions: backoff delay, crash-loop detection, memory budget.

Times are seconds on a monotonic clock; the supervisor passes its clock's
readings in, so every rule here is tested without waiting.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from watchdog.config.supervision import RestartSettings

# Beyond this many doublings every realistic policy is at its maximum; capping the
# exponent keeps multiplier ** n from overflowing a float.
_MAX_EXPONENT = 64


@dataclass(frozen=True)
class BackoffPolicy:
    """Exponential backoff with proportional jitter, in seconds."""

    initial: float
    maximum: float
    multiplier: float
    jitter: float

    @classmethod
    def from_settings(cls, settings: RestartSettings) -> BackoffPolicy:
        """Build the policy from the ``supervision.restart`` settings."""
        return cls(
            initial=settings.backoff_initial.total_seconds(),
            maximum=settings.backoff_max.total_seconds(),
            multiplier=settings.backoff_multiplier,
            jitter=settings.jitter,
        )

    def bounds(self, failures: int) -> tuple[float, float]:
        """Return the smallest and largest delay that ``backoff_delay`` may return."""
        base = self.base_delay(failures)
        return (base * (1 - self.jitter), min(self.maximum, base * (1 + self.jitter)))

    def base_delay(self, failures: int) -> float:
        """Return the delay before jitter after ``failures`` consecutive failures (1 or more)."""
        if failures < 1:
            raise ValueError(f"failures must be 1 or more, got {failures}")
        exponent = min(failures - 1, _MAX_EXPONENT)
        return min(self.maximum, self.initial * self.multiplier**exponent)


def backoff_delay(policy: BackoffPolicy, failures: int, draw: float) -> float:
    """Return the delay before the next start after ``failures`` consecutive failures.

    ``draw`` is a uniform random number in [0, 1). It spreads the delay over
    ``base * (1 - jitter)`` to ``base * (1 + jitter)``, capped at the maximum,
    so that hosts restarting after a shared fault do not start in step.
    """
    base = policy.base_delay(failures)
    spread = 1.0 + policy.jitter * (2.0 * draw - 1.0)
    return min(policy.maximum, base * spread)


def recent_failures(failure_times: Iterable[float], now: float, window: float) -> list[float]:
    """Return the failure times that fall within ``window`` seconds before ``now``."""
    return [at for at in failure_times if now - at <= window]


def is_crash_loop(failure_times: Iterable[float], now: float, window: float, threshold: int) -> bool:
    """Return whether ``threshold`` or more failures fall within the window ending at ``now``."""
    return len(recent_failures(failure_times, now, window)) >= threshold


MemoryAction = Literal["none", "soft", "hard"]


@dataclass(frozen=True)
class MemoryBudget:
    """The worker's memory limits in bytes and how many readings above soft make a restart."""

    hard_limit: int
    soft_limit: int
    samples: int


def assess_memory(budget: MemoryBudget, reading: int, over_soft: int) -> tuple[int, MemoryAction]:
    """Return the new count of consecutive readings above the soft limit and the action due.

    ``hard`` means the reading reached the hard limit and the worker must go
    now; ``soft`` means ``budget.samples`` readings in a row were above the
    soft limit, so the worker is restarted before the kernel's OOM killer acts.
    """
    if reading >= budget.hard_limit:
        return over_soft + 1, "hard"
    if reading <= budget.soft_limit:
        return 0, "none"
    count = over_soft + 1
    if count >= budget.samples:
        return count, "soft"
    return count, "none"


def resolve_hard_limit(limit: int | None, limit_share: float | None, cgroup_limit: int | None) -> int | None:
    """Return the hard limit in bytes from the settings and the daemon's cgroup limit.

    Raises ``ValueError`` when a share is configured but the cgroup has no limit.
    """
    if limit is not None:
        return limit
    if limit_share is None:
        return None
    if cgroup_limit is None:
        raise ValueError(
            f"supervision.memory.limit_share {limit_share} needs a memory limit on the "
            "daemon's cgroup, and it has none: set supervision.memory.limit in bytes instead"
        )
    return int(cgroup_limit * limit_share)
