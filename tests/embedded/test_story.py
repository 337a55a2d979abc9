"""The embedded default's story: traffic, bill and worker alerts, each announced once, and the summary.

One real ``inference-watchdog run`` on a faster clock and shorter demo
phases; the Slack double's request log is the record of what was announced.
The toggles are checked without a daemon: each piece that is off builds no
traffic, no crash or no bill.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from watchdog.config import Settings
from watchdog.config.demo import DemoSettings
from watchdog.config.spend import EmbeddedBillSettings
from watchdog.embedded import EmbeddedEnvironment
from watchdog.embedded.demo import (
    DEMO_PEAK_RPS,
    DemoDriver,
    alert_overrides,
    demo_applies,
    demo_phases,
)
from watchdog.worker.loadgen import SPIKE_FACTOR

COMMAND = [sys.executable, "-m", "watchdog", "run", "--for", "5m"]
STORY_DEADLINE = 150.0
# A simulated day every 1.5 s: the 150 % line falls about 30 s after the start.
STORY_SETTINGS = {
    "INFERENCE_WATCHDOG_SPEND__EMBEDDED_BILL__SECONDS_PER_DAY": "1.5",
    "INFERENCE_WATCHDOG_DEMO__STEADY_FOR": "4s",
    "INFERENCE_WATCHDOG_DEMO__SPIKE_FOR": "8s",
    "INFERENCE_WATCHDOG_DEMO__STORM_FOR": "40s",
    # After the storm ends, so the restart gap cannot split the traffic alert in two.
    "INFERENCE_WATCHDOG_DEMO__FAULT_AFTER": "56s",
}
LABEL = re.compile(r"`(\w+)=([^`]*)`")
RULE_LINE = re.compile(r" · (\w+) · (since|resolved) ")


def story_env() -> dict[str, str]:
    environ = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("INFERENCE_WATCHDOG_")
        and name not in {"INVOCATION_ID", "NOTIFY_SOCKET", "JOURNAL_STREAM", "CREDENTIALS_DIRECTORY"}
    }
    environ.update(STORY_SETTINGS)
    return environ


def posted_alerts(log: Path) -> list[tuple[str, str, tuple[str, ...]]]:
    """Return (rule, "since" or "resolved", label values sorted by name) of every posted alert."""
    if not log.exists():
        return []
    alerts = []
    for line in log.read_text().splitlines():
        entry = json.loads(line)
        if entry["method"] != "chat.postMessage" or not entry["ok"]:
            continue
        for block in entry["body"].get("blocks", []):
            text = block["text"]["text"] if block.get("type") == "section" else ""
            found = RULE_LINE.search(text)
            if found is None:
                continue
            labels = tuple(value for _, value in sorted(LABEL.findall(text)))
            alerts.append((found.group(1), found.group(2), labels))
    return alerts


def firing(alerts: list[tuple[str, str, tuple[str, ...]]], rule: str) -> list[tuple[str, ...]]:
    return [labels for name, when, labels in alerts if name == rule and when == "since"]


def month_to_date_levels(alerts: list[tuple[str, str, tuple[str, ...]]]) -> list[str]:
    """Return the levels of the month-to-date billing alerts; their labels are (kind, level, month)."""
    return [labels[1] for labels in firing(alerts, "spend_threshold") if labels[0] == "month_to_date"]


def story_told(log: Path) -> bool:
    alerts = posted_alerts(log)
    levels = month_to_date_levels(alerts)
    return (
        bool(firing(alerts, "traffic_above_peak"))
        and bool(firing(alerts, "worker_down"))
        and "warning" in levels
        and "critical" in levels
        and any(level.startswith("step-") for level in levels)
    )


def wait_until(check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise AssertionError("condition not met before the deadline")


def test_story_announces_each_alert_once(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    log = state_dir / "slack-double.jsonl"
    stdout_path = tmp_path / "console.txt"
    with stdout_path.open("w") as console:
        # A file, not a pipe: the console gets every Slack message before the test reads it.
        process = subprocess.Popen(
            [*COMMAND, "--state-dir", str(state_dir)],
            stdout=console,
            stderr=subprocess.DEVNULL,
            text=True,
            env=story_env(),
        )
    try:
        wait_until(lambda: story_told(log) or process.poll() is not None, STORY_DEADLINE)
        # A little longer, so that a second announcement of anything would show.
        time.sleep(3)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    stdout = stdout_path.read_text()

    alerts = posted_alerts(log)
    levels = month_to_date_levels(alerts)
    steps = [level for level in levels if level.startswith("step-")]
    assert process.returncode == 0
    assert len(firing(alerts, "traffic_above_peak")) == 1
    assert len(firing(alerts, "worker_down")) == 1
    assert levels.count("warning") == 1
    assert levels.count("critical") == 1
    assert len(steps) >= 1
    assert len(steps) == len(set(steps))
    assert all(count == 1 for count in Counter(alerts).values()), alerts
    for phase in ("steady traffic,", "a spike:", "a retry storm", "crashing the worker"):
        assert stdout.count(f"demo: {phase}") == 1, phase

    summary = stdout[stdout.index("summary:") :]
    published = re.search(
        r"(\d+) metrics, (\d+) points of 10 s in InferenceWatchdog, (\d+) requests", summary
    )
    assert published is not None, summary
    assert int(published.group(1)) > 0
    assert int(published.group(2)) > 0
    assert int(published.group(3)) > 0
    posts = [json.loads(line) for line in log.read_text().splitlines()]
    sent = sum(1 for entry in posts if entry["method"] == "chat.postMessage" and entry["ok"])
    assert f"{sent} messages sent to Slack" in summary
    assert re.search(r"traffic_above_peak +\d+ announced, [1-9]\d* suppressed", summary), summary
    assert "worker                 1 restarts" in summary
    assert re.search(r"month to date against a baseline of \$\d+\.\d\d \(\d+ % of baseline\)", summary)
    assert f"Slack request log: {log}" in summary
    assert f"state directory: {state_dir}" in summary


def test_phases_stay_under_peak_until_storm() -> None:
    phases = demo_phases(DemoSettings())

    assert [phase.name for phase in phases] == ["steady", "spike", "retry-storm", "steady-after"]
    assert phases[0].rate <= DEMO_PEAK_RPS
    assert phases[1].rate * SPIKE_FACTOR == DEMO_PEAK_RPS
    assert phases[2].rate > 1.2 * DEMO_PEAK_RPS
    assert phases[3].seconds is None


def test_traffic_off_sends_nothing_and_sets_no_peak(tmp_path: Path) -> None:
    settings = DemoSettings(traffic=False)

    environment = EmbeddedEnvironment(tmp_path, demo_settings=settings)
    environment.start()
    try:
        overrides = environment.settings_overrides()
    finally:
        environment.stop()

    assert demo_phases(settings) == []
    assert alert_overrides(settings) == {}
    # With no expected peak the traffic rule has nothing to compare with, so it never fires.
    assert Settings(**overrides).alerts.rules.expected_peak_rps is None
    assert alert_overrides(DemoSettings()) == {"rules": {"expected_peak_rps": DEMO_PEAK_RPS}}


def test_bill_off_adds_no_billing_route(tmp_path: Path) -> None:
    environment = EmbeddedEnvironment(tmp_path, bill_settings=EmbeddedBillSettings(enabled=False))
    environment.start()
    try:
        overrides = environment.settings_overrides()
    finally:
        environment.stop()

    assert environment.bill is None
    assert "spend" not in overrides
    assert [route["name"] for route in overrides["alerts"]["routes"]] == ["embedded-demo"]


class ProcessHandle:
    """The worker handle of a plain child process that the tests start themselves."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self._process = process

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process.poll() is None else None

    @property
    def is_up(self) -> bool:
        return self._process.poll() is None

    @property
    def started_at(self) -> None:
        return None

    @property
    def metrics_url(self) -> str | None:
        return None


