"""Metric and health rules: hysteresis, skipped windows, and the events they return."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.alerts.conftest import START
from watchdog.alerts.rules import (
    CLOUDWATCH_FAILING,
    DEAD_LETTERS,
    ERROR_RATE,
    LATENCY_P99,
    MEMORY_PER_REQUEST,
    QUEUE_DEPTH,
    TRAFFIC_ABOVE_PEAK,
    HealthRules,
    HealthSample,
    MetricRules,
    MetricWindow,
    latch,
)
from watchdog.config.alerts import HealthRulesSettings, LatencyRule, MetricRulesSettings

LABELS = {"service": "inference", "host": "host-a"}


def window(index: int = 0, **values: object) -> MetricWindow:
    start = START + timedelta(seconds=10 * index)
    fields: dict[str, object] = {"requests": 100, "errors": 0}
    fields.update(values)
    return MetricWindow(start=start, end=start + timedelta(seconds=10), **fields)  # type: ignore[arg-type]


def states(events: list[object], rule: str) -> list[str]:
    return [e.state for e in events if e.rule == rule]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("active", "value", "expected"),
    [(False, 1.1, True), (False, 0.8, False), (True, 0.8, True), (True, 0.5, False), (True, 1.0, True)],
)
def test_latch_keeps_state_between_levels(active: bool, value: float, expected: bool) -> None:
    rule = LatencyRule(fire=1.0, clear=0.5)

    assert latch(active, value, rule) is expected


def test_latency_fires_and_clears_with_hysteresis() -> None:
    rules = MetricRules(MetricRulesSettings(), LABELS)
    values = [0.2, 1.2, 0.8, 0.6, 0.4]

    results = [
        states(rules.evaluate(window(i, p99_latency_seconds=v)), LATENCY_P99)
        for i, v in enumerate(values)
    ]

    assert results == [["resolved"], ["firing"], ["firing"], ["firing"], ["resolved"]]


def test_event_carries_for_and_summary() -> None:
    rules = MetricRules(MetricRulesSettings(), LABELS)

    (event,) = rules.evaluate(window(requests=5, p99_latency_seconds=1.25))

    assert event.rule == LATENCY_P99
    assert event.pending_for == timedelta(seconds=30)
    assert event.summary == "p99 latency 1250 ms"
    assert event.at == START + timedelta(seconds=10)
    assert dict(event.labels) == LABELS


def test_low_traffic_skips_ratio_rules() -> None:
    rules = MetricRules(MetricRulesSettings(), LABELS)

    events = rules.evaluate(window(requests=5, errors=5, memory_bytes=10 * 1024**3))

    assert events == []


def test_error_rate_and_memory_per_request() -> None:
    rules = MetricRules(MetricRulesSettings(), LABELS)

    events = rules.evaluate(window(requests=40, errors=4, memory_bytes=40 * 100 * 1024**2))

    by_rule = {e.rule: e for e in events}
    assert by_rule[ERROR_RATE].state == "firing"
    assert by_rule[ERROR_RATE].severity == "critical"
    assert by_rule[ERROR_RATE].summary == "error rate 10.0% (4/40)"
    assert by_rule[MEMORY_PER_REQUEST].state == "firing"
    assert by_rule[MEMORY_PER_REQUEST].summary == "100.0 MiB of memory per request"


def test_traffic_above_expected_peak() -> None:
    settings = MetricRulesSettings(expected_peak_rps=50)
    rules = MetricRules(settings, LABELS)

    normal = rules.evaluate(window(0, requests=550))
    retry_storm = rules.evaluate(window(1, requests=610))
    own_peak = rules.evaluate(window(2, requests=610, expected_peak_rps=100))

    assert states(normal, TRAFFIC_ABOVE_PEAK) == ["resolved"]
    assert states(retry_storm, TRAFFIC_ABOVE_PEAK) == ["firing"]
    assert retry_storm[-1].summary == "traffic 61.0 req/s is 122% of the expected peak 50 req/s"
    assert states(own_peak, TRAFFIC_ABOVE_PEAK) == ["resolved"]


def test_traffic_rule_needs_expected_peak() -> None:
    rules = MetricRules(MetricRulesSettings(), LABELS)

    assert states(rules.evaluate(window(requests=10_000)), TRAFFIC_ABOVE_PEAK) == []


def test_disabled_rule_returns_nothing() -> None:
    settings = MetricRulesSettings(queue_depth={"enabled": False})  # type: ignore[arg-type]
    rules = MetricRules(settings, LABELS)

    assert states(rules.evaluate(window(queue_depth=500)), QUEUE_DEPTH) == []


def test_window_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="expected 0 <= errors <= requests"):
        window(requests=1, errors=2)
    with pytest.raises(ValueError, match="before it starts"):
        MetricWindow(start=START, end=START, requests=0, errors=0)


def test_spool_growing_needs_consecutive_growth() -> None:
    rules = HealthRules(HealthRulesSettings(spool_growing_samples=3), LABELS)
    depths = [0, 5, 9, 12, 12, 20]

    results = [
        rules.evaluate(HealthSample(at=START, spool_depth=depth))[0].state for depth in depths
    ]

    assert results == ["resolved", "resolved", "resolved", "firing", "resolved", "resolved"]


def test_cloudwatch_and_dead_letters() -> None:
    rules = HealthRules(HealthRulesSettings(cloudwatch_failures=3), LABELS)

    events = rules.evaluate(
        HealthSample(at=START, cloudwatch_consecutive_failures=3, dead_letters=0)
    )

    assert [(e.rule, e.state, e.severity) for e in events] == [
        (CLOUDWATCH_FAILING, "firing", "critical"),
        (DEAD_LETTERS, "resolved", "warning"),
    ]

