"""The spend component: polls the bill sources and raises billing alerts, as daemon jobs.

Jobs (intervals from the ``spend`` settings, divided by the clock's rate):

- ``spend-cost-explorer``: read the recent days from Cost Explorer, store them, evaluate.
- ``spend-estimated-charges``: read EstimatedCharges, store it, evaluate.
- ``spend-nowcast``: estimate the days the bill does not cover yet from live
  inference counts and raise forecast alerts marked as estimates.
- ``spend-evaluate``: evaluate on a timer too, so that a new month re-arms and
  alerts whose hand-over failed are handed over again without new bill data.

A lock serializes the evaluations of one process, so two of its jobs never
raise the same alert at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from watchdog.errors import WatchdogError
from watchdog.scheduler import JobSpec, utc_now
from watchdog.spend import repository
from watchdog.spend.alerting import (
    FORECAST,
    MONTH_TO_DATE,
    BillingAlert,
    anomaly_alert,
    dollars,
    threshold_alerts,
)
from watchdog.spend.anomaly import detect_anomaly
from watchdog.spend.baseline import baseline_months
from watchdog.spend.calendar import (
    iter_days,
    month_key,
    month_start,
    previous_month_start,
    start_of_day,
    utc_day,
)
from watchdog.spend.clock import BillClock, SystemClock
from watchdog.spend.cost_explorer import CostExplorerReader, plan_window
from watchdog.spend.estimated_charges import RESET_GRACE, EstimatedChargesReader, assign_months
from watchdog.spend.forecast import observations_from_daily, run_rate_forecast
from watchdog.spend.ledger import AlertLedger, fired_levels
from watchdog.spend.nowcast import InferenceCountSource, nowcast_month_to_date, unit_cost
from watchdog.spend.summary import MonthSummary, SpendPolicy, load_month, summarize_month
from watchdog.storage.models import SpendSourceState

if TYPE_CHECKING:
    from watchdog.daemon import DaemonContext

logger = logging.getLogger(__name__)

BILLING_REGION = "us-east-1"
CE_OPERATION = "ce:GetCostAndUsage"
EC_OPERATION = "cloudwatch:GetMetricStatistics"
EVALUATE_INTERVAL = timedelta(minutes=15)
# Complete days before the last billed day that the cost per inference is taken from.
UNIT_COST_DAYS = 3
# No job runs more often than this, however fast the clock.
MIN_JOB_SECONDS = 2.0


class SpendComponent:
    """Tracks the AWS bill against the baseline and raises billing alerts."""

    name = "spend"

    def __init__(self, context: DaemonContext) -> None:
        self._context = context
        self._settings = context.settings.spend
        self.policy = SpendPolicy.from_settings(self._settings)
        self.clock: BillClock = context.services.bill_clock or SystemClock(context.now)
        self._lock = threading.Lock()
        self._ce_client: Any = None
        self._ec_client: Any = None
        self._ledger: AlertLedger | None = None
        self._inferences: InferenceCountSource | None = None

    # -- Component protocol ----------------------------------------------

    def start(self) -> None:
        """Build the AWS clients and pick up the alert sink and inference counts."""
        services = self._context.services
        # Components are all built before any starts, so the alert engine's sink is in place.
        self._ledger = AlertLedger(self._context.store, services.alert_sink, self.clock.now)
        self._inferences = services.inference_counts
        if self._settings.cost_explorer.enabled:
            self._ce_client = self._context.aws.client("ce", region=BILLING_REGION)
        if self._settings.estimated_charges.enabled:
            self._ec_client = self._context.aws.client("cloudwatch", region=BILLING_REGION)
        if self._settings.enabled:
            month = month_start(utc_day(self.clock.now()))
            self._ledger.hand_over_again(
                [month_key(previous_month_start(month)), month_key(month)]
            )

    def stop(self) -> None:
        """Nothing to release: boto3 clients close with the process."""
        return None

    def jobs(self) -> list[JobSpec]:
        """Return the polling, nowcast and evaluation jobs that the settings enable."""
        if not self._settings.enabled:
            return []
        jobs = [
            self._job("spend-evaluate", self.evaluate, EVALUATE_INTERVAL, "evaluate billing alerts")
        ]
        cost_explorer = self._settings.cost_explorer
        if cost_explorer.enabled:
            jobs.append(
                self._job(
                    "spend-cost-explorer",
                    self.poll_cost_explorer,
                    cost_explorer.interval,
                    "read the daily bill from Cost Explorer",
                    repository.COST_EXPLORER,
                )
            )
        estimated_charges = self._settings.estimated_charges
        if estimated_charges.enabled:
            jobs.append(
                self._job(
                    "spend-estimated-charges",
                    self.poll_estimated_charges,
                    estimated_charges.interval,
                    "read EstimatedCharges from CloudWatch",
                    repository.ESTIMATED_CHARGES,
                )
            )
        if self._inferences is not None:
            jobs.append(
                self._job(
                    "spend-nowcast",
                    self.nowcast,
                    self._settings.nowcast_interval,
                    "estimate today's spend from live inference counts",
                )
            )
        return jobs

    def _job(
        self,
        job_id: str,
        func: Callable[[], object],
        interval: timedelta,
        description: str,
        source: str | None = None,
    ) -> JobSpec:
        seconds = max(interval.total_seconds() / self.clock.rate, MIN_JOB_SECONDS)
        first_run = utc_now()
        if source is not None:
            first_run += self._time_until_due(source, interval)
        return JobSpec(
            job_id,
            func,
            "interval",
            {"seconds": seconds, "next_run_time": first_run},
            description=description,
        )

    def _time_until_due(self, source: str, interval: timedelta) -> timedelta:
        # A restart does not poll again before the interval is up: each poll costs money.
        with self._context.store.session() as session:
            state = session.get(SpendSourceState, source)
            last_success = state.last_success_at if state is not None else None
        if last_success is None:
            return timedelta(0)
        remaining = last_success + interval - self.clock.now()
        if remaining <= timedelta(0):
            return timedelta(0)
        return remaining / self.clock.rate

    # -- polls -----------------------------------------------------------

    def poll_cost_explorer(self) -> None:
        """Read the planned window from Cost Explorer, store the rows, then evaluate."""
        now = self.clock.now()
        today = utc_day(now)
        store = self._context.store
        with store.session() as session:
            previous_final = repository.month_is_final(session, previous_month_start(today))
            history = repository.history_start(session)
            manual = repository.baseline_override(session)
        window = plan_window(
            today,
            self._settings.cost_explorer.reread_days,
            self._settings.cost_explorer.previous_month_days,
            previous_final,
            self._history_needed_from(today, history, manual),
        )

        reader = CostExplorerReader(
            self._ce_client,
            self._settings.cost_explorer.metric,
            self._settings.cost_explorer.max_pages,
        )
        try:
            report = reader.read(window)
        except WatchdogError as exc:
            self._record_failure(repository.COST_EXPLORER, CE_OPERATION, reader.requests, now, exc)
            raise

        with store.write_session() as session:
            repository.add_requests(session, month_key(today), CE_OPERATION, reader.requests)
            written = repository.upsert_costs(
                session,
                report.rows,
                report.days_covered,
                metric=self._settings.cost_explorer.metric,
                source=repository.COST_EXPLORER,
                fetched_at=now,
            )
            state = repository.source_state(session, repository.COST_EXPLORER)
            state.last_attempt_at = now
            state.last_success_at = now
            state.last_error = None
            if state.history_from is None or window.start < state.history_from:
                state.history_from = window.start
        logger.info(
            "Cost Explorer: %d rows for %s..%s (End exclusive) in %d pages",
            written,
            window.start,
            window.end,
            report.pages,
        )
        self.evaluate()

    def _history_needed_from(
        self, today: date, history: date | None, manual: Decimal | None
    ) -> date | None:
        if manual is not None or self.policy.fixed_baseline is not None:
            return None
        oldest = baseline_months(month_start(today), self.policy.baseline_months)[0]
        if history is not None and history <= oldest:
            return None
        return oldest

    def poll_estimated_charges(self) -> None:
        """Read EstimatedCharges since shortly before the month began, store it, then evaluate."""
        now = self.clock.now()
        today = utc_day(now)
        # Reaching back before the 1st shows the previous month's last total and the reset.
        start = start_of_day(month_start(today)) - RESET_GRACE
        reader = EstimatedChargesReader(self._ec_client)
        try:
            readings = reader.read(start, now)
        except WatchdogError as exc:
            self._record_failure(
                repository.ESTIMATED_CHARGES, EC_OPERATION, reader.requests, now, exc
            )
            raise

        with self._context.store.write_session() as session:
            repository.add_requests(session, month_key(today), EC_OPERATION, reader.requests)
            previous = repository.last_reading_before(session, start)
            repository.store_readings(session, assign_months(readings, previous), now)
            state = repository.source_state(session, repository.ESTIMATED_CHARGES)
            state.last_attempt_at = now
            state.last_success_at = now
            state.last_error = None
        logger.debug("EstimatedCharges: %d readings since %s", len(readings), start.isoformat())
        self.evaluate()

    def _record_failure(
        self, source: str, operation: str, requests: int, now: datetime, error: WatchdogError
    ) -> None:
        # The failed requests were billed too, so they are counted.
        with self._context.store.write_session() as session:
            repository.add_requests(session, month_key(utc_day(now)), operation, requests)
            state = repository.source_state(session, source)
            state.last_attempt_at = now
            state.last_error = str(error)[:1000]

    # -- decisions -------------------------------------------------------

    def evaluate(self) -> list[BillingAlert]:
        """Compare month-to-date spend, the forecast and recent days with their lines.

        Returns the alerts raised by this evaluation.
        """
        with self._lock:
            ledger = self._require_ledger()
            ledger.hand_over_pending()
            now = self.clock.now()
            today = utc_day(now)
            summary, fired = self._summary_and_fired(today)

            alerts: list[BillingAlert] = []
            if summary.baseline is not None:
                with self._context.store.write_session() as session:
                    repository.save_baseline(session, summary.month, summary.baseline, now)
                alerts += threshold_alerts(
                    summary.month,
                    MONTH_TO_DATE,
                    summary.month_to_date,
                    summary.baseline,
                    self.policy.thresholds,
                    fired=fired.get(MONTH_TO_DATE, set()),
                    at=now,
                )
                if summary.forecast is not None:
                    alerts += threshold_alerts(
                        summary.month,
                        FORECAST,
                        summary.forecast,
                        summary.baseline,
                        self.policy.thresholds,
                        fired=fired.get(FORECAST, set()),
                        at=now,
                    )
            alerts += self._anomaly_alerts(today, now)
            return ledger.raise_alerts(alerts)

    def _summary_and_fired(self, today: date) -> tuple[MonthSummary, dict[str, set[str]]]:
        month = month_start(today)
        with self._context.store.session() as session:
            data = load_month(session, month, self.policy)
            fired = fired_levels(session, month_key(month))
        return summarize_month(data, self.policy), fired

    def _anomaly_alerts(self, today: date, now: datetime) -> list[BillingAlert]:
        policy = self.policy.anomaly
        recent = self._settings.cost_explorer.reread_days
        start = today - timedelta(days=policy.trailing_days + recent)
        with self._context.store.session() as session:
            daily = repository.daily_totals(
                repository.load_costs(session, start, today + timedelta(days=1))
            )
        alerts = []
        for day in iter_days(today - timedelta(days=recent), today + timedelta(days=1)):
            anomaly = detect_anomaly(daily, day, policy)
            if anomaly is not None:
                alerts.append(anomaly_alert(anomaly, policy, now))
        return alerts

    def nowcast(self) -> list[BillingAlert]:
        """Estimate the unbilled days from live inference counts; raise forecast alerts if crossed.

        Returns the alerts raised, each marked as an estimate.
        """
        source = self._inferences
        if source is None:
            return []
        now = self.clock.now()
        summary, _ = self._summary_and_fired(utc_day(now))
        if summary.baseline is None:
            return []
        result = self._nowcast_forecast(source, now)
        if result is None:
            return []
        forecast, note = result

        with self._lock:
            with self._context.store.session() as session:
                fired = fired_levels(session, summary.month)
            alerts = threshold_alerts(
                summary.month,
                FORECAST,
                forecast,
                summary.baseline,
                self.policy.thresholds,
                fired=fired.get(FORECAST, set()),
                at=now,
                estimate=True,
                note=note,
            )
            return self._require_ledger().raise_alerts(alerts)

    def _nowcast_forecast(
        self, source: InferenceCountSource, now: datetime
    ) -> tuple[Decimal, str] | None:
        """Return the forecast built on the nowcast and how it was estimated, or None."""
        today = utc_day(now)
        month = month_start(today)
        with self._context.store.session() as session:
            recent = repository.load_costs(
                session, min(month, today - timedelta(days=10)), today + timedelta(days=1)
            )
        total = repository.daily_totals(recent)
        if not total:
            return None

        # The last billed day is usually incomplete, so the cost per inference
        # comes from the complete days before it.
        last_billed = max(total)
        unit_days = [day for day in sorted(total) if day < last_billed][-UNIT_COST_DAYS:]
        services = self.policy.inference_services
        cost = unit_cost(
            {day: total[day] for day in unit_days},
            repository.daily_totals(recent, services) if services else None,
            {day: _count_day(source, day, now) for day in unit_days},
            self.policy.fixed_daily_cost,
        )
        if cost is None:
            return None

        live_counts = {
            day: _count_day(source, day, now)
            for day in iter_days(max(last_billed, month), today + timedelta(days=1))
        }
        billed = {day: amount for day, amount in total.items() if day >= month}
        estimate = nowcast_month_to_date(billed, live_counts, cost, now)
        if not estimate.estimated_days:
            return None
        forecast = run_rate_forecast(
            observations_from_daily(estimate.daily, month, now),
            month,
            self.policy.forecast_window,
            self.policy.forecast_min_elapsed,
        )
        if forecast is None:
            return None
        note = (
            f"nowcast: month to date {dollars(estimate.month_to_date)}, counting "
            f"{estimate.inferences:,} inferences the bill does not cover yet at "
            f"${cost.per_inference:.6f} each plus {dollars(cost.fixed_daily)} a day"
        )
        return forecast, note

    def _require_ledger(self) -> AlertLedger:
        if self._ledger is None:
            raise RuntimeError("the spend component is not started")
        return self._ledger


def _count_day(source: InferenceCountSource, day: date, now: datetime) -> int:
    end = min(start_of_day(day + timedelta(days=1)), now)
    return source.count_inferences(start_of_day(day), end)
