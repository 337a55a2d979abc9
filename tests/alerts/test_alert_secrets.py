"""No log line, stored error or status output of a failing delivery carries the token or a webhook URL."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from tests.alerts.conftest import TOKEN, HarnessFactory, firing
from watchdog.embedded.slack_double import SlackDouble
from watchdog.embedded.slack_faults import Fault
from watchdog.logs import configure_logging
from watchdog.status import collect_status

WEBHOOK_SECRET = "zzWebhookSecretPart0042"


@pytest.fixture
def all_logs() -> Iterator[io.StringIO]:
    """Every logger at DEBUG, slack-sdk's included, through the daemon's own handler."""
    stream = io.StringIO()
    handler = configure_logging("DEBUG", stream=stream, environ={}, repeat_interval=0)
    root = logging.getLogger()
    saved = {name: logging.getLogger(name).level for name in ("", "slack_sdk", "urllib3")}
    root.setLevel(logging.DEBUG)
    logging.getLogger("slack_sdk").setLevel(logging.DEBUG)
    logging.getLogger("urllib3").setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


def test_failing_delivery_logs_no_secret(
    make_harness: HarnessFactory,
    clocked_double: SlackDouble,
    all_logs: io.StringIO,
    caplog: pytest.LogCaptureFixture,
) -> None:
    webhook = clocked_double.webhook_url(secret=WEBHOOK_SECRET)
    harness = make_harness(
        slack={"webhooks": {"ops": webhook}},
        alerts={
            "routes": [
                {"name": "ops", "severities": ["critical"], "target": "webhook:ops", "group_wait": "0s"}
            ],
            "default_route": {"group_wait": "0s"},
        },
    )
    for method in ("chat.postMessage", "webhook"):
        clocked_double.add_fault(Fault("server_error", method=method, count=2))
        clocked_double.add_fault(Fault("rate_limited", method=method, retry_after=2, count=1))
        clocked_double.add_fault(Fault("error", method=method, error="invalid_auth"))

    with caplog.at_level(logging.DEBUG):
        harness.engine.emit(firing(at=harness.clock(), severity="critical", rule="worker_down"))
        harness.engine.emit(firing(at=harness.clock(), rule="queue_depth"))
        harness.run_for(30, step=0.5)

    written = all_logs.getvalue()
    own_records = "\n".join(
        record.getMessage() for record in caplog.records if record.name.startswith("watchdog")
    )
    status_text = json.dumps(collect_status(harness.store, harness.settings), default=str)
    double_log = clocked_double.log_path.read_text() if clocked_double.log_path else ""
    assert "moved to the dead letters" in written  # the delivery did fail, and was logged
    assert "retrying at" in written
    assert harness.status()["dead_letters"] == 2
    outputs = {
        "log output": written,
        "watchdog log records": own_records,
        "status": status_text,
        "Slack double log": double_log,
    }
    for name, text in outputs.items():
        assert TOKEN not in text, name
        assert webhook not in text, name
        assert WEBHOOK_SECRET not in text, name
