"""The alert engine's counters in ``alert_counters``: what was sent, suppressed, folded, dropped."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.orm import Session

from watchdog.storage.models import AlertCounter, AlertMonthlyCount

SENT = "sent"
FOLDED = "folded"
DROPPED = "dropped"
# Suppressed firing observations, by reason; status shows their sum as "suppressed".
SUPPRESSED_DUPLICATE = "suppressed.duplicate"
SUPPRESSED_SILENCED = "suppressed.silenced"
SUPPRESSED_FLAPPING = "suppressed.flapping"
SUPPRESSED_ONE_SHOT = "suppressed.one_shot"
SUPPRESSED_PREFIX = "suppressed."

# Outcomes of the per-month, per-rule counts in ``alert_monthly_counts``.
ANNOUNCED = "announced"
FOLDED_MONTHLY = "folded"
SUPPRESSED = "suppressed"

MonthlyKey = tuple[str, str, str]
"""(month as YYYY-MM, rule, outcome)."""


def add_counts(session: Session, counts: Mapping[str, int]) -> None:
    """Add ``counts`` to the stored counters, creating missing ones."""
    for name, amount in counts.items():
        if not amount:
            continue
        statement = insert(AlertCounter).values(name=name, value=amount)
        statement = statement.on_conflict_do_update(
            index_elements=[AlertCounter.name],
            set_={"value": AlertCounter.value + statement.excluded.value},
        )
        session.execute(statement)


def read_counts(session: Session) -> dict[str, int]:
    """Return every counter by name."""
    rows = session.execute(select(AlertCounter.name, AlertCounter.value)).all()
    return {name: int(value) for name, value in rows}


def add_monthly_counts(session: Session, counts: Mapping[MonthlyKey, int]) -> None:
    """Add per-month, per-rule counts to ``alert_monthly_counts``."""
    for (month, rule, outcome), amount in counts.items():
        if not amount:
            continue
        statement = insert(AlertMonthlyCount).values(month=month, rule=rule, outcome=outcome, value=amount)
        statement = statement.on_conflict_do_update(
            index_elements=[AlertMonthlyCount.month, AlertMonthlyCount.rule, AlertMonthlyCount.outcome],
            set_={"value": AlertMonthlyCount.value + statement.excluded.value},
        )
        session.execute(statement)


def read_monthly_counts(session: Session, month: str) -> dict[str, dict[str, int]]:
    """Return ``{outcome: {rule: count}}`` for one month."""
    rows = session.execute(
        select(AlertMonthlyCount.outcome, AlertMonthlyCount.rule, AlertMonthlyCount.value).where(
            AlertMonthlyCount.month == month
        )
    ).all()
    counts: dict[str, dict[str, int]] = {}
    for outcome, rule, value in rows:
        counts.setdefault(outcome, {})[rule] = int(value)
    return counts
