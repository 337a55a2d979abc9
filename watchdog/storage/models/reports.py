"""Tables of the monthly summary: which months were queued for Slack, and when."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from watchdog.storage.models.base import Base
from watchdog.storage.types import UtcDateTime


class MonthlyReportRecord(Base):
    """A month whose summary was queued in the outbox; one row per month, written once."""

    __tablename__ = "monthly_reports"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    queued_at: Mapped[datetime] = mapped_column(UtcDateTime())
    target: Mapped[str] = mapped_column(String(100))
    # "scheduled" by the daemon's job or "cli" for `report monthly --post`.
    trigger: Mapped[str] = mapped_column(String(20))
