"""The alert state machine: pending, firing, resolved, episodes and flapping."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from tests.alerts.conftest import START, firing, resolved
from watchdog.alerts.state import AlertRecord, observe, settle_flapping

WINDOW = timedelta(minutes=10)


def at(seconds: float) -> object:
    return START + timedelta(seconds=seconds)


def step(record: AlertRecord | None, event: object, max_changes: int = 6) -> tuple[AlertRecord, str]:
    observation = observe(record, event, WINDOW, max_changes)  # type: ignore[arg-type]
    assert observation.record is not None
    return observation.record, observation.outcome


def test_first_firing_starts_episode_one() -> None:
    record, outcome = step(None, firing(at=START))

    assert outcome == "fired"
    assert record.state == "firing"
    assert record.episode == 1
    assert record.firing_since == START
    assert record.needs_firing_announcement is True


def test_pending_for_holds_until_elapsed() -> None:
    hold = timedelta(seconds=30)
    first = replace(firing(at=START), pending_for=hold)
    record, outcome = step(None, first)
    record_10, outcome_10 = step(record, replace(first, at=START + timedelta(seconds=10)))
    record_30, outcome_30 = step(record_10, replace(first, at=START + timedelta(seconds=30)))

    assert (outcome, record.state, record.episode) == ("pending", "pending", 0)
    assert (outcome_10, record_10.pending_since) == ("pending", START)
    assert (outcome_30, record_30.state, record_30.episode) == ("fired", "firing", 1)


def test_resolve_while_pending_cancels() -> None:
    pending, _ = step(None, replace(firing(at=START), pending_for=timedelta(minutes=1)))

    record, outcome = step(pending, resolved(at=START + timedelta(seconds=5)))

    assert outcome == "cancelled"
    assert record.state == "resolved"
    assert record.episode == 0
    assert record.needs_resolved_announcement is False


def test_resolved_never_seen_is_ignored() -> None:
    observation = observe(None, resolved(at=START), WINDOW, 6)

    assert observation.record is None
    assert observation.outcome == "ignored"


def test_refire_starts_new_episode() -> None:
    record, _ = step(None, firing(at=START))
    record = replace(record, announced_episode=1)
    record, resolve_outcome = step(record, resolved(at=START + timedelta(minutes=1)))
    record, refire_outcome = step(record, firing(at=START + timedelta(minutes=2)))

    assert resolve_outcome == "resolved"
    assert refire_outcome == "fired"
    assert record.episode == 2
    assert record.needs_firing_announcement is True


def test_resolution_needs_announcement_only_if_fired_announced() -> None:
    record, _ = step(None, firing(at=START))
    unannounced, _ = step(record, resolved(at=START + timedelta(seconds=1)))
    announced, _ = step(replace(record, announced_episode=1), resolved(at=START + timedelta(seconds=1)))

    assert unannounced.needs_resolved_announcement is False
    assert announced.needs_resolved_announcement is True
    assert announced.summary == "p99 latency 1200 ms"


def test_duplicate_updates_summary_only() -> None:
    record, _ = step(None, firing(at=START))

    again, outcome = step(record, firing(at=START + timedelta(seconds=10), summary="p99 latency 1500 ms"))

    assert outcome == "duplicate"
    assert again.episode == 1
    assert again.summary == "p99 latency 1500 ms"
    assert again.last_seen_at == START + timedelta(seconds=10)


def test_one_shot_announced_once_ever() -> None:
    record, _ = step(None, replace(firing(at=START), one_shot=True))
    record = replace(record, announced_episode=1)
    record, _ = step(record, replace(resolved(at=START + timedelta(seconds=5)), one_shot=True))
    record, _ = step(record, replace(firing(at=START + timedelta(seconds=9)), one_shot=True))

    assert record.episode == 2
    assert record.needs_firing_announcement is False
    assert record.needs_resolved_announcement is False


def test_sixth_change_starts_flapping() -> None:
    record = None
    started = []
    for index in range(6):
        event = firing if index % 2 == 0 else resolved
        observation = observe(record, event(at=START + timedelta(seconds=10 * index)), WINDOW, 6)
        record = observation.record
        started.append(observation.started_flapping)

    assert record is not None
    assert started == [False, False, False, False, False, True]
    assert record.flapping is True
    assert len(record.changes) == 6


def test_changes_outside_window_do_not_count() -> None:
    record = None
    for index in range(8):
        event = firing if index % 2 == 0 else resolved
        record = observe(record, event(at=START + timedelta(minutes=3 * index)), WINDOW, 6).record

    assert record is not None
    assert record.flapping is False
    assert len(record.changes) == 4


def test_flapping_settles_after_stable_period() -> None:
    record, _ = step(None, firing(at=START))
    flapping = replace(record, flapping=True, flap_noticed=True, changes=(START,))

    early = settle_flapping(flapping, START + timedelta(minutes=9), timedelta(minutes=10))
    settled = settle_flapping(flapping, START + timedelta(minutes=10), timedelta(minutes=10))

    assert early is None
    assert settled is not None
    assert (settled.flapping, settled.flap_noticed, settled.changes) == (False, False, ())
