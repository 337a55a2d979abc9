"""The embedded default on a fast clock: billing alerts arrive once each, across a restart."""

from __future__ import annotations

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


def run_env() -> dict[str, str]:
    environ = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("INFERENCE_WATCHDOG_")
        and name not in {"INVOCATION_ID", "NOTIFY_SOCKET", "JOURNAL_STREAM", "CREDENTIALS_DIRECTORY"}
    }
    environ["INFERENCE_WATCHDOG_SPEND__EMBEDDED_BILL__SECONDS_PER_DAY"] = SECONDS_PER_DAY
    return environ


def fired(state_dir: Path) -> list[tuple[str, str, str]]:
    """Return the (month, kind, level) of every billing alert the store has recorded."""
    database = state_dir / "watchdog.db"
    if not database.exists():
        return []
    store = open_store(f"sqlite:///{database}", migrate=False)
    try:
        with store.session() as session:
            rows = session.scalars(select(SpendFiredThreshold).order_by(SpendFiredThreshold.fired_at))
            return [(row.month, row.kind, row.level) for row in rows]
    except Exception:  # the schema may not exist yet while the daemon starts
        return []
    finally:
        store.close()


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


def test_billing_alerts_once_each_across_restart(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    log = tmp_path / "daemon.log"

    first = start(state_dir, log)
    try:
        wait_until(lambda: any(kind == "month_to_date" for _, kind, _ in fired(state_dir)))
    finally:
        # Killed outright, as by the OOM killer: nothing is flushed or handed over cleanly.
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    second = start(state_dir, log)
    try:
        wait_until(lambda: ("month_to_date", "critical") in {(k, v) for _, k, v in fired(state_dir)})
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)

    announced = re.findall(r"billing alert (\S+) (\S+) (\S+):", log.read_text())
    month_to_date = [level for _, kind, level in announced if kind == "month_to_date"]
    assert month_to_date.count("warning") == 1
    assert month_to_date.count("critical") == 1
    assert any(level.startswith("step-") for level in month_to_date)
    assert len(announced) == len(set(announced))
    assert sorted(announced) == sorted(fired(state_dir))
