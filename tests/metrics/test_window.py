"""Window timing on the wall clock, and worker identity."""

from __future__ import annotations

from datetime import UTC, datetime

from watchdog.metrics.window import WorkerIdentity, closing_window_start, floor_time


def test_floor_time_to_ten_seconds() -> None:
    moment = datetime(2026, 3, 1, 12, 0, 27, 900_000, tzinfo=UTC)

    assert floor_time(moment, 10) == datetime(2026, 3, 1, 12, 0, 20, tzinfo=UTC)


def test_tick_closes_the_previous_window() -> None:
    tick = datetime(2026, 3, 1, 12, 0, 30, 40_000, tzinfo=UTC)

    assert closing_window_start(tick, 10) == datetime(2026, 3, 1, 12, 0, 20, tzinfo=UTC)


def test_identity_replaced_by_new_pid() -> None:
    before = WorkerIdentity(pid=100, process_start=1.0)

    assert before.replaced(WorkerIdentity(pid=101, process_start=1.0))


def test_identity_replaced_by_new_process_start() -> None:
    before = WorkerIdentity(pid=None, process_start=1.0)

    assert before.replaced(WorkerIdentity(pid=None, process_start=2.0))


def test_identity_with_unknown_fields_is_not_replaced() -> None:
    before = WorkerIdentity(pid=100, process_start=None)

    assert not before.replaced(WorkerIdentity(pid=100, process_start=5.0))
