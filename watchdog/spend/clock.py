"""The clock the spend tracker reads the date from.

In production it is the system clock. The embedded default replaces it
with the simulated bill's fast clock, on which a month passes in minutes.
Its ``rate`` (simulated seconds per real second) shortens the polling
intervals to match.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from watchdog.scheduler import utc_now


class BillClock(Protocol):
    """A source of the current time for billing decisions."""

    @property
    def rate(self) -> float:
        """Simulated seconds per real second; 1 for the system clock."""
        ...

    def now(self) -> datetime:
        """Return the current time, timezone-aware in UTC."""
        ...


class SystemClock:
    """The real clock."""

    rate = 1.0

    def __init__(self, now: Callable[[], datetime] = utc_now) -> None:
        self._now = now

    def now(self) -> datetime:
        """Return the current time, timezone-aware in UTC."""
        return self._now()
