"""The metrics component's schedule on the wall clock.

The component inside a running daemon is covered by test_embedded_run.py.
"""

from __future__ import annotations

from watchdog.metrics.component import second_field


def test_cron_second_fields() -> None:
    assert second_field(10) == "0/10"
    assert second_field(10, 5) == "5/10"
    assert second_field(30, 15) == "15/30"
    assert second_field(60) == "0"
    assert second_field(60, 30) == "30"
