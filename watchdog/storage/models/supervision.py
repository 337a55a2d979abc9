"""Tables of worker supervision: state transitions, the current state, restart requests."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from watchdog.storage.models.base import Base
from watchdog.storage.types import UtcDateTime


class WorkerEvent(Base):
    """One transition of the worker's state machine, with its reason and exit details.

    ``reason`` is one of: start, ready, exit, crash_loop, hang, memory,
    startup_timeout, manual, shutdown, stopped, spawn_failed, down, up.
    Uptime, reports and alerts read these rows.
    """

    __tablename__ = "worker_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(32))
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    # Exit classification, set when a worker process ended.
    exit_kind: Mapped[str | None] = mapped_column(String(16), nullable=True)
    exit_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    exit_signal: Mapped[int | None] = mapped_column(Integer, nullable=True)
    memory_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # Seconds until the next start, on transitions into BACKOFF.
    delay_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)


class WorkerStatus(Base):
    """The worker's current state, one row, rewritten at each transition for ``status``."""

    __tablename__ = "worker_status"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mode: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    restarts: Mapped[int] = mapped_column(Integer, default=0)
    ready_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    next_start_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    health_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    metrics_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_exit_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_exit_kind: Mapped[str | None] = mapped_column(String(16), nullable=True)
    last_exit_description: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_exit_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_exit_signal: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class WorkerRestartRequest(Base):
    """A request from ``inference-watchdog worker restart``, handled by the running daemon."""

    __tablename__ = "worker_restart_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime())
    requested_by: Mapped[str] = mapped_column(String(255))
    handled_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True, index=True)
    # Whether the daemon acted on the request; outcome describes what it did or why not.
    accepted: Mapped[bool | None] = mapped_column(nullable=True)
    outcome: Mapped[str | None] = mapped_column(Text, nullable=True)
