"""The billing threshold ladder and which of its lines a new amount crosses.

With a baseline B, the lines are a warning at ``warning_percent`` of B, a
critical alert at ``critical_percent`` of B, and a step every ``step``
dollars above the warning line. For B = $420 and the defaults that is a
warning at $504, steps at $604, $704, $804, ... and a critical at $630.

A line is crossed when the amount reaches it. Each line is announced at
most once per month and kind: ``fired`` holds the levels already announced,
so a dip below a line and a new rise above it announce nothing. When one
reading jumps over several steps, only the highest of them is announced,
and the lower ones count as passed.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

WARNING = "warning"
CRITICAL = "critical"
_STEP_PREFIX = "step-"

ThresholdSeverity = Literal["warning", "critical"]


@dataclass(frozen=True)
class ThresholdPolicy:
    """Where the lines sit, relative to the baseline."""

    warning_percent: Decimal = Decimal(120)
    critical_percent: Decimal = Decimal(150)
    step: Decimal = Decimal(100)

    def __post_init__(self) -> None:
        if self.warning_percent <= 0:
            raise ValueError(f"warning percent must be above 0, got {self.warning_percent}")
        if self.critical_percent <= self.warning_percent:
            raise ValueError(
                f"critical percent {self.critical_percent} must be above the warning percent "
                f"{self.warning_percent}"
            )
        if self.step <= 0:
            raise ValueError(f"step must be above $0, got {self.step}")


@dataclass(frozen=True)
class Threshold:
    """One line of the ladder: its level name, its dollar amount and its severity."""

    level: str
    amount: Decimal
    severity: ThresholdSeverity


@dataclass(frozen=True)
class Crossing:
    """A line that an amount newly crossed; ``passed_steps`` counts lower steps jumped over."""

    threshold: Threshold
    passed_steps: int = 0


def step_level(number: int) -> str:
    """Return the level name of step ``number`` (1 is the first step above the warning line)."""
    return f"{_STEP_PREFIX}{number}"


def step_number(level: str) -> int | None:
    """Return the step number of a level name, or None for the warning and critical levels."""
    if not level.startswith(_STEP_PREFIX):
        return None
    suffix = level.removeprefix(_STEP_PREFIX)
    return int(suffix) if suffix.isdigit() else None


def warning_amount(baseline: Decimal, policy: ThresholdPolicy) -> Decimal:
    """Return the amount of the warning line."""
    return baseline * policy.warning_percent / 100


def critical_amount(baseline: Decimal, policy: ThresholdPolicy) -> Decimal:
    """Return the amount of the critical line."""
    return baseline * policy.critical_percent / 100


def step_amount(baseline: Decimal, policy: ThresholdPolicy, number: int) -> Decimal:
    """Return the amount of step ``number``."""
    return warning_amount(baseline, policy) + policy.step * number


def highest_step_reached(baseline: Decimal, amount: Decimal, policy: ThresholdPolicy) -> int:
    """Return the number of the highest step at or below ``amount``; 0 when none is."""
    above_warning = amount - warning_amount(baseline, policy)
    if above_warning < policy.step:
        return 0
    return int(above_warning // policy.step)


def _is_step_shadowed(baseline: Decimal, policy: ThresholdPolicy, number: int) -> bool:
    # A step that falls exactly on the critical line would repeat the critical alert.
    return step_amount(baseline, policy, number) == critical_amount(baseline, policy)


def _step(baseline: Decimal, policy: ThresholdPolicy, number: int) -> Threshold:
    return Threshold(step_level(number), step_amount(baseline, policy, number), "warning")


def new_crossings(
    baseline: Decimal, amount: Decimal, policy: ThresholdPolicy, fired: Collection[str]
) -> list[Crossing]:
    """Return the lines that ``amount`` has reached and that ``fired`` does not hold yet.

    The result is ordered by amount. ``baseline`` must be above zero.
    """
    if baseline <= 0:
        raise ValueError(f"baseline must be above $0, got {baseline}")
    crossings: list[Crossing] = []

    warning = Threshold(WARNING, warning_amount(baseline, policy), "warning")
    if amount >= warning.amount and WARNING not in fired:
        crossings.append(Crossing(warning))

    critical = Threshold(CRITICAL, critical_amount(baseline, policy), "critical")
    if amount >= critical.amount and CRITICAL not in fired:
        crossings.append(Crossing(critical))

    highest = highest_step_reached(baseline, amount, policy)
    if highest > 0 and _is_step_shadowed(baseline, policy, highest):
        highest -= 1
    fired_steps = [number for number in map(step_number, fired) if number is not None]
    highest_fired = max(fired_steps, default=0)
    if highest > highest_fired:
        passed = sum(
            1
            for number in range(highest_fired + 1, highest)
            if not _is_step_shadowed(baseline, policy, number)
        )
        crossings.append(Crossing(_step(baseline, policy, highest), passed_steps=passed))

    return sorted(crossings, key=lambda crossing: crossing.threshold.amount)


def next_threshold(baseline: Decimal, amount: Decimal, policy: ThresholdPolicy) -> Threshold:
    """Return the lowest line strictly above ``amount``, whether or not it was announced."""
    if baseline <= 0:
        raise ValueError(f"baseline must be above $0, got {baseline}")
    candidates = [
        Threshold(WARNING, warning_amount(baseline, policy), "warning"),
        Threshold(CRITICAL, critical_amount(baseline, policy), "critical"),
    ]
    number = highest_step_reached(baseline, amount, policy) + 1
    if _is_step_shadowed(baseline, policy, number):
        number += 1
    candidates.append(_step(baseline, policy, number))
    above = [threshold for threshold in candidates if threshold.amount > amount]
    return min(above, key=lambda threshold: threshold.amount)


def percent_of(baseline: Decimal, amount: Decimal) -> Decimal:
    """Return ``amount`` as a percentage of ``baseline``, to one decimal place."""
    return (amount * 100 / baseline).quantize(Decimal("0.1"))
