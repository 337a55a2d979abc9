"""Logging set-up: one logger per module, a journal-friendly format, secrets redacted.

Under systemd (``JOURNAL_STREAM`` is set) lines carry a ``<N>`` syslog
priority prefix and no timestamp, because the journal adds both. Elsewhere
they start with a UTC timestamp. As a second line of defence, the formatter
replaces every registered secret (the Slack token, webhook URLs) with
``**********`` wherever it would appear, tracebacks included.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Mapping
from typing import TextIO

_SECRETS: set[str] = set()
_SECRETS_LOCK = threading.Lock()
MASK = "**********"

# syslog priorities, as sd-daemon(3) prefixes them.
_PRIORITY = {
    logging.DEBUG: 7,
    logging.INFO: 6,
    logging.WARNING: 4,
    logging.ERROR: 3,
    logging.CRITICAL: 2,
}


def register_secret(value: str | None) -> None:
    """Never let ``value`` appear in a log line from now on."""
    # Very short values would mask ordinary words; real tokens and URLs are long.
    if value and len(value) >= 8:
        with _SECRETS_LOCK:
            _SECRETS.add(value)


def redact(text: str) -> str:
    """Replace every registered secret in ``text`` with a mask."""
    with _SECRETS_LOCK:
        secrets = sorted(_SECRETS, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class RedactingFormatter(logging.Formatter):
    """A formatter that masks registered secrets and adds the journal priority when asked."""

    def __init__(self, journal: bool) -> None:
        if journal:
            super().__init__("%(name)s: %(message)s")
        else:
            super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%SZ")
            self.converter = time.gmtime
        self._journal = journal

    def format(self, record: logging.LogRecord) -> str:
        text = redact(super().format(record))
        if self._journal:
            priority = _PRIORITY.get(record.levelno, 6)
            text = "\n".join(f"<{priority}>{line}" for line in text.splitlines())
        return text


class RepeatFilter(logging.Filter):
    """Let an identical line through at most once every ``interval`` seconds.

    The next line that passes says how many were held back, so nothing
    disappears silently.
    """

    def __init__(self, interval: float = 60.0) -> None:
        super().__init__()
        self._interval = interval
        self._last: dict[tuple[str, str, int], tuple[float, int]] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.CRITICAL:
            return True
        key = (record.name, record.getMessage(), record.levelno)
        now = time.monotonic()
        with self._lock:
            last, held = self._last.get(key, (float("-inf"), 0))
            if now - last < self._interval:
                self._last[key] = (last, held + 1)
                return False
            self._last[key] = (now, 0)
        if held:
            record.msg = f"{record.msg} (repeated {held} more times in the last {self._interval:.0f}s)"
        return True


def configure_logging(
    level: str = "INFO",
    stream: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
    repeat_interval: float = 60.0,
) -> logging.Handler:
    """Send the ``watchdog`` loggers' lines to ``stream`` (stderr by default) and return the handler."""
    environ = os.environ if environ is None else environ
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(RedactingFormatter(journal=bool(environ.get("JOURNAL_STREAM"))))
    if repeat_interval > 0:
        handler.addFilter(RepeatFilter(repeat_interval))

    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_inference_watchdog", False):
            root.removeHandler(existing)
    handler._inference_watchdog = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("watchdog").setLevel(level)
    # Third-party chatter stays at WARNING unless the daemon itself is at DEBUG.
    for noisy in ("botocore", "boto3", "urllib3", "werkzeug", "apscheduler", "moto", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING if level != "DEBUG" else logging.INFO)
    return handler
