"""The alert engine inside a real daemon process: SIGKILL between enqueue and delivery."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from watchdog.alerts.component import AlertsComponent
from watchdog.alerts.outbox import Outbox, QueuedMessage
from watchdog.aws import AwsClients
from watchdog.config import Settings
from watchdog.daemon import COMPONENT_FACTORIES, DaemonContext
from watchdog.embedded.slack_double import SlackDouble
from watchdog.embedded.slack_faults import Fault
from watchdog.errors import ConfigError
from watchdog.scheduler import utc_now
from watchdog.slack import SlackClients
from watchdog.storage import Store

REPO = Path(__file__).resolve().parents[2]
TOKEN = "xoxb-daemon-test-token-0001"


def clean_env() -> dict[str, str]:
    environ = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("INFERENCE_WATCHDOG_")
        and name not in {"INVOCATION_ID", "NOTIFY_SOCKET", "JOURNAL_STREAM", "CREDENTIALS_DIRECTORY"}
    }
    environ["INFERENCE_WATCHDOG_SLACK__BOT_TOKEN"] = TOKEN
    return environ


def start_daemon(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.alerts.emitting_daemon", str(config)],
            cwd=REPO,
            env=clean_env(),
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def status(config: Path) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "watchdog", "--config", str(config), "status", "--json"],
        cwd=REPO,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def wait_until(condition: Callable[[], bool], description: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {description}")


def context_for(tmp_path: Path, store: Store, **values: Any) -> DaemonContext:
    settings = Settings(mode="production", state_dir=tmp_path, **values)
    return DaemonContext(
        settings=settings,
        store=store,
        state_dir=tmp_path,
        aws=AwsClients(settings.aws),
        slack=SlackClients(settings.slack),
        embedded=None,
    )


def test_alerts_component_comes_first() -> None:
    assert COMPONENT_FACTORIES[0] is AlertsComponent


def test_component_installs_engine_as_sink(tmp_path: Path, store: Store) -> None:
    context = context_for(tmp_path, store)

    component = AlertsComponent(context)

    assert context.services.alert_sink is component.engine
    assert [job.job_id for job in component.jobs()] == [
        "alerts-process",
        "alerts-deliver",
        "alerts-upkeep",
    ]


def test_route_to_unknown_webhook_is_config_error(tmp_path: Path, store: Store) -> None:
    routes = [{"name": "finance", "rules": ["spend.*"], "target": "webhook:finance"}]

    with pytest.raises(ConfigError, match=r"slack\.webhooks has no 'finance'"):
        AlertsComponent(context_for(tmp_path, store, alerts={"routes": routes}))


def test_upkeep_raises_dead_letter_alert(tmp_path: Path, store: Store) -> None:
    component = AlertsComponent(context_for(tmp_path, store))
    outbox = Outbox(store, "test")
    outbox.enqueue(
        QueuedMessage("k", "#alerts", "alert", "subject", {"text": "x"}), utc_now()
    )
    claim = outbox.claim_due(utc_now(), timedelta(minutes=1), timedelta(seconds=1))[0]
    outbox.mark_dead(claim, "Slack returned 'invalid_auth'")

    component.upkeep()
    component.engine.process()

    assert [(r.rule, r.state) for r in component.engine.firing()] == [("alert_dead_letters", "firing")]


def test_sigkill_before_delivery_sends_once(tmp_path: Path, slack_double: SlackDouble) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        'mode = "production"\n'
        f'state_dir = "{tmp_path / "state"}"\n'
        "[slack]\n"
        f'base_url = "{slack_double.base_url}"\n'
        'default_channel = "#alerts"\n'
        "[alerts.default_route]\n"
        'group_wait = "0s"\n'
        "[alerts.delivery]\n"
        'backoff_initial = "0.5s"\n'
        'backoff_max = "1s"\n'
        'claim_timeout = "3s"\n'
        # No worker: its alerts would add messages to the outbox counted here.
        "[supervision]\n"
        'mode = "off"\n'
    )
    log = tmp_path / "daemon.log"
    failing = slack_double.add_fault(Fault("server_error", method="chat.postMessage"))

    first = start_daemon(config, log)
    try:
        wait_until(lambda: failing.hits >= 2, "two failed deliveries")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
    queued = status(config)["alerts"]
    slack_double.clear_faults()

    second = start_daemon(config, log)
    try:
        wait_until(lambda: len(slack_double.messages()) >= 1, "the delivery after restart")
        # Several more processing and delivery cycles, with the alert still re-emitted.
        time.sleep(5)
        delivered = slack_double.messages()
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    final = status(config)["alerts"]

    assert first.returncode == -signal.SIGKILL
    assert queued["outbox_pending"] == 1
    assert queued["sent"] == 0
    assert len(delivered) == 1
    assert str(delivered[0]["text"]).startswith("[FIRING:1] worker_crash_loop")
    assert second.returncode == 0, log.read_text()
    assert final["sent"] == 1
    assert final["outbox_pending"] == 0
    assert final["firing"] == 1
    assert TOKEN not in log.read_text()
