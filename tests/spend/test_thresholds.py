"""The threshold ladder with a $420 baseline: warning $504, steps $604, $704, ..., critical $630."""

from __future__ import annotations

from decimal import Decimal

import pytest

from watchdog.spend.thresholds import (
    ThresholdPolicy,
    new_crossings,
    next_threshold,
    percent_of,
)

BASELINE = Decimal(420)
POLICY = ThresholdPolicy()


def crossed(amount: str, fired: set[str]) -> list[tuple[str, Decimal]]:
    """Return (level, line) of the lines that ``amount`` newly crosses, and add them to ``fired``."""
    crossings = new_crossings(BASELINE, Decimal(amount), POLICY, fired)
    fired.update(crossing.threshold.level for crossing in crossings)
    return [(crossing.threshold.level, crossing.threshold.amount) for crossing in crossings]


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("0", []),
        ("503.99", []),
        ("504", [("warning", Decimal(504))]),
        ("603.99", [("warning", Decimal(504))]),
        ("604", [("warning", Decimal(504)), ("step-1", Decimal(604))]),
        ("630", [("warning", Decimal(504)), ("step-1", Decimal(604)), ("critical", Decimal(630))]),
        ("704", [("warning", Decimal(504)), ("critical", Decimal(630)), ("step-2", Decimal(704))]),
    ],
)
def test_lines_crossed_with_nothing_fired(amount: str, expected: list[tuple[str, Decimal]]) -> None:
    assert crossed(amount, set()) == expected


def test_month_walk_fires_each_line_once() -> None:
    fired: set[str] = set()
    walk = [
        ("100", []),
        ("504", [("warning", Decimal(504))]),
        ("550", []),
        ("604", [("step-1", Decimal(604))]),
        ("610", []),
        ("630", [("critical", Decimal(630))]),
        ("640", []),
        # A credit takes spend below every line, then it climbs back.
        ("480", []),
        ("640", []),
        ("704", [("step-2", Decimal(704))]),
        ("704.01", []),
        ("804", [("step-3", Decimal(804))]),
        ("904", [("step-4", Decimal(904))]),
    ]

    results = [(amount, crossed(amount, fired)) for amount, _ in walk]

    assert results == walk


def test_jump_announces_highest_step_only() -> None:
    fired = {"warning", "step-1", "critical"}

    crossings = new_crossings(BASELINE, Decimal(3200), POLICY, fired)

    assert len(crossings) == 1
    assert crossings[0].threshold.level == "step-26"
    assert crossings[0].threshold.amount == Decimal(3104)
    assert crossings[0].passed_steps == 24


def test_lower_step_never_fires_after_higher() -> None:
    fired = {"warning", "critical", "step-5"}

    assert new_crossings(BASELINE, Decimal(800), POLICY, fired) == []


def test_step_on_critical_line_is_skipped() -> None:
    # Baseline $1,000: warning $1,200, steps $1,300, $1,400, critical $1,500, step $1,600.
    baseline = Decimal(1000)

    crossings = new_crossings(baseline, Decimal(1500), POLICY, set())

    assert [(c.threshold.level, c.threshold.amount) for c in crossings] == [
        ("warning", Decimal(1200)),
        ("step-2", Decimal(1400)),
        ("critical", Decimal(1500)),
    ]
    assert next_threshold(baseline, Decimal(1500), POLICY).level == "step-4"


@pytest.mark.parametrize(
    ("amount", "level", "line"),
    [
        ("0", "warning", "504"),
        ("503.99", "warning", "504"),
        ("504", "step-1", "604"),
        ("604", "critical", "630"),
        ("630", "step-2", "704"),
        ("3200", "step-27", "3204"),
    ],
)
def test_next_threshold_above_amount(amount: str, level: str, line: str) -> None:
    threshold = next_threshold(BASELINE, Decimal(amount), POLICY)

    assert threshold.level == level
    assert threshold.amount == Decimal(line)


def test_step_size_is_configurable() -> None:
    policy = ThresholdPolicy(step=Decimal(50))

    crossings = new_crossings(BASELINE, Decimal(560), policy, {"warning"})

    assert [(c.threshold.level, c.threshold.amount) for c in crossings] == [
        ("step-1", Decimal(554))
    ]


def test_percent_of_baseline() -> None:
    assert percent_of(BASELINE, Decimal(630)) == Decimal("150.0")
    assert percent_of(BASELINE, Decimal(3200)) == Decimal("761.9")


def test_policy_rejects_critical_below_warning() -> None:
    with pytest.raises(ValueError, match="critical percent 110 must be above the warning"):
        ThresholdPolicy(warning_percent=Decimal(120), critical_percent=Decimal(110))
