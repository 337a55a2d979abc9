"""Delivery to the Slack double: retries, backoff, dead letters, webhooks and file uploads."""

from __future__ import annotations

import base64
import logging
import time
from datetime import datetime, timedelta

import pytest

from tests.alerts.conftest import HarnessFactory, firing
from watchdog.alerts.delivery import retry_delay
from watchdog.alerts.outbox import QueuedMessage
from watchdog.embedded.slack_double import SlackDouble
from watchdog.embedded.slack_faults import Fault

NO_WAIT = {"default_route": {"group_wait": "0s"}}


def request_times(requests: list[dict[str, object]]) -> list[datetime]:
    return [datetime.fromisoformat(str(r["time"])) for r in requests]


def test_server_errors_retry_with_backoff(make_harness: HarnessFactory) -> None:
    harness = make_harness(alerts=NO_WAIT)
    harness.double.add_fault(Fault("server_error", method="chat.postMessage", status=503, count=2))

    harness.engine.emit(firing(at=harness.clock()))
    harness.run_for(20, step=0.25)

    requests = harness.double.requests("chat.postMessage")
    first, second, third = request_times(requests)
    assert [r["status"] for r in requests] == [503, 503, 200]
    # jitter 0 picks half the doubled delay: 1 s, then 2 s.
    assert second - first >= timedelta(seconds=1)
    assert third - second >= timedelta(seconds=2)
    assert harness.status()["sent"] == 1


def test_timeout_retries_and_may_duplicate(make_harness: HarnessFactory) -> None:
    harness = make_harness(alerts=NO_WAIT, slack={"timeout": "1s"})
    harness.double.add_fault(Fault("slow", method="chat.postMessage", delay=2.5, count=1))

    harness.engine.emit(firing(at=harness.clock()))
    harness.run_for(10, step=0.5)
    deadline = time.monotonic() + 30
    while len(harness.double.accepted()) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)

    # The slow response still posted the message: at least once, not exactly once.
    assert len(harness.double.accepted()) == 2
    assert harness.status()["sent"] == 1
    assert harness.status()["outbox_pending"] == 0


def test_permanent_error_goes_to_dead_letters(
    make_harness: HarnessFactory, caplog: pytest.LogCaptureFixture
) -> None:
    harness = make_harness(alerts=NO_WAIT)
    harness.double.add_fault(Fault("error", method="chat.postMessage", error="channel_not_found"))

    with caplog.at_level(logging.ERROR, logger="watchdog.alerts.delivery"):
        harness.engine.emit(firing(at=harness.clock()))
        harness.run_for(30)

    status = harness.status()
    assert len(harness.double.requests("chat.postMessage")) == 1
    assert status["dead_letters"] == 1
    assert status["outbox_pending"] == 0
    assert status["last_dead_letter"]["error"] == "Slack returned 'channel_not_found'"
    assert "moved to the dead letters" in caplog.text
    assert "channel_not_found" in caplog.text


def test_failing_message_dies_after_max_age(make_harness: HarnessFactory) -> None:
    harness = make_harness(alerts={**NO_WAIT, "delivery": {"max_age": "1m", "backoff_max": "10s"}})
    harness.double.add_fault(Fault("server_error", method="chat.postMessage"))

    harness.engine.emit(firing(at=harness.clock()))
    harness.run_for(90)

    status = harness.status()
    assert status["dead_letters"] == 1
    assert status["last_dead_letter"]["error"].startswith("gave up after ")


def test_webhook_delivery_and_rate_limit(
    make_harness: HarnessFactory, clocked_double: SlackDouble
) -> None:
    url = clocked_double.webhook_url(secret="hooksecret0123")
    harness = make_harness(
        slack={"webhooks": {"ops": url}},
        alerts={"default_route": {"group_wait": "0s", "target": "webhook:ops"}},
    )
    harness.double.add_fault(Fault("rate_limited", method="webhook", retry_after=4, count=1))

    harness.engine.emit(firing(at=harness.clock()))
    harness.run_for(10, step=0.5)

    requests = harness.double.requests("webhook")
    limited, accepted = request_times(requests)
    assert [r["status"] for r in requests] == [429, 200]
    assert accepted - limited >= timedelta(seconds=4)
    assert [entry["target"] for entry in harness.double.accepted()] == [
        "webhook:T0EMBEDDED/B0WATCHDOG"
    ]


def test_webhook_not_found_is_permanent(
    make_harness: HarnessFactory, clocked_double: SlackDouble
) -> None:
    url = clocked_double.webhook_url()
    harness = make_harness(
        slack={"webhooks": {"ops": url}},
        alerts={"default_route": {"group_wait": "0s", "target": "webhook:ops"}},
    )
    harness.double.add_fault(Fault("error", method="webhook", error="channel_not_found"))

    harness.engine.emit(firing(at=harness.clock()))
    harness.run_for(10)

    status = harness.status()
    assert status["dead_letters"] == 1
    assert status["last_dead_letter"]["error"] == "HTTP 404 'channel_not_found'"


def test_channel_without_token_is_dead_letter(make_harness: HarnessFactory) -> None:
    harness = make_harness(slack={"bot_token": None}, alerts=NO_WAIT)

    harness.engine.emit(firing(at=harness.clock()))
    harness.run_for(5)

    error = harness.status()["last_dead_letter"]["error"]
    assert error.startswith("no bot token is configured for channel #alerts")


def test_file_upload_goes_through_three_steps(make_harness: HarnessFactory) -> None:
    harness = make_harness()
    content = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    harness.outbox.enqueue(
        QueuedMessage(
            dedup_key="report:2026-02",
            target="#alerts",
            kind="file",
            subject="monthly report chart",
            payload={
                "filename": "spend-2026-02.png",
                "title": "Daily spend, February 2026",
                "initial_comment": "Monthly summary",
                "content_base64": base64.b64encode(content).decode(),
            },
        ),
        harness.clock(),
    )

    harness.run_for(3)

    methods = [r["method"] for r in harness.double.requests()]
    uploads = harness.double.uploads()
    assert methods == ["files.getUploadURLExternal", "upload", "files.completeUploadExternal"]
    assert len(uploads) == 1
    assert uploads[0].content == content
    assert uploads[0].filename == "spend-2026-02.png"
    assert uploads[0].title == "Daily spend, February 2026"
    assert harness.status()["sent"] == 1


def test_retry_delay_doubles_and_caps() -> None:
    initial = timedelta(seconds=2)
    maximum = timedelta(seconds=30)

    delays = [retry_delay(attempt, initial, maximum, jitter=0.999999) for attempt in range(1, 7)]
    half = retry_delay(1, initial, maximum, jitter=0.0)

    assert [round(d.total_seconds()) for d in delays] == [2, 4, 8, 16, 30, 30]
    assert half == timedelta(seconds=1)
