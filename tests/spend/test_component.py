"""The spend component on a real SQLite store: billing alerts once per month, kind and level."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from tests.spend.conftest import ComponentFactory
from tests.spend.helpers import (
    CountingInferences,
    ManualClock,
    QueueResults,
    RecordingSink,
    cost_page,
)
from watchdog.alerts.events import AlertEvent
from watchdog.config import Settings
from watchdog.spend import repository
from watchdog.spend.cost_explorer import CostRow
from watchdog.spend.overview import month_overview
from watchdog.storage import Store
from watchdog.storage.models import SpendApiRequests, SpendBaseline, SpendFiredThreshold

EC2 = "Amazon Elastic Compute Cloud - Compute"
# Month-to-date alerts only: the forecast needs more of the month than exists.
NO_FORECAST = {"forecast_min_elapsed": "40d"}
FIXED_420 = {"baseline_amount": "420", **NO_FORECAST}
SOURCES_OFF = {"cost_explorer": {"enabled": False}, "estimated_charges": {"enabled": False}}


def put_day(store: Store, day: date, amount: str, record_type: str = "Usage") -> None:
    """Store one day's cost as Cost Explorer would report it."""
    row = CostRow(day, EC2, record_type, Decimal(amount), True)
    with store.write_session() as session:
        repository.upsert_costs(
            session,
            [row],
            [],
            metric="UnblendedCost",
            source="cost_explorer",
            fetched_at=datetime.combine(day, datetime.min.time(), UTC) + timedelta(days=1),
        )


def levels(events: list[AlertEvent]) -> list[tuple[str, str, str]]:
    return [(e.labels["month"], e.labels["kind"], e.labels["level"]) for e in events]


def test_lines_fire_once_despite_restart_and_dip(
    store: Store, make_component: ComponentFactory
) -> None:
    clock = ManualClock(datetime(2026, 12, 10, 12, tzinfo=UTC))
    sink = RecordingSink()
    component = make_component(clock, sink, **FIXED_420, **SOURCES_OFF)
    raised = []

    put_day(store, date(2026, 12, 1), "504.00")
    raised += component.evaluate()
    raised += component.evaluate()
    restarted = make_component(clock, RecordingSink(), **FIXED_420, **SOURCES_OFF)
    raised += restarted.evaluate()
    put_day(store, date(2026, 12, 2), "-30.00", record_type="Credit")
    raised += restarted.evaluate()
    put_day(store, date(2026, 12, 3), "130.00")
    raised += restarted.evaluate()
    put_day(store, date(2026, 12, 4), "26.00")
    raised += restarted.evaluate()
    put_day(store, date(2026, 12, 5), "74.00")
    raised += restarted.evaluate()

    events = [alert.event for alert in raised]
    assert levels(events) == [
        ("2026-12", "month_to_date", "warning"),
        ("2026-12", "month_to_date", "step-1"),
        ("2026-12", "month_to_date", "critical"),
        ("2026-12", "month_to_date", "step-2"),
    ]
    assert [event.severity for event in events] == ["warning", "warning", "critical", "warning"]
    assert all(event.one_shot for event in events)
    assert events[0].summary == (
        "AWS spend for 2026-12 reached $504.00 month to date, 120.0 % of the $420.00 baseline, "
        "crossing the warning line $504.00"
    )
    assert levels(sink.events) == [("2026-12", "month_to_date", "warning")]


def test_new_month_rearms_the_lines(store: Store, make_component: ComponentFactory) -> None:
    clock = ManualClock(datetime(2026, 12, 30, 12, tzinfo=UTC))
    sink = RecordingSink()
    component = make_component(clock, sink, **FIXED_420, **SOURCES_OFF)
    put_day(store, date(2026, 12, 1), "510.00")
    component.evaluate()

    clock.advance(timedelta(days=2))
    component.evaluate()
    put_day(store, date(2027, 1, 1), "505.00")
    component.evaluate()

    assert levels(sink.events) == [
        ("2026-12", "month_to_date", "warning"),
        ("2027-01", "month_to_date", "warning"),
    ]


def test_forecast_is_a_separate_kind(store: Store, make_component: ComponentFactory) -> None:
    clock = ManualClock(datetime(2026, 12, 6, tzinfo=UTC))
    sink = RecordingSink()
    component = make_component(clock, sink, baseline_amount="420", **SOURCES_OFF)
    for day in range(1, 6):
        put_day(store, date(2026, 12, day), "20.00")

    component.evaluate()

    # $100 in five days runs at $20 a day: $620 by the 31st.
    assert levels(sink.events) == [
        ("2026-12", "forecast", "warning"),
        ("2026-12", "forecast", "step-1"),
    ]
    assert sink.events[0].summary.startswith(
        "AWS spend for 2026-12 is forecast to reach $620.00 by the month's end"
    )
    assert sink.events[0].details["estimate"] == "false"


def test_average_baseline_stored_with_method(
    store: Store, make_component: ComponentFactory
) -> None:
    clock = ManualClock(datetime(2026, 12, 2, tzinfo=UTC))
    sink = RecordingSink()
    for month, amount in ((9, "410.00"), (10, "420.00"), (11, "430.00")):
        put_day(store, date(2026, month, 1), amount)
    component = make_component(clock, sink, **NO_FORECAST, **SOURCES_OFF)

    put_day(store, date(2026, 12, 1), "505.00")
    component.evaluate()

    with store.session() as session:
        baseline = session.get(SpendBaseline, "2026-12")
        assert baseline is not None
        assert (baseline.amount, baseline.method, baseline.months) == (
            Decimal("420.00"),
            "average",
            ["2026-09", "2026-10", "2026-11"],
        )
    assert levels(sink.events) == [("2026-12", "month_to_date", "warning")]


