"""When the monthly summary is due, including after downtime and across time zones."""

from __future__ import annotations

from datetime import UTC, datetime, time

from watchdog.reports.figures import Month
from watchdog.reports.schedule import due_at, due_month

NINE = time(9, 0)


def test_due_after_posting_time_on_first() -> None:
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    assert due_month(now, 1, NINE, "UTC", posted=set()) == Month(2026, 11)


def test_not_due_before_posting_time() -> None:
    now = datetime(2026, 12, 1, 8, 59, tzinfo=UTC)

    assert due_month(now, 1, NINE, "UTC", posted=set()) is None


def test_catch_up_after_downtime_on_first() -> None:
    now = datetime(2026, 12, 4, 20, 0, tzinfo=UTC)

    assert due_month(now, 1, NINE, "UTC", posted=set()) == Month(2026, 11)


def test_not_due_when_already_posted() -> None:
    now = datetime(2026, 12, 4, 20, 0, tzinfo=UTC)

    assert due_month(now, 1, NINE, "UTC", posted={"2026-11"}) is None


def test_january_reports_december() -> None:
    now = datetime(2027, 1, 1, 10, 0, tzinfo=UTC)

    assert due_month(now, 1, NINE, "UTC", posted=set()) == Month(2026, 12)


def test_time_zone_shifts_due_moment() -> None:
    # 09:00 in Berlin on 1 December is 08:00 UTC
    assert due_at(Month(2026, 11), 1, NINE, "Europe/Berlin") == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    # 05:00 in Tokyo on 1 December is still 30 November in UTC, but it is December there
    now = datetime(2026, 11, 30, 20, 30, tzinfo=UTC)
    assert due_month(now, 1, time(5, 0), "Asia/Tokyo", posted=set()) == Month(2026, 11)
