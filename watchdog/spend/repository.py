"""Reads and writes of the spend tables. Every function takes an open session.

Callers choose the transaction: a poll writes its rows, its request count
and its source state in one ``write_session``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from watchdog.spend.baseline import Baseline
from watchdog.spend.calendar import month_key, month_start, next_month_start
from watchdog.spend.cost_explorer import CostRow
from watchdog.spend.estimated_charges import ChargeReading
from watchdog.storage.models import (
    SpendApiRequests,
    SpendBaseline,
    SpendBaselineOverride,
    SpendDailyCost,
    SpendEstimatedCharge,
    SpendSourceState,
)

COST_EXPLORER = "cost_explorer"
ESTIMATED_CHARGES = "estimated_charges"
IMPORT = "import"
OVERRIDE_ROW_ID = 1


@dataclass(frozen=True)
class StoredCost:
    """One stored daily cost row, detached from the session."""

    day: date
    service: str
    record_type: str
    amount: Decimal
    estimated: bool
    fetched_at: datetime


def upsert_costs(
    session: Session,
    rows: Iterable[CostRow],
    days_covered: Iterable[date],
    *,
    metric: str,
    source: str,
    fetched_at: datetime,
) -> int:
    """Insert or update one row per day, service and record type; return the rows written.

    A covered day's stored rows that the new rows no longer contain are
    deleted, because the source now reports that service as costing nothing
    that day.
    """
    written = 0
    kept: dict[date, set[tuple[str, str]]] = {day: set() for day in days_covered}
    for row in rows:
        stored = session.get(SpendDailyCost, (row.day, row.service, row.record_type))
        if stored is None:
            stored = SpendDailyCost(day=row.day, service=row.service, record_type=row.record_type)
            session.add(stored)
        stored.amount = row.amount
        stored.unit = "USD"
        stored.estimated = row.estimated
        stored.metric = metric
        stored.source = source
        stored.fetched_at = fetched_at
        kept.setdefault(row.day, set()).add((row.service, row.record_type))
        written += 1
    session.flush()

    for day, keys in kept.items():
        for stored in session.scalars(select(SpendDailyCost).where(SpendDailyCost.day == day)):
            if (stored.service, stored.record_type) not in keys:
                session.delete(stored)
    return written


def load_costs(session: Session, start: date, end: date) -> list[StoredCost]:
    """Return the stored rows of the days from ``start`` up to but not including ``end``."""
    query = (
        select(SpendDailyCost)
        .where(SpendDailyCost.day >= start, SpendDailyCost.day < end)
        .order_by(SpendDailyCost.day, SpendDailyCost.service, SpendDailyCost.record_type)
    )
    return [
        StoredCost(
            row.day, row.service, row.record_type, row.amount, row.estimated, row.fetched_at
        )
        for row in session.scalars(query)
    ]


def daily_totals(
    costs: Iterable[StoredCost], services: Sequence[str] | None = None
) -> dict[date, Decimal]:
    """Sum the rows per day, over every service or only over ``services``."""
    totals: dict[date, Decimal] = {}
    for cost in costs:
        if services is not None and cost.service not in services:
            continue
        totals[cost.day] = totals.get(cost.day, Decimal(0)) + cost.amount
    return totals


def monthly_totals(session: Session, start: date, end: date) -> dict[str, Decimal]:
    """Return the stored spend per ``YYYY-MM`` for the days in ``start``..``end`` (exclusive)."""
    totals: dict[str, Decimal] = {}
    for cost in load_costs(session, start, end):
        key = month_key(cost.day)
        totals[key] = totals.get(key, Decimal(0)) + cost.amount
    return totals


def history_start(session: Session) -> date | None:
    """Return the first day of stored history: the first stored row or the first day read."""
    first_row = session.scalar(select(func.min(SpendDailyCost.day)))
    state = session.get(SpendSourceState, COST_EXPLORER)
    candidates = [day for day in (first_row, state.history_from if state else None) if day]
    return min(candidates) if candidates else None


def month_is_final(session: Session, month: date) -> bool:
    """Return whether the month has stored rows and none of them is marked Estimated."""
    first = month_start(month)
    costs = load_costs(session, first, next_month_start(first))
    return bool(costs) and not any(cost.estimated for cost in costs)


def source_state(session: Session, source: str) -> SpendSourceState:
    """Return the state row of ``source``, created when missing."""
    state = session.get(SpendSourceState, source)
    if state is None:
        state = SpendSourceState(source=source)
        session.add(state)
    return state


def add_requests(session: Session, month: str, operation: str, count: int) -> None:
    """Add ``count`` requests of ``operation`` (an IAM action name) to ``month``'s counter."""
    if count <= 0:
        return
    row = session.get(SpendApiRequests, (month, operation))
    if row is None:
        row = SpendApiRequests(month=month, operation=operation, requests=0)
        session.add(row)
    row.requests += count


