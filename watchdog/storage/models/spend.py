"""Tables of the spend tracker: the bill by day, baselines, announced thresholds, request counts."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from watchdog.storage.models.base import Base
from watchdog.storage.types import Money, UtcDateTime


class SpendDailyCost(Base):
    """The cost of one UTC day, service and record type (Usage, Credit, Refund, Tax, ...)."""

    __tablename__ = "spend_daily_costs"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    service: Mapped[str] = mapped_column(String(200), primary_key=True)
    record_type: Mapped[str] = mapped_column(String(60), primary_key=True)
    amount: Mapped[Decimal] = mapped_column(Money())
    unit: Mapped[str] = mapped_column(String(8), default="USD")
    # Cost Explorer marks days whose cost may still change; they are read again later.
    estimated: Mapped[bool] = mapped_column(Boolean)
    # The Cost Explorer metric the amount is, such as UnblendedCost.
    metric: Mapped[str] = mapped_column(String(40))
    # "cost_explorer" or "import".
    source: Mapped[str] = mapped_column(String(20))
    fetched_at: Mapped[datetime] = mapped_column(UtcDateTime())


class SpendEstimatedCharge(Base):
    """One AWS/Billing EstimatedCharges datapoint: the month-to-date total at a moment."""

    __tablename__ = "spend_estimated_charges"

    at: Mapped[datetime] = mapped_column(UtcDateTime(), primary_key=True)
    amount: Mapped[Decimal] = mapped_column(Money())
    # The billing month the total belongs to, which lags the timestamp until AWS resets it.
    month: Mapped[str] = mapped_column(String(7), index=True)
    fetched_at: Mapped[datetime] = mapped_column(UtcDateTime())


class SpendBaseline(Base):
    """The baseline a month was compared with, and how it was computed."""

    __tablename__ = "spend_baselines"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    amount: Mapped[Decimal] = mapped_column(Money())
    # "average", "fixed" or "manual".
    method: Mapped[str] = mapped_column(String(20))
    # The months averaged, for the "average" method.
    months: Mapped[list[str]] = mapped_column(JSON, default=list)
    computed_at: Mapped[datetime] = mapped_column(UtcDateTime())


class SpendBaselineOverride(Base):
    """The baseline set with ``spend baseline set``; a single row with id 1."""

    __tablename__ = "spend_baseline_override"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    amount: Mapped[Decimal] = mapped_column(Money())
    set_at: Mapped[datetime] = mapped_column(UtcDateTime())


class SpendFiredThreshold(Base):
    """A billing alert already raised: at most one per month, kind and level.

    ``handed_over_at`` stays empty until the alert sink accepted the event,
    so an alert recorded just before a crash is handed over again on the
    next evaluation instead of being lost.
    """

    __tablename__ = "spend_fired_thresholds"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    # "month_to_date", "forecast" or "daily_anomaly".
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    # "warning", "critical", "step-N", or the day of an anomaly.
    level: Mapped[str] = mapped_column(String(40), primary_key=True)
    threshold: Mapped[Decimal] = mapped_column(Money())
    observed: Mapped[Decimal] = mapped_column(Money())
    estimate: Mapped[bool] = mapped_column(Boolean)
    fired_at: Mapped[datetime] = mapped_column(UtcDateTime())
    handed_over_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # The alert event's fields, to hand the same event over again after a crash.
    event: Mapped[dict[str, Any]] = mapped_column(JSON)


class SpendSourceState(Base):
    """How far each bill source has been read, and how its last poll went."""

    __tablename__ = "spend_sources"

    source: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_success_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The first day whose cost the source has read; history before it is unknown.
    history_from: Mapped[date | None] = mapped_column(Date, nullable=True)


class SpendApiRequests(Base):
    """How many requests the daemon made to a paid AWS API in a month."""

    __tablename__ = "spend_api_requests"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    operation: Mapped[str] = mapped_column(String(60), primary_key=True)
    requests: Mapped[int] = mapped_column(Integer, default=0)
