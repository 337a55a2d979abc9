"""The embedded default on a fast clock: billing alerts reach the Slack double once each."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from watchdog.storage import open_store
from watchdog.storage.models import SpendFiredThreshold

COMMAND = [sys.executable, "-m", "watchdog", "run"]
# A simulated day every 1.5 s: the month-to-date lines fall around the 13th, after about 20 s.
SECONDS_PER_DAY = "1.5"
LABEL = re.compile(r"`(\w+)=([^`]*)`")


def run_env() -> dict[str, str]:
    environ = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("INFERENCE_WATCHDOG_")
        and name not in {"INVOCATION_ID", "NOTIFY_SOCKET", "JOURNAL_STREAM", "CREDENTIALS_DIRECTORY"}
    }
    environ["INFERENCE_WATCHDOG_SPEND__EMBEDDED_BILL__SECONDS_PER_DAY"] = SECONDS_PER_DAY
    # Only the bill matters here; the demo traffic would cost CPU and change nothing.
    environ["INFERENCE_WATCHDOG_DEMO__TRAFFIC"] = "false"
    environ["INFERENCE_WATCHDOG_DEMO__WORKER_FAULT"] = "false"
    return environ


def recorded(state_dir: Path) -> list[tuple[str, str]]:
    """Return the (kind, level) of every billing alert the store has recorded."""
    database = state_dir / "watchdog.db"
    if not database.exists():
        return []
    store = open_store(f"sqlite:///{database}", migrate=False)
    try:
        with store.session() as session:
            rows = session.scalars(select(SpendFiredThreshold))
            return [(row.kind, row.level) for row in rows]
    except Exception:  # the daemon may not have created the tables yet
        return []
    finally:
        store.close()


def announced(state_dir: Path, rule: str = "spend_threshold") -> list[tuple[str, ...]]:
    """Return the label values (sorted by name) of every ``rule`` alert posted to the Slack double.

    For billing thresholds that is (kind, level, month); for anomalies, (day,).
    """
    log = state_dir / "slack-double.jsonl"
    if not log.exists():
        return []
    alerts = []
    for line in log.read_text().splitlines():
        entry = json.loads(line)
        if entry["method"] != "chat.postMessage" or not entry["ok"]:
            continue
        for block in entry["body"].get("blocks", []):
            text = block["text"]["text"] if block.get("type") == "section" else ""
            if f" · {rule} · " not in text:
                continue
            labels = dict(LABEL.findall(text))
            alerts.append(tuple(value for _, value in sorted(labels.items())))
    return alerts


def wait_until(check: Callable[[], bool], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    raise AssertionError("condition not met before the deadline")


def start(state_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as output:
        return subprocess.Popen(
            [*COMMAND, "--state-dir", str(state_dir)],
            stdout=output,
            stderr=subprocess.STDOUT,
            env=run_env(),
        )


def test_billing_alerts_reach_slack_once_across_restart(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    log = tmp_path / "daemon.log"

    first = start(state_dir, log)
    try:
        wait_until(lambda: ("month_to_date", "warning") in recorded(state_dir))
    finally:
        # Killed outright, as by the OOM killer: nothing is flushed or handed over cleanly.
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    second = start(state_dir, log)
    try:
        wait_until(lambda: any(alert[:2] == ("month_to_date", "critical") for alert in announced(state_dir)))
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)

    posted = announced(state_dir)
    month_to_date = [level for kind, level, _ in posted if kind == "month_to_date"]
    assert month_to_date.count("warning") == 1
    assert month_to_date.count("critical") == 1
    assert any(level.startswith("step-") for level in month_to_date)
    assert len(posted) == len(set(posted))
    anomalies = announced(state_dir, "spend_daily_anomaly")
    assert len(anomalies) == len(set(anomalies))
    raised = re.findall(r"billing alert \S+ (\S+) (\S+):", log.read_text())
    assert len(raised) == len(set(raised))
