"""When the monthly summary is due: a pure function of the clock and what was already posted."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from watchdog.reports.figures import Month


def due_at(month: Month, day: int, at: time, zone: str) -> datetime:
    """Return the moment the summary for ``month`` is due: ``day`` of the next month at ``at`` local time."""
    following = month.next()
    local = datetime(following.year, following.month, day, at.hour, at.minute, tzinfo=ZoneInfo(zone))
    return local


def due_month(now: datetime, day: int, at: time, zone: str, posted: set[str]) -> Month | None:
    """Return the month whose summary should be posted now, or None.

    Only the month before the current one is considered. A daemon that
    was down on the 1st therefore posts on its next start, and one that was
    down for a whole month does not post two summaries at once. The older
    one stays available through ``report monthly --month``.
    """
    local_now = now.astimezone(ZoneInfo(zone))
    current = Month(local_now.year, local_now.month)
    candidate = current.previous()
    if str(candidate) in posted:
        return None
    if now < due_at(candidate, day, at, zone):
        return None
    return candidate
