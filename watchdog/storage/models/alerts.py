"""Tables of the alert engine: alert state, the outbox, per-target limits, silences, counters.

``alert_states`` is the deduplication state and notification log: which
episode of each alert was announced. It is written in the same transaction
as the outbox rows that announce it, so a crash can neither lose an
announcement nor make one twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from watchdog.storage.models.base import Base
from watchdog.storage.types import UtcDateTime


class AlertStateRow(Base):
    """The state of one alert (rule plus labels) and what of it was announced."""

    __tablename__ = "alert_states"

    fingerprint: Mapped[str] = mapped_column(String(32), primary_key=True)
    rule: Mapped[str] = mapped_column(String(200))
    labels: Mapped[dict[str, str]] = mapped_column(JSON)
    severity: Mapped[str] = mapped_column(String(10))
    summary: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, str]] = mapped_column(JSON)
    one_shot: Mapped[bool] = mapped_column()
    # "pending", "firing" or "resolved".
    state: Mapped[str] = mapped_column(String(10), index=True)
    pending_since: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    firing_since: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # Firing episodes so far; each pending -> firing transition starts a new one.
    episode: Mapped[int] = mapped_column(Integer)
    # The episode whose firing was last queued for Slack, and when (repeats included).
    announced_episode: Mapped[int] = mapped_column(Integer)
    announced_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    resolved_announced_episode: Mapped[int] = mapped_column(Integer)
    # ISO timestamps of the state changes inside the flapping window.
    changes: Mapped[list[str]] = mapped_column(JSON)
    flapping: Mapped[bool] = mapped_column()
    flap_noticed: Mapped[bool] = mapped_column()


class OutboxMessage(Base):
    """One Slack message (or file) waiting for delivery, with its payload frozen at enqueue."""

    __tablename__ = "alert_outbox"
    __table_args__ = (Index("ix_alert_outbox_state_target", "state", "target", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    # "#channel", a channel id, or "webhook:NAME".
    target: Mapped[str] = mapped_column(String(100))
    # "alert", "digest", "flapping", "message" or "file".
    kind: Mapped[str] = mapped_column(String(20))
    # A short description for logs and status, without any secret.
    subject: Mapped[str] = mapped_column(String(300))
    alert_count: Mapped[int] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    # "pending", "sending", "sent" or "dead".
    state: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime())
    attempts: Mapped[int] = mapped_column(Integer)
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    claim_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    slack_ts: Mapped[str | None] = mapped_column(String(40), nullable=True)


class AlertTarget(Base):
    """Per-target flood guard: pacing of deliveries and the message budget of the window."""

    __tablename__ = "alert_targets"

    target: Mapped[str] = mapped_column(String(100), primary_key=True)
    # No delivery to this target before this time (the minimum interval or a Retry-After).
    next_send_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # Slack's id of the channel, learnt from chat.postMessage; file uploads need it.
    channel_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    window_start: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    window_sent: Mapped[int] = mapped_column(Integer, default=0)
    # Alerts folded into the digest of the current window (see watchdog.alerts.floodguard).
    digest: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Silence(Base):
    """A silence: alerts whose labels match every matcher are not announced until it ends."""

    __tablename__ = "alert_silences"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    # [[label, operator, value], ...] with operator "=", "!=", "=~" or "!~".
    matchers: Mapped[list[list[str]]] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expired_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    suppressed: Mapped[int] = mapped_column(Integer, default=0)


class AlertCounter(Base):
    """A monotonic counter of the alert engine (sent, suppressed, ...), for status and reports."""

    __tablename__ = "alert_counters"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class AlertMonthlyCount(Base):
    """Notifications of one rule in one UTC month, by outcome, for the monthly summary.

    ``announced`` counts alerts named in a message of their own, ``folded``
    those counted in a digest, and ``suppressed`` firing observations that led
    to no notification (duplicates, silences, flapping, one-shot repeats).
    """

    __tablename__ = "alert_monthly_counts"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    rule: Mapped[str] = mapped_column(String(200), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(20), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)
