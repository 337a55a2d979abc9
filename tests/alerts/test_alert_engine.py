"""The engine end to end on a controlled clock: SQLite outbox, real delivery to the Slack double."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import datetime, timedelta

from tests.alerts.conftest import HarnessFactory, firing, resolved
from watchdog.alerts.counters import read_monthly_counts
from watchdog.alerts.events import AlertEvent
from watchdog.alerts.silences import create_silence, expire_silence, parse_matcher
from watchdog.embedded.slack_faults import Fault
from watchdog.storage.models import Silence


def texts(accepted: list[dict[str, object]]) -> list[str]:
    return [str(entry["body"]["text"]) for entry in accepted]  # type: ignore[index]


def times(accepted: list[dict[str, object]]) -> list[datetime]:
    return [datetime.fromisoformat(str(entry["time"])) for entry in accepted]


def test_ten_thousand_duplicates_send_one_message(make_harness: HarnessFactory) -> None:
    harness = make_harness()
    start = harness.clock()

    for second in range(60):
        for index in range(second * 10_000 // 60, (second + 1) * 10_000 // 60):
            harness.engine.emit(firing(at=start + timedelta(milliseconds=6 * index)))
        harness.tick()
    harness.run_for(60)

    accepted = harness.double.accepted()
    status = harness.status()
    assert len(accepted) == 1
    assert texts(accepted)[0].startswith("[FIRING:1] latency_p99")
    assert status["suppressed"] == 9_999
    assert status["suppressed_by_reason"] == {"duplicate": 9_999}
    assert status["sent"] == 1
    assert status["firing"] == 1
    assert status["outbox_pending"] == 0
    with harness.store.session() as session:
        monthly = read_monthly_counts(session, start.strftime("%Y-%m"))
    assert monthly == {"announced": {"latency_p99": 1}, "suppressed": {"latency_p99": 9_999}}


def test_two_hundred_alerts_fold_into_budget_and_digest(make_harness: HarnessFactory) -> None:
    harness = make_harness(
        alerts={
            "default_route": {"group_by": ["rule", "client"], "group_wait": "5s"},
            "flood_guard": {"budget": 10, "budget_window": "2m"},
        }
    )
    # The double itself rejects a second message to a channel within a second.
    harness.double.add_fault(Fault("channel_rate", method="chat.postMessage", interval=1.0))
    start = harness.clock()

    for index in range(200):
        at = start + timedelta(seconds=index * 0.3)
        harness.engine.emit(firing(at=at, summary=f"client {index} retrying", client=f"c{index}"))
        if index % 5 == 4:
            harness.tick(1.5)
    harness.run_for(180, step=0.25)

    accepted = harness.double.accepted()
    sent_times = times(accepted)
    gaps = [later - earlier for earlier, later in itertools.pairwise(sent_times)]
    assert len(accepted) == 11
    assert texts(accepted)[-1].startswith("[DIGEST] 190 more alert notifications for #alerts")
    assert min(gaps) >= timedelta(seconds=1)
    assert [r for r in harness.double.requests("chat.postMessage") if r["status"] == 429] == []
    assert harness.status()["folded"] == 190
    with harness.store.session() as session:
        monthly = read_monthly_counts(session, start.strftime("%Y-%m"))
    assert monthly == {"announced": {"latency_p99": 10}, "folded": {"latency_p99": 190}}


def test_rate_limit_waits_for_retry_after(make_harness: HarnessFactory) -> None:
    harness = make_harness(alerts={"default_route": {"group_by": ["client"], "group_wait": "0s"}})
    limited_until = harness.clock() + timedelta(seconds=10)
    harness.double.add_fault(
        Fault("rate_limited", method="chat.postMessage", retry_after=3, until=limited_until)
    )
    summaries = [f"client {index} retrying" for index in range(5)]

    for index, summary in enumerate(summaries):
        harness.engine.emit(firing(at=harness.clock(), summary=summary, client=f"c{index}"))
    harness.run_for(60, step=0.5)

    requests = harness.double.requests("chat.postMessage")
    limited = [datetime.fromisoformat(r["time"]) for r in requests if r["status"] == 429]
    accepted_texts = texts(harness.double.accepted())
    assert len(limited) >= 3
    for request in requests:
        sent_at = datetime.fromisoformat(request["time"])
        for answered_429 in limited:
            if answered_429 < sent_at:
                assert sent_at >= answered_429 + timedelta(seconds=3), (answered_429, sent_at)
    for summary in summaries:
        assert sum(summary in text for text in accepted_texts) == 1, summary
    assert harness.status()["outbox_pending"] == 0


def test_refire_announced_without_send_resolved(make_harness: HarnessFactory) -> None:
    harness = make_harness(alerts={"default_route": {"send_resolved": False}})

    harness.engine.emit(firing(at=harness.clock()))
    harness.run_for(40)
    harness.engine.emit(resolved(at=harness.clock()))
    harness.run_for(400)
    harness.engine.emit(firing(at=harness.clock()))
    harness.run_for(40)

    sent = texts(harness.double.accepted())
    assert len(sent) == 2
    assert sent[0].startswith("[FIRING:1] latency_p99")
    assert sent[1].startswith("[FIRING:1] latency_p99")


def test_resolution_announced_with_send_resolved(make_harness: HarnessFactory) -> None:
    harness = make_harness()

    harness.engine.emit(firing(at=harness.clock()))
    harness.run_for(40)
    harness.engine.emit(resolved(at=harness.clock()))
    harness.run_for(400)

    sent = texts(harness.double.accepted())
    assert len(sent) == 2
    assert sent[1].startswith("[RESOLVED:1] latency_p99")


def test_restart_and_reload_send_nothing_again(make_harness: HarnessFactory) -> None:
    first = make_harness()
    first.engine.emit(firing(at=first.clock()))
    first.run_for(40)

    restarted = make_harness()
    reloaded = make_harness(
        alerts={"default_route": {"group_by": ["rule", "host"], "group_wait": "1s"}}
    )
    for harness in (restarted, reloaded):
        for _ in range(60):
            harness.engine.emit(firing(at=harness.clock()))
            harness.tick()

    assert len(first.double.accepted()) == 1
    assert reloaded.status()["sent"] == 1


def test_flapping_alert_sends_one_notice(make_harness: HarnessFactory) -> None:
    harness = make_harness(alerts={"flapping": {"stable_for": "3m"}})

    for flip in range(24):
        event = firing if flip % 2 == 0 else resolved
        harness.engine.emit(event(at=harness.clock()))
        harness.run_for(5)
    for _ in range(240):
        harness.engine.emit(firing(at=harness.clock()))
        harness.tick()

    sent = texts(harness.double.accepted())
    assert sum(text.startswith("[FLAPPING]") for text in sent) == 1
    assert len(sent) == 2
    assert sent[0].startswith("[FLAPPING] latency_p99")
    assert sent[1].startswith("[FIRING:1] latency_p99")
    assert harness.status()["suppressed_by_reason"]["flapping"] > 0


def test_flapping_then_resolved_sends_resolution(make_harness: HarnessFactory) -> None:
    harness = make_harness(alerts={"flapping": {"stable_for": "3m"}})
    harness.engine.emit(firing(at=harness.clock()))
    harness.run_for(40)

    for flip in range(1, 6):
        event = firing if flip % 2 == 0 else resolved
        harness.engine.emit(event(at=harness.clock()))
        harness.run_for(5)
    harness.run_for(400)

    sent = texts(harness.double.accepted())
    assert len(sent) == 3
    assert sent[0].startswith("[FIRING:1] latency_p99")
    assert sent[1].startswith("[FLAPPING] latency_p99")
    assert sent[2].startswith("[RESOLVED:1] latency_p99")


def test_silence_holds_alert_and_counts(make_harness: HarnessFactory) -> None:
    harness = make_harness()
    with harness.store.write_session() as session:
        silence = create_silence(
            session,
            matchers=[parse_matcher("rule=latency_p99")],
            duration=timedelta(hours=2),
            reason="deploying",
            created_by="test",
            now=harness.clock(),
        )
        silence_id = silence.id

    for _ in range(60):
        harness.engine.emit(firing(at=harness.clock()))
        harness.tick()
    silenced_sent = len(harness.double.accepted())
    with harness.store.write_session() as session:
        expire_silence(session, silence_id, harness.clock())
    harness.run_for(40)

    status = harness.status()
    assert silenced_sent == 0
    assert status["suppressed_by_reason"] == {"silenced": 60}
    assert len(harness.double.accepted()) == 1
    with harness.store.session() as session:
        stored = session.get(Silence, silence_id)
        assert stored is not None
        assert stored.suppressed == 60


def test_one_shot_alert_never_repeats(make_harness: HarnessFactory) -> None:
    harness = make_harness()
    event = AlertEvent(
        rule="spend.threshold",
        labels={"month": "2026-03", "level": "120%"},
        severity="warning",
        state="firing",
        summary="spend passed 120 % of the baseline",
        at=harness.clock(),
        one_shot=True,
    )

    harness.engine.emit(event)
    harness.run_for(40)
    harness.engine.emit(replace(event, state="resolved", at=harness.clock()))
    harness.run_for(400)
    restarted = make_harness()
    restarted.engine.emit(replace(event, at=restarted.clock()))
    restarted.run_for(400)

    sent = texts(harness.double.accepted())
    assert len(sent) == 1
    assert restarted.status()["suppressed_by_reason"] == {"one_shot": 1}


def test_still_firing_group_repeats_after_interval(make_harness: HarnessFactory) -> None:
    harness = make_harness(
        alerts={"default_route": {"group_interval": "1m", "repeat_interval": "10m"}}
    )

    for _ in range(12 * 60 // 10):
        harness.engine.emit(firing(at=harness.clock()))
        harness.run_for(10)

    sent = texts(harness.double.accepted())
    assert len(sent) == 2
    assert sent[1].startswith("[STILL FIRING:1] latency_p99")


def test_pending_alert_fires_after_hold(make_harness: HarnessFactory) -> None:
    harness = make_harness(alerts={"default_route": {"group_wait": "0s"}})
    hold = timedelta(seconds=30)

    harness.engine.emit(replace(firing(at=harness.clock()), pending_for=hold))
    harness.run_for(10)
    harness.engine.emit(replace(firing(at=harness.clock()), pending_for=hold))
    harness.run_for(10)
    harness.engine.emit(resolved(at=harness.clock()))
    harness.run_for(10)
    cancelled = len(harness.double.accepted())
    for _ in range(4):
        harness.engine.emit(replace(firing(at=harness.clock()), pending_for=hold))
        harness.run_for(10)

    assert cancelled == 0
    assert len(harness.double.accepted()) == 1
    assert harness.status()["firing"] == 1


def test_full_queue_drops_and_counts(make_harness: HarnessFactory) -> None:
    harness = make_harness(alerts={"queue_limit": 100})

    for index in range(150):
        harness.engine.emit(firing(at=harness.clock(), client=f"c{index}"))
    harness.tick()

    assert harness.status()["dropped"] == 50


def test_routes_send_by_rule_and_severity(make_harness: HarnessFactory) -> None:
    routed = make_harness(
        alerts={
            "routes": [
                {"name": "pager", "severities": ["critical"], "target": "#pager", "group_wait": "0s"},
                {"name": "spend", "rules": ["spend.*"], "target": "#billing", "group_wait": "0s"},
            ],
            "default_route": {"group_wait": "0s"},
        }
    )

    routed.engine.emit(firing(rule="worker_crash_loop", severity="critical", at=routed.clock()))
    routed.engine.emit(firing(rule="spend.threshold", at=routed.clock()))
    routed.engine.emit(firing(rule="queue_depth", at=routed.clock()))
    routed.run_for(5)

    targets = sorted(entry["target"] for entry in routed.double.accepted())
    assert targets == ["#alerts", "#billing", "#pager"]
