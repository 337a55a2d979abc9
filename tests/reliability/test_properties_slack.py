"""Generated Slack responses through the delivery adapter: delivered, retried or dead-lettered.

A server on 127.0.0.1 replies to each ``chat.postMessage`` and incoming
webhook request with a generated status, ``Retry-After`` header, content
type and body. ``SlackSender`` must turn each reply into exactly what the
rules below predict: a result, a ``TransientServiceError`` (429 with a
usable delay, 5xx, an unreadable body), or a ``PermanentServiceError``
naming the status or Slack's error code. No error may contain the webhook URL.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from tests.reliability.conftest import FaultLedger
from tests.reliability.property_runs import PROPERTY_SETTINGS, Tally, run_property
from watchdog.alerts.delivery import (
    DEFAULT_RETRY_AFTER,
    MAX_RETRY_AFTER,
    TRANSIENT_SLACK_ERRORS,
    SendResult,
    SlackSender,
)
from watchdog.alerts.outbox import Claim
from watchdog.config.sections import SlackSettings
from watchdog.errors import PermanentServiceError, TransientServiceError
from watchdog.slack import SlackClients

CREATED = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Reply:
    """One generated HTTP response."""

    status: int
    body: bytes
    content_type: str
    retry_after: str | None


class ReplyServer:
    """An HTTP server on 127.0.0.1 that replies to every POST with the current ``Reply``."""

    def __init__(self) -> None:
        self.reply = Reply(200, b'{"ok": true}', "application/json", None)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                reply = server.reply
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                if reply.retry_after is not None:
                    self.send_header("Retry-After", reply.retry_after)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def reply_server() -> Iterator[ReplyServer]:
    server = ReplyServer()
    server.start()
    yield server
    server.stop()


SLACK_ERRORS = [
    "channel_not_found",
    "invalid_auth",
    "not_in_channel",
    "msg_too_long",
    *sorted(TRANSIENT_SLACK_ERRORS),
]
json_bodies = st.one_of(
    st.fixed_dictionaries(
        {"ok": st.booleans()},
        optional={
            "error": st.one_of(st.sampled_from(SLACK_ERRORS), st.text(max_size=8), st.integers(), st.none()),
            "ts": st.sampled_from(["1700000000.000100", "1.2"]),
            "channel": st.sampled_from(["C0123", "C999"]),
        },
    ),
    # JSON that is not an object, which no Slack API sends but a proxy might.
    st.one_of(
        st.lists(st.integers(), max_size=2), st.integers(), st.text(max_size=5), st.none(), st.booleans()
    ),
)
bodies = st.one_of(
    json_bodies.map(lambda data: json.dumps(data).encode("utf-8")),
    st.sampled_from(
        [b"ok", b" ok\n", b"invalid_payload", b"channel_not_found", b"", b"<html>Bad Gateway</html>"]
    ),
    st.text(max_size=20).map(lambda text: text.encode("utf-8")),
    st.binary(max_size=20),
)
retry_after_values = st.one_of(
    st.none(),
    st.integers(min_value=0, max_value=10**20).map(str),
    st.sampled_from(
        ["1.5", "-1", "inf", "nan", "1e3", " 30 ", "Wed, 21 Oct 2015 07:28:00 GMT", "", "0x10", "1_0"]
    ),
    st.text(alphabet="0123456789.-e ", max_size=8),
)
replies = st.builds(
    Reply,
    status=st.sampled_from([200, 200, 200, 200, 201, 400, 403, 404, 410, 429, 429, 500, 502, 503, 599]),
    body=bodies,
    content_type=st.sampled_from(
        ["application/json", "text/plain; charset=utf-8", "text/html", "text/plain; charset=bogus"]
    ),
    retry_after=retry_after_values,
)


def expected_retry_after(header: str | None) -> float:
    text = (header or "").strip()
    if not text or not all(character in "0123456789." for character in text) or text.count(".") > 1:
        return DEFAULT_RETRY_AFTER
    if text.startswith(".") or text.endswith("."):
        return DEFAULT_RETRY_AFTER
    return min(float(text), MAX_RETRY_AFTER.total_seconds())


def decoded(reply: Reply) -> str | None:
    """Return the body as slack-sdk reads it, or None when it cannot be read."""
    if "bogus" in reply.content_type and reply.body:
        # Python decodes an empty body without looking the charset up.
        return None
    try:
        return reply.body.decode("utf-8")
    except UnicodeDecodeError:
        return None


@dataclass(frozen=True)
class Outcome:
    """What the sender must do: deliver, retry (with a delay or not) or give up, with the detail."""

    kind: str
    detail: str = ""
    retry_after: float | None = None
    result: SendResult | None = None


def status_outcome(reply: Reply) -> Outcome | None:
    if reply.status == 429:
        return Outcome("retry", "HTTP 429 rate limited", expected_retry_after(reply.retry_after))
    if reply.status >= 500:
        return Outcome("retry", f"HTTP {reply.status}")
    return None


def expected_channel(reply: Reply) -> Outcome:
    text = decoded(reply)
    if text is None:
        return Outcome("retry", "the response could not be read")
    try:
        data = json.loads(text)
    except ValueError:
        data = {"ok": False, "error": "non-JSON response"}
    if reply.status == 200 and data and not isinstance(data, dict):
        # slack-sdk calls .get on it: JSON that is not an object cannot be read.
        return Outcome("retry", "the response could not be read")
    if reply.status == 200 and isinstance(data, dict) and data.get("ok"):
        return Outcome("sent", result=SendResult(ts=data.get("ts"), channel_id=data.get("channel")))
    by_status = status_outcome(reply)
    if by_status is not None:
        return by_status
    error = str(data["error"]) if isinstance(data, dict) and data.get("error") else "unknown_error"
    if error in TRANSIENT_SLACK_ERRORS:
        return Outcome("retry", f"Slack returned {error!r}")
    return Outcome("dead", f"Slack returned {error!r}")


def expected_webhook(reply: Reply) -> Outcome:
    text = decoded(reply)
    if text is None:
        return Outcome("retry", "the response could not be read")
    text = text.strip()[:100]
    if reply.status == 200 and text == "ok":
        return Outcome("sent", result=SendResult(ts=None, channel_id=None))
    by_status = status_outcome(reply)
    if by_status is not None:
        return by_status
    return Outcome("dead", f"HTTP {reply.status} {text!r}")


def claim_for(target: str) -> Claim:
    return Claim(
        id=1,
        target=target,
        kind="message",
        subject="disk full",
        payload={"text": "disk full"},
        attempts=1,
        created_at=CREATED,
        channel_id=None,
    )


def test_slack_replies_are_classified(
    request: pytest.FixtureRequest, fault_ledger: FaultLedger, reply_server: ReplyServer
) -> None:
    webhook_url = reply_server.base_url + "services/T000/B000/secretpart"
    clients = SlackClients(
        SlackSettings(
            bot_token=SecretStr("xoxb-property"),
            base_url=reply_server.base_url,
            webhooks={"ops": SecretStr(webhook_url)},
            timeout="10s",
        )
    )
    sender = SlackSender(clients)
    tally = Tally()

    @PROPERTY_SETTINGS
    @given(reply=replies, webhook=st.booleans())
    def check(reply: Reply, webhook: bool) -> None:
        with tally.case():
            reply_server.reply = reply
            expected = expected_webhook(reply) if webhook else expected_channel(reply)

            try:
                result = sender.send(claim_for("webhook:ops" if webhook else "#alerts"))
            except TransientServiceError as exc:
                assert expected.kind == "retry", (expected, exc)
                assert expected.detail in exc.detail
                assert exc.retry_after == expected.retry_after
                if exc.retry_after is not None:
                    assert math.isfinite(exc.retry_after)
                    assert 0 <= exc.retry_after <= MAX_RETRY_AFTER.total_seconds()
                assert "secretpart" not in str(exc)
                return
            except PermanentServiceError as exc:
                assert expected.kind == "dead", (expected, exc)
                assert exc.detail == expected.detail
                assert "secretpart" not in str(exc)
                return

            assert expected.kind == "sent", expected
            assert result == expected.result

    run_property(request, fault_ledger, "Slack responses", check, tally)
