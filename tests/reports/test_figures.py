"""Monthly figures against values worked out by hand from the fixture month."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from tests.reports.fixtures import MIB, november_inputs
from watchdog.reports.figures import (
    MinuteRollup,
    Month,
    WorkerTransition,
    build_report,
    latency_percentiles,
    uptime,
    weighted_percentile,
)
from watchdog.reports.render import to_json


def test_report_json_has_hand_computed_figures() -> None:
    document = to_json(build_report(november_inputs()))

    spend = document["spend"]
    # 30 x ($10.00 + $0.50) - $20.00 credit
    assert spend["total"] == "295.00"
    assert spend["final"] is False
    assert spend["baseline"] == "250.00"
    # 295 / 250 = 118.0 %
    assert spend["percent_of_baseline"] == "118.0"
    # 31 x ($8.00 + $0.40)
    assert spend["previous_month"] == "260.40"
    assert spend["credits"] == "-20.00"
    assert spend["top_services"] == [
        {
            "service": "Amazon Elastic Compute Cloud - Compute",
            "amount": "300.00",
            "previous": "248.00",
            "change": "52.00",
        },
        {"service": "AmazonCloudWatch", "amount": "15.00", "previous": "12.40", "change": "2.60"},
    ]
    assert len(spend["daily"]) == 30
    assert spend["daily"][14] == {"day": "2026-11-15", "amount": "-9.50"}
    assert spend["daily"][0] == {"day": "2026-11-01", "amount": "10.50"}


def test_report_json_traffic_and_latency() -> None:
    document = to_json(build_report(november_inputs()))

    inferences = document["inferences"]
    assert inferences["served"] == 1000
    assert inferences["errors"] == 3
    # EC2 usage $300.00 over 1,000 inferences, per 1,000
    assert inferences["cost_per_1000"] == "300.0000"
    # weighted median: cumulative 100, 300, 600 of 1,000 reaches 500 at 30 ms
    assert inferences["p50_ms"] == 30.0
    # weighted p99: 990 of 1,000 is reached only by the 400-request minute
    assert inferences["p99_ms"] == 80.0


def test_report_json_worker_and_alerts() -> None:
    document = to_json(build_report(november_inputs()))

    # 6 h + 30 min down out of 30 days: 1 - 23,400 / 2,592,000 = 99.0972 %
    assert document["worker"] == {"uptime_percent": "99.10", "restarts": 2, "oom_kills": 1}
    assert document["alerts"] == {
        "sent": {"spend_threshold": 2, "worker_restart": 2},
        "suppressed": {"worker_restart": 7},
    }
    # 120 x $0.01 + 259,200 / 1,000 x $0.01 + 10 x $0.30 = $6.792
    assert document["daemon_aws_usage"]["estimated_cost"] == "6.79"


def test_report_json_recommendations() -> None:
    document = to_json(build_report(november_inputs()))

    advice = document["recommendations"]
    assert advice["observed_max_memory_bytes"] == 300 * MIB
    # 95th percentile of [100, 150, 200, 300] MiB by nearest rank is the 4th value
    assert advice["memory_request_bytes"] == 300 * MIB
    assert advice["memory_limit_bytes"] == 450 * MIB
    assert advice["memory_high_bytes"] == 375 * MIB
    # busiest minute 400 requests = 6.67/s; 120 % of it is 8.0/s
    assert advice["observed_peak_requests_per_second"] == "6.67"
    assert advice["rate_limit_per_second"] == "8.0"
    assert advice["hpa_cpu_target_percent"] == 70
    assert advice["kubernetes_resources"] == (
        "resources:\n  requests:\n    memory: 300Mi\n  limits:\n    memory: 450Mi\n"
    )
    assert advice["systemd"] == "MemoryHigh=375M\nMemoryMax=450M\n"


def test_report_notes_estimated_days() -> None:
    report = build_report(november_inputs())

    assert report.notes == ["Some days are still estimated by AWS; the total may change."]


def test_uptime_when_down_at_start() -> None:
    month = Month(2026, 2)
    transitions = [WorkerTransition(datetime(2026, 2, 15, tzinfo=UTC), up=True)]

    # up for 14 of February's 28 days
    assert uptime(transitions, month.start, month.end, up_at_start=False) == Decimal("50.00")


def test_weighted_percentile_edges() -> None:
    assert weighted_percentile([], 0.99) is None
    assert weighted_percentile([(5.0, 0)], 0.5) is None
    assert weighted_percentile([(5.0, 1)], 0.99) == 5.0
    assert weighted_percentile([(1.0, 99), (100.0, 1)], 0.99) == 1.0
    assert weighted_percentile([(1.0, 98), (100.0, 2)], 0.99) == 100.0


def test_month_parse_and_neighbours() -> None:
    assert Month.parse("2026-01").previous() == Month(2025, 12)
    assert Month.parse("2026-12").next() == Month(2027, 1)
    assert Month(2024, 2).days == 29
    assert Month(2026, 12).end == datetime(2027, 1, 1, tzinfo=UTC)
    assert Month(2026, 3).first_day == date(2026, 3, 1)


def test_month_parse_rejects_bad_value() -> None:
    with pytest.raises(ValueError, match=r"invalid month '2026-13': use YYYY-MM"):
        Month.parse("2026-13")


def test_percentiles_from_merged_distributions() -> None:
    start = datetime(2026, 11, 5, 12, 0, tzinfo=UTC)
    rollups = [
        MinuteRollup(start, 100, 0, 10.0, 90.0, None, None, latency=((10.0, 95), (90.0, 5))),
        MinuteRollup(start, 100, 0, 20.0, 20.0, None, None, latency=((20.0, 100),)),
    ]

    p50, p99 = latency_percentiles(rollups)

    # merged: 95 x 10 ms, 100 x 20 ms, 5 x 90 ms; the 100th of 200 is 20 ms, the 198th is 90 ms
    assert p50 == 20.0
    assert p99 == 90.0
