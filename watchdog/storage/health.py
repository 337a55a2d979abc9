"""Storage health: stretches of failed writes to the store, logged once and passed to listeners.

A disk that is full or a database file that became read-only makes every
write fail, every second, in every job. ``StorageHealth`` turns that into
one ERROR line when the first write fails, one INFO line when writes work
again, and calls to listeners (the alert engine's direct Slack notice) in
between. The jobs themselves keep running and retry on their next run.

A stretch starts when any source (a job id, ``job_runs``, the alert engine)
reports a storage failure. It ends when every source that failed has
reported a success since, so the end can lag by one run of the slowest
failing job. Only SQLite errors that mean the storage itself is in trouble
count (see ``STORAGE_ERROR_CODES``). Other database errors are bugs or bad
data and stay with their caller's own handling.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy.exc import DBAPIError

logger = logging.getLogger(__name__)

# Primary SQLite result codes (https://www.sqlite.org/rescode.html) that mean the storage
# cannot take writes: no space, a read-only file or directory, I/O errors, a file that
# cannot be opened, damage, or a lock held past the busy timeout.
STORAGE_ERROR_CODES = {
    3: "SQLITE_PERM",
    5: "SQLITE_BUSY",
    6: "SQLITE_LOCKED",
    8: "SQLITE_READONLY",
    10: "SQLITE_IOERR",
    11: "SQLITE_CORRUPT",
    13: "SQLITE_FULL",
    14: "SQLITE_CANTOPEN",
    26: "SQLITE_NOTADB",
}


def storage_error_name(exc: BaseException) -> str | None:
    """Return the SQLite code name (``SQLITE_FULL``) if ``exc`` is a storage failure, else None."""
    cause: BaseException | None = exc.orig if isinstance(exc, DBAPIError) else exc
    if not isinstance(cause, sqlite3.Error):
        return None
    code = getattr(cause, "sqlite_errorcode", None)
    if not isinstance(code, int):
        return None
    return STORAGE_ERROR_CODES.get(code & 0xFF)


def storage_error_detail(exc: BaseException) -> str:
    """Return the driver's message of ``exc`` without SQLAlchemy's statement and parameters."""
    cause = exc.orig if isinstance(exc, DBAPIError) else exc
    return str(cause)


@dataclass(frozen=True)
class StorageFailure:
    """One failed write within a stretch of failures."""

    source: str
    code: str
    detail: str
    since: datetime
    # Failed writes in this stretch so far, this one included.
    failures: int


@dataclass(frozen=True)
class StorageRecovery:
    """The end of a stretch of failed writes."""

    since: datetime
    until: datetime
    failures: int

    @property
    def duration(self) -> timedelta:
        """How long writes failed."""
        return self.until - self.since


class StorageListener(Protocol):
    """Receives every storage failure and the end of each stretch."""

    def storage_failing(self, failure: StorageFailure) -> None: ...

    def storage_recovered(self, recovery: StorageRecovery) -> None: ...


def _utc_now() -> datetime:
    return datetime.now(UTC)


class StorageHealth:
    """Tracks stretches of failed writes to one store; safe to call from any job thread."""

    def __init__(self, clock: Callable[[], datetime] = _utc_now) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._failing: dict[str, str] = {}
        self._since: datetime | None = None
        self._failures = 0
        self._listeners: list[StorageListener] = []

    @property
    def failing(self) -> bool:
        """Whether a stretch of failed writes is going on."""
        with self._lock:
            return bool(self._failing)

    def add_listener(self, listener: StorageListener) -> None:
        """Call ``listener`` on every failure and at the end of each stretch."""
        with self._lock:
            self._listeners.append(listener)

    def failed(self, source: str, exc: BaseException) -> bool:
        """Record a failed write by ``source``; return False when ``exc`` is no storage failure."""
        code = storage_error_name(exc)
        if code is None:
            return False
        detail = storage_error_detail(exc)
        with self._lock:
            first = not self._failing
            if first:
                self._since = self._clock()
            self._failing[source] = code
            self._failures += 1
            failure = StorageFailure(source, code, detail, self._since or self._clock(), self._failures)
            listeners = list(self._listeners)

        if first:
            logger.error(
                "writing to the store failed in %s: %s (%s); jobs keep running and retry, and "
                "the end of the failure is logged",
                source,
                detail,
                code,
            )
        for listener in listeners:
            listener.storage_failing(failure)
        return True

    def succeeded(self, source: str) -> None:
        """Record a successful write by ``source``; ends the stretch when no source still fails."""
        with self._lock:
            if self._failing.pop(source, None) is None or self._failing:
                return
            recovery = StorageRecovery(self._since or self._clock(), self._clock(), self._failures)
            self._since = None
            self._failures = 0
            listeners = list(self._listeners)

        logger.info(
            "writing to the store works again after %.0fs and %d failed writes",
            recovery.duration.total_seconds(),
            recovery.failures,
        )
        for listener in listeners:
            listener.storage_recovered(recovery)
