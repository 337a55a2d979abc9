"""The daemon loop around its components."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

from watchdog.config import load_settings
from watchdog.daemon import Daemon, StoreMaintenance
from watchdog.systemd import Notifier


def test_status_line_needs_no_scheduler_lock(tmp_path: Path) -> None:
    loaded = load_settings(None, {"mode": "production", "state_dir": tmp_path}, environ={})
    daemon = Daemon(loaded, notifier=Notifier(None), factories=[StoreMaintenance])
    daemon.start()
    lines: list[str] = []

    # shutdown() holds this lock while it waits for running jobs, the heartbeat
    # job among them, so the heartbeat's status line must not need it.
    with daemon.loop.scheduler._jobstores_lock:
        reader = threading.Thread(target=lambda: lines.append(daemon.status_line()), daemon=True)
        reader.start()
        reader.join(timeout=10)
    clean = daemon.stop()

    assert lines == ["running (production); 1 jobs scheduled"]
    assert clean is True


def test_stop_is_clean_with_fast_heartbeat(tmp_path: Path) -> None:
    loaded = load_settings(
        None,
        {"mode": "production", "state_dir": tmp_path, "daemon": {"heartbeat_interval": 0.01}},
        environ={},
    )

    for _ in range(5):
        daemon = Daemon(loaded, notifier=Notifier(None), factories=[StoreMaintenance])
        daemon.start()
        threading.Event().wait(0.05)

        assert daemon.stop() is True
        assert daemon.loop.scheduler.running is False
        assert daemon.settings.daemon.heartbeat_interval == timedelta(milliseconds=10)
