"""The nowcast between bill refreshes: a burst of traffic raises a forecast alert marked as an estimate."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from tests.spend.conftest import ComponentFactory
from tests.spend.helpers import CountingInferences, ManualClock, RecordingSink
from watchdog.aws import AwsClients
from watchdog.config import Settings
from watchdog.daemon import DaemonContext
from watchdog.metrics.component import MetricsComponent
from watchdog.metrics.records import RollupInferenceCounts
from watchdog.slack import SlackClients
from watchdog.spend import repository
from watchdog.spend.cost_explorer import CostRow
from watchdog.storage import Store
from watchdog.storage.models import MetricRollup

EC2 = "Amazon Elastic Compute Cloud - Compute"
SETTINGS = {
    "baseline_amount": "420",
    "cost_explorer": {"enabled": False},
    "estimated_charges": {"enabled": False},
}
# 4,000 inferences an hour for $14 a day.
HOURLY_INFERENCES = 4_000
METRIC_WINDOW = timedelta(seconds=10)


def seed_bill_and_traffic(store: Store, inferences: CountingInferences, now: datetime) -> None:
    """Bill the 1st to the 9th at $14 a day; the worker served steady traffic until ``now``."""
    rows = [CostRow(date(2026, 12, day), EC2, "Usage", Decimal(14), True) for day in range(1, 10)]
    with store.write_session() as session:
        repository.upsert_costs(
            session,
            rows,
            [row.day for row in rows],
            metric="UnblendedCost",
            source="cost_explorer",
            fetched_at=datetime(2026, 12, 10, tzinfo=UTC),
        )
    hour = datetime(2026, 12, 1, tzinfo=UTC)
    while hour < now:
        inferences.add(hour, HOURLY_INFERENCES)
        hour += timedelta(hours=1)


def test_burst_raises_estimated_forecast_alert_within_two_windows(
    store: Store, make_component: ComponentFactory
) -> None:
    clock = ManualClock(datetime(2026, 12, 11, 10, tzinfo=UTC))
    sink = RecordingSink()
    inferences = CountingInferences()
    seed_bill_and_traffic(store, inferences, clock.now())
    component = make_component(clock, sink, inferences, **SETTINGS)

    quiet = component.nowcast()
    clock.advance(timedelta(seconds=2))
    inferences.add(clock.now(), 150_000)
    raised_by_window: list[int] = []
    for window in (1, 2):
        clock.advance(METRIC_WINDOW)
        if component.nowcast():
            raised_by_window.append(window)

    assert quiet == []
    assert raised_by_window == [1]
    assert [(e.labels["kind"], e.labels["level"]) for e in sink.events] == [("forecast", "warning")]
    event = sink.events[0]
    assert event.details["estimate"] == "true"
    assert event.summary.startswith("Estimate: AWS spend for 2026-12 is forecast to reach $")
    assert "nowcast: month to date $" in event.summary
    assert Decimal(event.details["amount"]) >= Decimal(504)


def test_nowcast_job_runs_every_metric_window(store: Store, make_component: ComponentFactory) -> None:
    clock = ManualClock(datetime(2026, 12, 11, 10, tzinfo=UTC))
    component = make_component(clock, RecordingSink(), CountingInferences(), **SETTINGS)

    jobs = {job.job_id: job for job in component.jobs()}

    assert jobs["spend-nowcast"].trigger_args["seconds"] == 10


def test_nowcast_without_inference_counts_is_not_scheduled(
    store: Store, make_component: ComponentFactory
) -> None:
    clock = ManualClock(datetime(2026, 12, 11, 10, tzinfo=UTC))
    component = make_component(clock, RecordingSink(), None, **SETTINGS)

    assert "spend-nowcast" not in {job.job_id for job in component.jobs()}
    assert component.nowcast() == []


def add_rollup(store: Store, minute: datetime, requests: int) -> None:
    """Add ``requests`` to the metric rollup of ``minute``, as the metrics pipeline records them."""
    with store.write_session() as session:
        row = session.get(MetricRollup, minute)
        if row is None:
            session.add(
                MetricRollup(
                    minute=minute, windows=1, worker_up_windows=1, request_count=requests, error_count=0,
                    latency_ms=[], p50_ms=None, p99_ms=None, max_queue_depth=None, max_in_flight=None,
                    max_memory_rss=None, max_memory_per_request=None,
                )
            )  # fmt: skip
        else:
            row.request_count += requests


def test_burst_in_metric_rollups_raises_estimate(store: Store, make_component: ComponentFactory) -> None:
    clock = ManualClock(datetime(2026, 12, 11, 10, tzinfo=UTC))
    sink = RecordingSink()
    seed_bill_and_traffic(store, CountingInferences(), clock.now())
    hour = datetime(2026, 12, 1, tzinfo=UTC)
    while hour < clock.now():
        add_rollup(store, hour, HOURLY_INFERENCES)
        hour += timedelta(hours=1)
    component = make_component(clock, sink, RollupInferenceCounts(store), **SETTINGS)

    quiet = component.nowcast()
    clock.advance(timedelta(seconds=2))
    add_rollup(store, clock.now().replace(second=0), 150_000)
    raised_by_window: list[int] = []
    for window in (1, 2):
        clock.advance(METRIC_WINDOW)
        if component.nowcast():
            raised_by_window.append(window)

    assert quiet == []
    assert raised_by_window == [1]
    assert [(e.labels["kind"], e.labels["level"]) for e in sink.events] == [("forecast", "warning")]
    assert sink.events[0].details["estimate"] == "true"


def test_metrics_component_provides_rollup_counts(tmp_path: Path, store: Store) -> None:
    settings = Settings(state_dir=tmp_path)
    context = DaemonContext(
        settings=settings,
        store=store,
        state_dir=tmp_path,
        aws=AwsClients(settings.aws),
        slack=SlackClients(settings.slack),
        embedded=None,
    )
    add_rollup(store, datetime(2026, 12, 11, 9, 59, tzinfo=UTC), 7)
    add_rollup(store, datetime(2026, 12, 11, 10, 0, tzinfo=UTC), 11)

    MetricsComponent(context)
    counts = context.services.inference_counts

    assert isinstance(counts, RollupInferenceCounts)
    assert (
        counts.count_inferences(datetime(2026, 12, 11, 10, tzinfo=UTC), datetime(2026, 12, 12, tzinfo=UTC))
        == 11
    )
    assert (
        counts.count_inferences(datetime(2026, 12, 11, tzinfo=UTC), datetime(2026, 12, 12, tzinfo=UTC)) == 18
    )