def test_no_baseline_yet_raises_nothing(store: Store, make_component: ComponentFactory) -> None:
    clock = ManualClock(datetime(2026, 12, 20, tzinfo=UTC))
    sink = RecordingSink()
    component = make_component(clock, sink, **SOURCES_OFF)

    put_day(store, date(2026, 12, 1), "5000.00")
    component.evaluate()

    assert sink.events == []


class FailingOnceSink(RecordingSink):
    """A sink that rejects the first event, as an engine might while its queue is full."""

    failed = False

    def emit(self, event: AlertEvent) -> None:
        if not self.failed:
            self.failed = True
            raise RuntimeError("queue full")
        super().emit(event)


def test_rejected_alert_handed_over_on_next_evaluation(
    store: Store, make_component: ComponentFactory
) -> None:
    clock = ManualClock(datetime(2026, 12, 10, tzinfo=UTC))
    sink = FailingOnceSink()
    component = make_component(clock, sink, **FIXED_420, **SOURCES_OFF)
    put_day(store, date(2026, 12, 1), "505.00")

    component.evaluate()
    component.evaluate()
    component.evaluate()

    assert levels(sink.events) == [("2026-12", "month_to_date", "warning")]
    with store.session() as session:
        row = session.get(SpendFiredThreshold, ("2026-12", "month_to_date", "warning"))
        assert row is not None
        assert row.handed_over_at is not None


def test_daily_anomaly_fires_once_per_day(store: Store, make_component: ComponentFactory) -> None:
    clock = ManualClock(datetime(2026, 12, 16, 6, tzinfo=UTC))
    sink = RecordingSink()
    component = make_component(clock, sink, **SOURCES_OFF)
    for day in range(1, 16):
        put_day(store, date(2026, 12, day), "14.00")

    put_day(store, date(2026, 12, 16), "50.00")
    component.evaluate()
    put_day(store, date(2026, 12, 16), "80.00")
    component.evaluate()

    assert [(e.rule, dict(e.labels)) for e in sink.events] == [
        ("spend_daily_anomaly", {"month": "2026-12", "day": "2026-12-16"})
    ]
    assert sink.events[0].summary == (
        "AWS spend on 2026-12-16 is $50.00, 3.6 times the median of $14.00 over the 14 days before"
    )


def test_cost_explorer_poll_backfills_history_and_counts_requests(
    store: Store, make_component: ComponentFactory, queue_cost_results: QueueResults
) -> None:
    history = {
        f"2026-{month:02d}-01": [(EC2, "Usage", "420.00")] for month in (9, 10, 11)
    }
    queue_cost_results(
        [
            cost_page(history, estimated=False, next_page_token="december"),
            cost_page({"2026-12-01": [(EC2, "Usage", "510.00")]}),
        ]
    )
    clock = ManualClock(datetime(2026, 12, 2, 9, tzinfo=UTC))
    sink = RecordingSink()
    component = make_component(
        clock, sink, **NO_FORECAST, estimated_charges={"enabled": False}
    )

    component.poll_cost_explorer()

    with store.session() as session:
        counter = session.get(SpendApiRequests, ("2026-12", "ce:GetCostAndUsage"))
        assert counter is not None
        assert counter.requests == 2
        assert repository.history_start(session) == date(2026, 9, 1)
    assert levels(sink.events) == [("2026-12", "month_to_date", "warning")]
    assert sink.events[0].details["baseline_method"] == "average of 2026-09, 2026-10, 2026-11"


def test_restart_waits_for_poll_interval(
    store: Store, make_component: ComponentFactory, queue_cost_results: QueueResults
) -> None:
    queue_cost_results([cost_page({})])
    clock = ManualClock(datetime(2026, 12, 2, 9, tzinfo=UTC))
    component = make_component(clock, RecordingSink(), baseline_amount="420")
    component.poll_cost_explorer()

    clock.advance(timedelta(hours=2))
    restarted = make_component(clock, RecordingSink(), baseline_amount="420")
    jobs = {job.job_id: job for job in restarted.jobs()}

    first_run = jobs["spend-cost-explorer"].trigger_args["next_run_time"]
    assert jobs["spend-cost-explorer"].trigger_args["seconds"] == 6 * 3600
    assert timedelta(hours=3, minutes=59) < first_run - datetime.now(UTC) <= timedelta(hours=4)


def test_overview_cost_per_inference(store: Store) -> None:
    for day in (1, 2):
        put_day(store, date(2026, 12, day), "14.00")
    inferences = CountingInferences()
    inferences.add(datetime(2026, 12, 1, 12, tzinfo=UTC), 100_000)
    inferences.add(datetime(2026, 12, 2, 12, tzinfo=UTC), 400_000)

    overview = month_overview(store, Settings(), date(2026, 12, 1), inferences)

    assert overview["cost_per_inference"] == {
        "month": "0.00005600",
        "month_per_1000": "0.06",
        "inferences": 500_000,
        "days": {"2026-12-01": "0.00014000", "2026-12-02": "0.00003500"},
    }


def test_start_hands_recorded_alerts_over_again(
    store: Store, make_component: ComponentFactory
) -> None:
    clock = ManualClock(datetime(2026, 12, 10, tzinfo=UTC))
    first_sink = RecordingSink()
    component = make_component(clock, first_sink, **FIXED_420, **SOURCES_OFF)
    put_day(store, date(2026, 12, 1), "505.00")
    component.evaluate()

    # The first sink held the event in memory and lost it in a crash.
    second_sink = RecordingSink()
    restarted = make_component(clock, second_sink, **FIXED_420, **SOURCES_OFF)
    restarted.evaluate()

    assert levels(first_sink.events) == [("2026-12", "month_to_date", "warning")]
    assert second_sink.events == first_sink.events
