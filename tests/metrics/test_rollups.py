"""Minute rollups merged from windows."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from watchdog.metrics.rollups import merge_window
from watchdog.metrics.window import Window

MINUTE = datetime(2026, 3, 1, 12, 5, tzinfo=UTC)


def window(second: int, **fields: object) -> Window:
    return Window(start=MINUTE.replace(second=second), seconds=10, worker_up=True, **fields)  # type: ignore[arg-type]


def test_windows_of_a_minute_add_up() -> None:
    first = window(
        0,
        request_count=10.0,
        error_count=1.0,
        latency_ms={20.0: 9, 400.0: 1},
        queue_depth=2.0,
        memory_rss=1000.0,
    )
    second = window(
        10,
        request_count=5.0,
        error_count=0.0,
        latency_ms={20.0: 5},
        queue_depth=7.0,
        memory_rss=800.0,
    )

    rollup = merge_window(merge_window(None, first), second)

    assert rollup.minute == MINUTE
    assert rollup.windows == 2
    assert rollup.worker_up_windows == 2
    assert rollup.request_count == 15
    assert rollup.error_count == 1
    assert rollup.latency_ms == {20.0: 14, 400.0: 1}
    assert rollup.p50_ms == 20.0
    assert rollup.p99_ms == 400.0
    assert rollup.max_queue_depth == 7.0
    assert rollup.max_memory_rss == 1000


def test_unknown_and_nan_values_are_left_out() -> None:
    first = window(0, request_count=None, queue_depth=math.nan)

    rollup = merge_window(None, first)

    assert rollup.request_count == 0
    assert rollup.max_queue_depth is None
    assert rollup.p99_ms is None
