"""Storage failure notices, posted straight to Slack because the outbox cannot be written.

While the store fails (a full disk, a read-only database file), alerts
cannot be queued in the outbox. So ``StorageNotice`` posts plain messages
through ``SlackSender`` to the default route's target. The first failure of
a stretch posts at once, and a stretch that goes on posts again at most once
per ``alerts.delivery.storage_notice_interval``. The end of a stretch whose
failure was posted posts a recovery line. The interval holds across
stretches, so a store that fails and recovers over and over posts at most
two messages per interval.

The notice is best effort: it is sent once, from the job thread whose write
failed, and a Slack failure is logged and retried with the next failed
write after ``RETRY_AFTER_FAILED_POST``. Alerts held by the engine are not
in these notices; they are queued when writes work again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from watchdog.alerts.delivery import SlackSender
from watchdog.alerts.outbox import Claim
from watchdog.config.types import format_duration
from watchdog.errors import ExternalServiceError
from watchdog.storage.health import StorageFailure, StorageRecovery

logger = logging.getLogger(__name__)

# After a failed post, the next failed write may try again this soon (or at the interval,
# if that is shorter).
RETRY_AFTER_FAILED_POST = timedelta(minutes=1)


def notice_due(next_allowed: datetime | None, now: datetime) -> bool:
    """Return whether a storage notice may be posted at ``now``."""
    return next_allowed is None or now >= next_allowed


def render_storage_failure(failure: StorageFailure, source: str, store_url: str) -> dict[str, Any]:
    """Return the payload of the notice that the store cannot be written."""
    text = (
        f":rotating_light: {source} cannot write its database {store_url} since "
        f"{failure.since.isoformat(timespec='seconds')}: {failure.detail} ({failure.code}, "
        f"{failure.failures} failed writes so far, last in {failure.source}). The worker is still "
        "supervised; new alerts are held in memory and queued when writes work again. Free disk "
        "space or make the database file and its directory writable."
    )
    return {"text": text}


def render_storage_recovery(recovery: StorageRecovery, source: str) -> dict[str, Any]:
    """Return the payload of the notice that writes work again."""
    duration = timedelta(seconds=round(recovery.duration.total_seconds()))
    text = (
        f":white_check_mark: {source} can write its database again after "
        f"{format_duration(duration)} and {recovery.failures} failed writes; held alerts are "
        "being queued."
    )
    return {"text": text}


class StorageNotice:
    """Posts storage failure notices (at most one per interval) and recovery lines to one target."""

    def __init__(
        self,
        *,
        sender: SlackSender,
        target: str,
        interval: timedelta,
        source: str,
        store_url: str,
        now: Callable[[], datetime],
    ) -> None:
        self._sender = sender
        self._target = target
        self._interval = interval
        self._source = source
        self._store_url = store_url
        self._now = now
        self._lock = threading.Lock()
        self._next_allowed: datetime | None = None
        self._announced = False
        self.posted = 0

    def storage_failing(self, failure: StorageFailure) -> None:
        """Post a failure notice unless one was posted within the interval."""
        now = self._now()
        with self._lock:
            if not notice_due(self._next_allowed, now):
                return
            # Reserved before sending, so that a second failing thread does not post too.
            self._next_allowed = now + self._interval
        payload = render_storage_failure(failure, self._source, self._store_url)
        if self._post("storage failure notice", payload):
            with self._lock:
                self._announced = True
            return
        with self._lock:
            self._next_allowed = now + min(self._interval, RETRY_AFTER_FAILED_POST)

    def storage_recovered(self, recovery: StorageRecovery) -> None:
        """Post a recovery notice if this stretch's failure was announced."""
        with self._lock:
            announced, self._announced = self._announced, False
        if announced:
            self._post("storage recovery notice", render_storage_recovery(recovery, self._source))

    def _post(self, subject: str, payload: dict[str, Any]) -> bool:
        # Not an outbox message: id 0 and one attempt, sent once.
        claim = Claim(
            id=0,
            target=self._target,
            kind="message",
            subject=subject,
            payload=payload,
            attempts=1,
            created_at=self._now(),
            channel_id=None,
        )
        try:
            self._sender.send(claim)
        except ExternalServiceError as exc:
            logger.warning("posting the %s to %s failed: %s", subject, self._target, exc)
            return False
        self.posted += 1
        logger.info("posted the %s to %s without the outbox", subject, self._target)
        return True
