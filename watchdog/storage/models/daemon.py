"""Tables of the daemon itself: its runs and the outcome of each scheduled job."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from watchdog.storage.models.base import Base
from watchdog.storage.types import UtcDateTime


class DaemonRun(Base):
    """One start of the daemon, so that ``status`` can find the live one."""

    __tablename__ = "daemon_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pid: Mapped[int] = mapped_column(Integer)
    host_name: Mapped[str] = mapped_column(String(255))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    stopped_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    embedded: Mapped[bool] = mapped_column()
    # Endpoints of the embedded stand-ins (AWS, Slack, the Slack log); empty in production.
    endpoints: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    status_line: Mapped[str] = mapped_column(Text, default="")


class JobRun(Base):
    """The latest run of one scheduled job: when it ran, how long, and how it ended."""

    __tablename__ = "job_runs"

    job_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    last_started_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_duration_seconds: Mapped[float | None] = mapped_column(nullable=True)
    # "ok", "error" or "missed"; the error text is in last_error.
    last_outcome: Mapped[str] = mapped_column(String(20), default="")
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    runs: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
