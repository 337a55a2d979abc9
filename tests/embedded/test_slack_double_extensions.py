"""The Slack double's webhooks, three-step file upload and fault injection, through slack-sdk."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from watchdog.embedded.slack_double import SlackDouble
from watchdog.embedded.slack_faults import Fault

TOKEN = "xoxb-double-test-token-77"
SECRET = "hookSecretPart0099"


class Clock:
    def __init__(self) -> None:
        self.time = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.time


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def double(tmp_path: Path, clock: Clock) -> Iterator[SlackDouble]:
    started = SlackDouble(log_path=tmp_path / "slack.jsonl", clock=clock)
    started.start()
    yield started
    started.stop()


def web(double: SlackDouble, timeout: int = 30) -> WebClient:
    return WebClient(token=TOKEN, base_url=double.base_url, timeout=timeout, retry_handlers=[])


def test_webhook_answers_ok_as_slack_does(double: SlackDouble) -> None:
    client = WebhookClient(double.webhook_url(secret=SECRET), retry_handlers=[])

    response = client.send(text="worker restarted")
    empty = client.send_dict({"text": ""})

    assert response.status_code == 200
    assert response.body == "ok"
    assert empty.status_code == 400
    assert empty.body == "no_text"
    assert double.accepted() == [
        {
            "time": "2026-03-02T09:00:00+00:00",
            "target": "webhook:T0EMBEDDED/B0WATCHDOG",
            "body": {"text": "worker restarted"},
        }
    ]


def test_webhook_secret_stays_out_of_logs(
    double: SlackDouble, caplog: pytest.LogCaptureFixture
) -> None:
    client = WebhookClient(double.webhook_url(secret=SECRET), retry_handlers=[])

    with caplog.at_level(logging.DEBUG, logger="watchdog.embedded.slack_double"):
        client.send(text="hello")
        WebhookClient(f"{double.root_url}/services/T1/{SECRET}", retry_handlers=[]).send(text="x")
    web(double).chat_postMessage(channel="#alerts", text="hi")

    assert double.log_path is not None
    recorded = double.log_path.read_text()
    assert "/services/T0EMBEDDED/B0WATCHDOG/***" in caplog.text
    assert SECRET not in caplog.text
    assert SECRET not in recorded
    assert TOKEN not in recorded


def test_files_upload_v2_completes(double: SlackDouble) -> None:
    content = b"\x89PNG fake chart bytes" * 10

    response = web(double).files_upload_v2(
        channel="C0123456789", content=content, filename="chart.png", title="Spend"
    )

    uploads = double.uploads()
    assert response["file"]["name"] == "chart.png"
    assert [(u.filename, u.title, u.channel_id, u.content) for u in uploads] == [
        ("chart.png", "Spend", "C0123456789", content)
    ]


def test_complete_without_upload_fails(double: SlackDouble) -> None:
    client = web(double)
    step_one = client.files_getUploadURLExternal(filename="a.png", length=3)

    with pytest.raises(SlackApiError) as caught:
        client.files_completeUploadExternal(files=[{"id": step_one["file_id"], "title": "a"}])

    assert caught.value.response["error"] == "file_not_found"


def test_faults_from_python_api(double: SlackDouble) -> None:
    client = web(double)
    double.add_fault(Fault("rate_limited", method="chat.postMessage", retry_after=3, count=1))
    double.add_fault(Fault("server_error", method="chat.postMessage", status=502, count=1))
    double.add_fault(Fault("error", method="chat.postMessage", error="channel_not_found", count=1))

    outcomes = []
    for _ in range(4):
        try:
            client.chat_postMessage(channel="#alerts", text="x")
            outcomes.append((200, "ok", None))
        except SlackApiError as exc:
            outcomes.append(
                (exc.response.status_code, exc.response["error"], exc.response.headers.get("Retry-After"))
            )

    assert outcomes[0] == (429, "ratelimited", "3")
    assert outcomes[1][0] == 502
    assert outcomes[2] == (200, "channel_not_found", None)
    assert outcomes[3] == (200, "ok", None)
    assert len(double.messages()) == 1


def test_fault_ends_at_its_time(double: SlackDouble, clock: Clock) -> None:
    client = web(double)
    double.add_fault(
        Fault("server_error", method="*", until=clock.time + timedelta(seconds=10))
    )

    with pytest.raises(SlackApiError):
        client.chat_postMessage(channel="#alerts", text="x")
    clock.time += timedelta(seconds=10)
    posted = client.chat_postMessage(channel="#alerts", text="x")

    assert posted["ok"] is True


def test_slow_answer_times_out_client_but_posts(double: SlackDouble) -> None:
    double.add_fault(Fault("slow", method="chat.postMessage", delay=2.0, count=1))

    with pytest.raises(TimeoutError):
        web(double, timeout=1).chat_postMessage(channel="#alerts", text="late")

    # The double finishes the request after the client gave up, as Slack may.
    for _ in range(100):
        if double.messages():
            break
        time.sleep(0.05)
    assert double.messages() == [{"channel": "#alerts", "text": "late"}]


def test_channel_rate_only_when_asked(double: SlackDouble, clock: Clock) -> None:
    client = web(double)
    client.chat_postMessage(channel="#alerts", text="1")
    client.chat_postMessage(channel="#alerts", text="2")
    double.add_fault(Fault("channel_rate", method="chat.postMessage", interval=1.0))

    with pytest.raises(SlackApiError) as caught:
        client.chat_postMessage(channel="#alerts", text="3")
    other_channel = client.chat_postMessage(channel="#other", text="4")
    clock.time += timedelta(seconds=1)
    later = client.chat_postMessage(channel="#alerts", text="5")

    assert caught.value.response.status_code == 429
    assert caught.value.response.headers["Retry-After"] == "1"
    assert other_channel["ok"] is True
    assert later["ok"] is True


def test_control_endpoint_adds_lists_clears(double: SlackDouble) -> None:
    control = f"{double.root_url}/_double/faults"
    client = web(double)

    added = httpx.post(control, json={"kind": "rate_limited", "retry_after": 5, "for_seconds": 60})
    with pytest.raises(SlackApiError) as caught:
        client.chat_postMessage(channel="#alerts", text="x")
    listed = httpx.get(control).json()
    bad = httpx.post(control, json={"kind": "meteor"})
    cleared = httpx.delete(control)
    posted = client.chat_postMessage(channel="#alerts", text="x")

    assert added.status_code == 200
    assert caught.value.response.headers["Retry-After"] == "5"
    assert listed["faults"][0]["hits"] == 1
    assert listed["faults"][0]["until"] == "2026-03-02T09:01:00+00:00"
    assert bad.status_code == 400
    assert "unknown fault kind 'meteor'" in bad.json()["error"]
    assert cleared.json() == {"ok": True, "faults": []}
    assert posted["ok"] is True
    assert [r["method"] for r in double.requests()] == ["chat.postMessage", "chat.postMessage"]
