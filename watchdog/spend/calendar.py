"""UTC calendar arithmetic for billing months and days.

AWS bills by UTC day and UTC calendar month. A month is named ``YYYY-MM``
everywhere: in the store, in alert labels and on the command line.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

_MONTH = re.compile(r"(\d{4})-(\d{2})")


def month_key(day: date) -> str:
    """Return the ``YYYY-MM`` name of the month that contains ``day``."""
    return f"{day.year:04d}-{day.month:02d}"


def parse_month(text: str) -> date:
    """Return the first day of the month named ``YYYY-MM``; raise ValueError otherwise."""
    match = _MONTH.fullmatch(text.strip())
    if match is None or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(f"invalid month {text!r}: use YYYY-MM, such as 2026-03")
    return date(int(match.group(1)), int(match.group(2)), 1)


def month_start(day: date) -> date:
    """Return the first day of the month that contains ``day``."""
    return day.replace(day=1)


def next_month_start(day: date) -> date:
    """Return the first day of the month after the one that contains ``day``."""
    if day.month == 12:
        return date(day.year + 1, 1, 1)
    return date(day.year, day.month + 1, 1)


def previous_month_start(day: date) -> date:
    """Return the first day of the month before the one that contains ``day``."""
    if day.month == 1:
        return date(day.year - 1, 12, 1)
    return date(day.year, day.month - 1, 1)


def days_in_month(day: date) -> int:
    """Return the number of days of the month that contains ``day``."""
    return (next_month_start(day) - month_start(day)).days


def start_of_day(day: date) -> datetime:
    """Return midnight UTC at the start of ``day``."""
    return datetime.combine(day, time(0), tzinfo=UTC)


def utc_day(moment: datetime) -> date:
    """Return the UTC calendar day of an aware ``moment``."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: pass a timezone-aware UTC datetime")
    return moment.astimezone(UTC).date()


def iter_days(start: date, end: date) -> list[date]:
    """Return the days from ``start`` up to but not including ``end``."""
    return [start + timedelta(days=offset) for offset in range((end - start).days)]