def request_counts(session: Session, month: str) -> dict[str, int]:
    """Return the requests per operation counted in ``month``."""
    query = select(SpendApiRequests).where(SpendApiRequests.month == month)
    return {row.operation: row.requests for row in session.scalars(query)}


def store_readings(
    session: Session, assigned: Iterable[tuple[ChargeReading, str]], fetched_at: datetime
) -> None:
    """Insert or update EstimatedCharges readings with the month each belongs to."""
    for reading, month in assigned:
        stored = session.get(SpendEstimatedCharge, reading.at)
        if stored is None:
            stored = SpendEstimatedCharge(at=reading.at)
            session.add(stored)
        stored.amount = reading.amount
        stored.month = month
        stored.fetched_at = fetched_at


def last_reading_before(session: Session, moment: datetime) -> ChargeReading | None:
    """Return the latest stored reading before ``moment``."""
    row = session.scalars(
        select(SpendEstimatedCharge)
        .where(SpendEstimatedCharge.at < moment)
        .order_by(SpendEstimatedCharge.at.desc())
        .limit(1)
    ).first()
    return ChargeReading(row.at, row.amount) if row is not None else None


def readings_of_month(session: Session, month: str) -> list[ChargeReading]:
    """Return the readings assigned to ``month``, oldest first."""
    query = (
        select(SpendEstimatedCharge)
        .where(SpendEstimatedCharge.month == month)
        .order_by(SpendEstimatedCharge.at)
    )
    return [ChargeReading(row.at, row.amount) for row in session.scalars(query)]


def baseline_override(session: Session) -> Decimal | None:
    """Return the amount set with ``spend baseline set``, if any."""
    row = session.get(SpendBaselineOverride, OVERRIDE_ROW_ID)
    return row.amount if row is not None else None


def set_baseline_override(session: Session, amount: Decimal | None, now: datetime) -> None:
    """Store the baseline set by hand, or remove it when ``amount`` is None."""
    if amount is None:
        session.execute(
            delete(SpendBaselineOverride).where(SpendBaselineOverride.id == OVERRIDE_ROW_ID)
        )
        return
    row = session.get(SpendBaselineOverride, OVERRIDE_ROW_ID)
    if row is None:
        row = SpendBaselineOverride(id=OVERRIDE_ROW_ID)
        session.add(row)
    row.amount = amount
    row.set_at = now


def save_baseline(session: Session, month: str, baseline: Baseline, now: datetime) -> None:
    """Store the month's baseline and its method; unchanged values are not rewritten."""
    row = session.get(SpendBaseline, month)
    months = list(baseline.months)
    if row is not None and (row.amount, row.method, row.months) == (
        baseline.amount,
        baseline.method,
        months,
    ):
        return
    if row is None:
        row = SpendBaseline(month=month)
        session.add(row)
    row.amount = baseline.amount
    row.method = baseline.method
    row.months = months
    row.computed_at = now

