"""A real daemon process whose only producer re-emits one firing alert every second.

Run as ``python -m tests.alerts.emitting_daemon CONFIG``. It builds the
daemon with every component, exactly as ``inference-watchdog run`` does, and
stops on SIGTERM; the tests kill it with SIGKILL to check what survives.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from watchdog.alerts.events import AlertEvent
from watchdog.config import load_settings
from watchdog.daemon import Daemon
from watchdog.logs import configure_logging
from watchdog.scheduler import utc_now


def main(config: str) -> int:
    loaded = load_settings(Path(config))
    configure_logging(loaded.settings.log_level)
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    daemon = Daemon(loaded)
    daemon.start()
    sink = daemon.context.services.alert_sink
    while not stop.is_set():
        sink.emit(
            AlertEvent(
                rule="worker_crash_loop",
                labels={"host": "host-a"},
                severity="critical",
                state="firing",
                summary="worker restarted 10 times in 60 s",
                at=utc_now(),
            )
        )
        stop.wait(1.0)
    daemon.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
