"""Settings of the spend tracker: bill sources, baseline, thresholds, nowcast and anomalies."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Literal

from pydantic import Field, model_validator

from watchdog.config.sections import Section
from watchdog.config.types import Duration

CostMetric = Literal[
    "UnblendedCost", "BlendedCost", "AmortizedCost", "NetUnblendedCost", "NetAmortizedCost"
]


class CostExplorerSettings(Section):
    """Cost Explorer GetCostAndUsage: the detailed daily bill, at $0.01 per request and page."""

    enabled: bool = Field(True, description="Read the bill from Cost Explorer.")
    interval: Duration = Field(
        timedelta(hours=6),
        description="How often to read Cost Explorer. Its data refreshes up to three times a day, "
        "and each request and each further page costs $0.01.",
    )
    metric: CostMetric = Field("UnblendedCost", description="The cost metric read and compared.")
    reread_days: int = Field(
        3,
        ge=1,
        le=31,
        description="Complete days read again on every poll besides today, because AWS revises "
        "recent days.",
    )
    previous_month_days: int = Field(
        5,
        ge=0,
        le=28,
        description="During the first N days of a month the whole previous month is read again "
        "until none of its days is marked Estimated.",
    )
    max_pages: int = Field(
        50,
        ge=1,
        description="Maximum pages followed in one poll; a longer NextPageToken chain is an error.",
    )


class EstimatedChargesSettings(Section):
    """CloudWatch AWS/Billing EstimatedCharges in us-east-1: the cheap month-to-date total."""

    enabled: bool = Field(True, description="Read EstimatedCharges from CloudWatch in us-east-1.")
    interval: Duration = Field(
        timedelta(hours=1),
        description="How often to read EstimatedCharges; AWS updates it a few times a day.",
    )


class EmbeddedBillSettings(Section):
    """The simulated account bill of the embedded default; ignored in production."""

    enabled: bool = Field(True, description="Simulate an account bill in the embedded AWS.")
    seconds_per_day: float = Field(
        6.0,
        gt=0,
        description="Real seconds per simulated day: 6 runs the simulated month in about three "
        "minutes.",
    )


class SpendSettings(Section):
    """Spend tracking against a baseline, and the billing alerts it raises."""

    enabled: bool = Field(True, description="Track spend and raise billing alerts.")
    cost_explorer: CostExplorerSettings = Field(
        default_factory=CostExplorerSettings
    )
    estimated_charges: EstimatedChargesSettings = Field(
        default_factory=EstimatedChargesSettings
    )
    baseline_months: int = Field(
        3,
        ge=1,
        le=12,
        description="Complete months averaged into the baseline; with fewer in the history "
        "there is no baseline yet.",
    )
    baseline_amount: Decimal | None = Field(
        None,
        gt=0,
        description="A fixed monthly baseline in USD instead of the average of past months.",
    )
    warning_percent: Decimal = Field(
        Decimal(120), gt=0, description="The warning line, in percent of the baseline."
    )
    critical_percent: Decimal = Field(
        Decimal(150), gt=0, description="The critical line, in percent of the baseline."
    )
    step: Decimal = Field(
        Decimal(100),
        gt=0,
        description="An alert at every step of this many USD above the warning line.",
    )
    forecast_window: Duration = Field(
        timedelta(days=3),
        description="The trailing span whose spend rate the run-rate forecast extends to the "
        "month's end.",
    )
    forecast_min_elapsed: Duration = Field(
        timedelta(days=1),
        description="No forecast until this much of the month has bill data; earlier rates "
        "are noise.",
    )
    anomaly_multiple: Decimal = Field(
        Decimal(3),
        gt=1,
        description="A day's spend is an anomaly above this multiple of the trailing median.",
    )
    anomaly_min_amount: Decimal = Field(
        Decimal(20), ge=0, description="A day below this many USD is never an anomaly."
    )
    anomaly_trailing_days: int = Field(
        14, ge=3, le=60, description="Days before a day whose median spend it is compared with."
    )
    inference_services: list[str] = Field(
        default_factory=list,
        description="Cost Explorer service names whose spend scales with inferences, for the "
        "cost per inference; empty means every service.",
    )
    fixed_daily_cost: Decimal | None = Field(
        None,
        ge=0,
        description="USD per day that does not scale with traffic, for the nowcast. Unset means "
        "the average daily spend of the services outside inference_services ($0 when that "
        "list is empty).",
    )
    nowcast_interval: Duration = Field(
        timedelta(seconds=10),
        description="How often the nowcast estimates today's spend from live inference counts; "
        "one metric window.",
    )
    embedded_bill: EmbeddedBillSettings = Field(
        default_factory=EmbeddedBillSettings
    )

    @model_validator(mode="after")
    def _critical_above_warning(self) -> SpendSettings:
        if self.critical_percent <= self.warning_percent:
            raise ValueError(
                f"critical_percent {self.critical_percent} must be above warning_percent "
                f"{self.warning_percent}"
            )
        return self
