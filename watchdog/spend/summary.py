"""A month's spend as the store has it: month-to-date, baseline, forecast, next threshold.

``load_month`` reads what the summary needs in one session; the rest is
pure. Both sources count: the month-to-date amount is the larger of the
Cost Explorer sum and the latest EstimatedCharges total, because both lag
and the fresher one is usually the higher. The forecast likewise takes the
larger of the two sources' run-rate forecasts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from watchdog.config.spend import SpendSettings
from watchdog.spend import repository
from watchdog.spend.anomaly import AnomalyPolicy
from watchdog.spend.baseline import (
    Baseline,
    baseline_months,
    complete_months_available,
    compute_baseline,
)
from watchdog.spend.calendar import month_key, month_start, next_month_start
from watchdog.spend.estimated_charges import ChargeReading
from watchdog.spend.forecast import Observation, observations_from_daily, run_rate_forecast
from watchdog.spend.repository import StoredCost
from watchdog.spend.thresholds import Threshold, ThresholdPolicy, next_threshold, percent_of

NO_BASELINE = "no baseline yet"


@dataclass(frozen=True)
class SpendPolicy:
    """The settings that the pure spend decisions depend on."""

    thresholds: ThresholdPolicy = field(default_factory=ThresholdPolicy)
    anomaly: AnomalyPolicy = field(default_factory=AnomalyPolicy)
    baseline_months: int = 3
    fixed_baseline: Decimal | None = None
    forecast_window: timedelta = timedelta(days=3)
    forecast_min_elapsed: timedelta = timedelta(days=1)
    inference_services: tuple[str, ...] = ()
    fixed_daily_cost: Decimal | None = None

    @classmethod
    def from_settings(cls, settings: SpendSettings) -> SpendPolicy:
        """Build the policy from the ``spend`` settings section."""
        return cls(
            thresholds=ThresholdPolicy(
                settings.warning_percent, settings.critical_percent, settings.step
            ),
            anomaly=AnomalyPolicy(
                settings.anomaly_multiple,
                settings.anomaly_min_amount,
                settings.anomaly_trailing_days,
                min(7, settings.anomaly_trailing_days),
            ),
            baseline_months=settings.baseline_months,
            fixed_baseline=settings.baseline_amount,
            forecast_window=settings.forecast_window,
            forecast_min_elapsed=settings.forecast_min_elapsed,
            inference_services=tuple(settings.inference_services),
            fixed_daily_cost=settings.fixed_daily_cost,
        )


@dataclass(frozen=True)
class MonthData:
    """The stored data of one month and the history before it."""

    month: date
    costs: list[StoredCost]
    charges: list[ChargeReading]
    monthly_totals: dict[str, Decimal]
    history_start: date | None
    manual_baseline: Decimal | None
    requests: dict[str, int]

    @property
    def daily(self) -> dict[date, Decimal]:
        """The month's spend per day, over every service."""
        return repository.daily_totals(self.costs)


@dataclass(frozen=True)
class NextThreshold:
    """The next line above an amount and how far away it is."""

    threshold: Threshold
    remaining: Decimal


@dataclass(frozen=True)
class MonthSummary:
    """A month's spend against its baseline."""

    month: str
    month_to_date: Decimal
    cost_explorer_total: Decimal | None
    estimated_charges_total: Decimal | None
    baseline: Baseline | None
    baseline_note: str
    forecast: Decimal | None
    # Whether every stored day of the month is final (no longer Estimated).
    final: bool
    requests: dict[str, int]
    thresholds: ThresholdPolicy

    @property
    def percent(self) -> Decimal | None:
        """Month-to-date spend in percent of the baseline."""
        if self.baseline is None:
            return None
        return percent_of(self.baseline.amount, self.month_to_date)

    def next_threshold(self, amount: Decimal | None = None) -> NextThreshold | None:
        """Return the next line above ``amount`` (default: month-to-date), or None without baseline."""
        if self.baseline is None:
            return None
        value = self.month_to_date if amount is None else amount
        threshold = next_threshold(self.baseline.amount, value, self.thresholds)
        return NextThreshold(threshold, threshold.amount - value)


def load_month(session: Session, month: date, policy: SpendPolicy) -> MonthData:
    """Read the month's rows, its EstimatedCharges readings and the baseline history."""
    first = month_start(month)
    history_from = baseline_months(first, policy.baseline_months)[0]
    return MonthData(
        month=first,
        costs=repository.load_costs(session, first, next_month_start(first)),
        charges=repository.readings_of_month(session, month_key(first)),
        monthly_totals=repository.monthly_totals(session, history_from, first),
        history_start=repository.history_start(session),
        manual_baseline=repository.baseline_override(session),
        requests=repository.request_counts(session, month_key(first)),
    )


def summarize_month(data: MonthData, policy: SpendPolicy) -> MonthSummary:
    """Compute the month's summary from what the store holds."""
    daily = data.daily
    ce_total = sum(daily.values(), Decimal(0)) if data.costs else None
    ec_total = max(data.charges).amount if data.charges else None
    totals = [total for total in (ce_total, ec_total) if total is not None]
    month_to_date = max(totals) if totals else Decimal(0)

    baseline = compute_baseline(
        data.month,
        data.monthly_totals,
        data.history_start,
        policy.baseline_months,
        fixed=policy.fixed_baseline,
        manual=data.manual_baseline,
    )
    note = baseline.describe() if baseline is not None else _no_baseline_note(data, policy)

    forecasts = []
    if data.costs:
        observed_at = max(cost.fetched_at for cost in data.costs)
        forecasts.append(
            forecast_from(observations_from_daily(daily, data.month, observed_at), data, policy)
        )
    if data.charges:
        readings = [Observation(reading.at, reading.amount) for reading in data.charges]
        forecasts.append(forecast_from(readings, data, policy))
    known = [forecast for forecast in forecasts if forecast is not None]

    return MonthSummary(
        month=month_key(data.month),
        month_to_date=month_to_date,
        cost_explorer_total=ce_total,
        estimated_charges_total=ec_total,
        baseline=baseline,
        baseline_note=note,
        forecast=max(known) if known else None,
        final=bool(data.costs) and not any(cost.estimated for cost in data.costs),
        requests=data.requests,
        thresholds=policy.thresholds,
    )


def forecast_from(
    observations: list[Observation], data: MonthData, policy: SpendPolicy
) -> Decimal | None:
    """Return the run-rate forecast of the month from ``observations``."""
    return run_rate_forecast(
        observations, data.month, policy.forecast_window, policy.forecast_min_elapsed
    )


def _no_baseline_note(data: MonthData, policy: SpendPolicy) -> str:
    available = complete_months_available(data.month, data.history_start, policy.baseline_months)
    if available < policy.baseline_months:
        return (
            f"{NO_BASELINE}: {available} of {policy.baseline_months} complete months of "
            "history; import older costs with 'spend import' or set one with 'spend baseline set'"
        )
    return f"{NO_BASELINE}: the last {policy.baseline_months} months cost $0"
