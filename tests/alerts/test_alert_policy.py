"""Pure policy: group timing and content, routes, the budget and digests, silences."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from tests.alerts.conftest import START
from watchdog.alerts.floodguard import FoldedAlert, TargetBudget, admit, close_window, fold
from watchdog.alerts.notify import GroupTimer, group_due, plan_group
from watchdog.alerts.routing import RouteTable, group_key
from watchdog.alerts.silences import ActiveSilence, find_silence, parse_matcher
from watchdog.alerts.state import AlertRecord
from watchdog.config.alerts import AlertSettings, NotificationPolicy
from watchdog.errors import InputError

POLICY = NotificationPolicy()
ROUTES = RouteTable(
    AlertSettings(
        routes=[  # type: ignore[list-item]
            {"name": "pager", "severities": ["critical"], "target": "#pager"},
            {"name": "spend", "rules": ["spend.*"], "target": "webhook:finance"},
        ]
    ),
    "#alerts",
)


def record(fingerprint: str = "f1", **changes: object) -> AlertRecord:
    base = AlertRecord(
        fingerprint=fingerprint,
        rule="latency_p99",
        labels={"host": "a"},
        severity="warning",
        summary="slow",
        details={},
        one_shot=False,
        state="firing",
        last_seen_at=START,
        firing_since=START,
        episode=1,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def never_silenced(item: AlertRecord) -> bool:
    return False


def test_group_waits_then_uses_interval() -> None:
    timer = GroupTimer(created_at=START)

    before = group_due(timer, START + timedelta(seconds=29), POLICY)
    first = group_due(timer, START + timedelta(seconds=30), POLICY)
    timer.last_sent_at = START + timedelta(seconds=30)
    soon = group_due(timer, START + timedelta(minutes=5), POLICY)
    later = group_due(timer, START + timedelta(minutes=5, seconds=30), POLICY)

    assert (before, first, soon, later) == (False, True, False, True)


def test_group_due_when_clock_stepped_back() -> None:
    fresh = GroupTimer(created_at=START)
    sent = GroupTimer(created_at=START, last_sent_at=START + timedelta(seconds=30))

    fresh_due = group_due(fresh, START - timedelta(hours=1), POLICY)
    sent_due = group_due(sent, START - timedelta(hours=1), POLICY)

    assert fresh_due is True
    assert sent_due is True


def test_plan_sends_only_new_alerts() -> None:
    old = record("old", announced_episode=1, announced_at=START)
    new = record("new")
    route = ROUTES.default

    plan = plan_group("k", route, [old, new], START, never_silenced)

    assert plan is not None
    assert [r.fingerprint for r in plan.firing] == ["new"]
    assert [r.fingerprint for r in plan.still_firing] == ["old"]
    assert plan.repeat is False
    assert [(r.fingerprint, r.announced_episode) for r in plan.updated_records(START)] == [("new", 1)]


def test_plan_repeats_after_repeat_interval() -> None:
    announced = record(announced_episode=1, announced_at=START)
    route = ROUTES.default

    quiet = plan_group("k", route, [announced], START + timedelta(hours=3), never_silenced)
    repeat = plan_group("k", route, [announced], START + timedelta(hours=4), never_silenced)

    assert quiet is None
    assert repeat is not None
    assert repeat.repeat is True
    assert [r.fingerprint for r in repeat.firing] == ["f1"]


def test_plan_marks_resolution_quietly_without_send_resolved() -> None:
    done = record(state="resolved", announced_episode=1, resolved_at=START)
    route = replace(ROUTES.default, policy=NotificationPolicy(send_resolved=False))

    plan = plan_group("k", route, [done], START, never_silenced)

    assert plan is not None
    assert plan.has_message is False
    assert [r.resolved_announced_episode for r in plan.updated_records(START)] == [1]


def test_plan_leaves_out_silenced_and_flapping() -> None:
    silenced = record("s")
    flapping = record("f", flapping=True)

    plan = plan_group("k", ROUTES.default, [silenced, flapping], START, lambda r: r.fingerprint == "s")

    assert plan is None


@pytest.mark.parametrize(
    ("rule", "severity", "route", "target"),
    [
        ("worker_crash_loop", "critical", "pager", "#pager"),
        ("spend.threshold", "warning", "spend", "webhook:finance"),
        ("spend.threshold", "critical", "pager", "#pager"),
        ("queue_depth", "warning", "default", "#alerts"),
    ],
)
def test_first_matching_route_wins(rule: str, severity: str, route: str, target: str) -> None:
    chosen = ROUTES.route_for(rule, severity)

    assert (chosen.name, chosen.target) == (route, target)


def test_group_key_ignores_timing_settings() -> None:
    fast = replace(ROUTES.default, policy=NotificationPolicy(group_wait=timedelta(0)))

    key = group_key(ROUTES.default, "latency_p99", "warning", {"host": "a"})

    assert key == "default|rule=latency_p99"
    assert group_key(fast, "latency_p99", "warning", {"host": "a"}) == key


def test_budget_folds_beyond_limit_and_digests() -> None:
    budget = TargetBudget("#alerts")
    allowed = []
    for second in range(4):
        budget, ok = admit(budget, START + timedelta(seconds=second), timedelta(minutes=1), 2)
        allowed.append(ok)
        if not ok:
            budget = fold(budget, [FoldedAlert("queue_depth", "warning", "firing", f"q{second}")])

    still_open, nothing = close_window(budget, START + timedelta(seconds=59), timedelta(minutes=1))
    fresh, digest = close_window(budget, START + timedelta(minutes=1), timedelta(minutes=1))

    assert allowed == [True, True, False, False]
    assert nothing is None
    assert still_open == budget
    assert digest is not None
    assert digest.total == 2
    assert digest.sent == 2
    assert dict(digest.counts) == {("queue_depth", "warning", "firing"): 2}
    assert digest.samples == ("q2", "q3")
    assert fresh == TargetBudget("#alerts")


def test_budget_round_trips_through_json() -> None:
    budget = fold(
        TargetBudget("#alerts", window_start=START, window_sent=3),
        [FoldedAlert("r", "critical", "resolved", "x")],
    )

    rebuilt = TargetBudget.from_row("#alerts", START, 3, budget.to_json())

    assert rebuilt == budget


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ("rule=latency_p99", {"rule": "latency_p99"}, True),
        ("rule!=latency_p99", {"rule": "latency_p99"}, False),
        ("host=~web-[0-9]+", {"host": "web-12"}, True),
        ("host=~web", {"host": "web-12"}, False),
        ("host!~db-.*", {"host": "web-1"}, True),
        ("zone=", {}, True),
    ],
)
def test_matcher_operators(text: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_matcher(text).matches(labels) is expected


def test_silence_needs_every_matcher() -> None:
    silence = ActiveSilence(
        "s1", (parse_matcher("rule=queue_depth"), parse_matcher("host=a")), START
    )

    assert find_silence([silence], {"rule": "queue_depth", "host": "a"}) is silence
    assert find_silence([silence], {"rule": "queue_depth", "host": "b"}) is None


@pytest.mark.parametrize("text", ["rule", "=x", "rule=~[", "9abc=x"])
def test_bad_matcher_is_rejected(text: str) -> None:
    with pytest.raises(InputError, match="invalid matcher"):
        parse_matcher(text)