def test_worker_fault_kills_worker_once(tmp_path: Path) -> None:
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    lines: list[str] = []
    driver = DemoDriver(
        DemoSettings(traffic=False, fault_after=timedelta(0)), ProcessHandle(worker), lines.append
    )
    try:
        driver.start()
        returncode = worker.wait(timeout=30)
    finally:
        driver.stop()
        if worker.poll() is None:
            worker.kill()
            worker.wait()

    assert returncode == -signal.SIGKILL
    assert driver.fault_done
    assert lines == [f"demo: crashing the worker (SIGKILL to pid {worker.pid}); the supervisor restarts it"]


def test_worker_fault_off_leaves_worker_running() -> None:
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    lines: list[str] = []
    driver = DemoDriver(
        DemoSettings(traffic=False, worker_fault=False), ProcessHandle(worker), lines.append
    )
    try:
        driver.start()
        driver.stop()

        assert worker.poll() is None
        assert not driver.fault_done
        assert lines == []
    finally:
        worker.kill()
        worker.wait()


def test_demo_applies_only_to_bundled_worker() -> None:
    assert demo_applies(Settings())
    assert not demo_applies(Settings(supervision={"command": ["my-worker", "--port", "{port}"]}))
    assert not demo_applies(Settings(supervision={"mode": "off"}))
