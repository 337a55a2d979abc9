"""The SQLite outbox: messages with frozen payloads, claimed atomically, delivered at least once.

A message is inserted once per ``dedup_key`` (a second insert is ignored).
``claim_due`` runs in a ``BEGIN IMMEDIATE`` transaction, so two processes
on the same database file never claim the same message: the second waits
for the first's commit and then finds the message claimed. It takes only the oldest
unfinished message of each target (messages to one channel go out in order)
and only targets whose ``next_send_at`` has passed, which is where the
per-target minimum interval and Slack's ``Retry-After`` are enforced.

A claim is a lease: a process killed while sending leaves the message in
``sending`` until ``claim_expires_at``, and then it is sent again. Together
with retries after timeouts and 5xx answers (Slack may have posted the
message anyway), delivery is at least once, not exactly once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.orm import Session

from watchdog.alerts.counters import SENT, add_counts
from watchdog.logs import redact
from watchdog.storage import Store
from watchdog.storage.models import AlertTarget, OutboxMessage

logger = logging.getLogger(__name__)

PENDING = "pending"
SENDING = "sending"
SENT_STATE = "sent"
DEAD = "dead"


@dataclass(frozen=True)
class QueuedMessage:
    """A message to put in the outbox."""

    dedup_key: str
    target: str
    kind: str
    subject: str
    payload: dict[str, Any]
    alert_count: int = 0


@dataclass(frozen=True)
class Claim:
    """A message this process has claimed and must now send and mark."""

    id: int
    target: str
    kind: str
    subject: str
    payload: dict[str, Any]
    attempts: int
    created_at: datetime
    channel_id: str | None


def enqueue(session: Session, message: QueuedMessage, now: datetime) -> bool:
    """Insert ``message`` unless its dedup key is already queued; return whether it was inserted."""
    statement = (
        insert(OutboxMessage)
        .values(
            dedup_key=message.dedup_key,
            target=message.target,
            kind=message.kind,
            subject=message.subject[:300],
            alert_count=message.alert_count,
            payload=message.payload,
            state=PENDING,
            created_at=now,
            next_attempt_at=now,
            attempts=0,
        )
        .on_conflict_do_nothing(index_elements=[OutboxMessage.dedup_key])
    )
    result = session.execute(statement)
    return bool(result.rowcount)  # type: ignore[attr-defined]


def pause_target(session: Session, target: str, until: datetime) -> None:
    """Hold deliveries to ``target`` until ``until`` (never moves an existing pause earlier)."""
    statement = insert(AlertTarget).values(
        target=target, next_send_at=until, window_sent=0, digest={}
    )
    statement = statement.on_conflict_do_update(
        index_elements=[AlertTarget.target],
        set_={
            "next_send_at": func.max(
                func.coalesce(AlertTarget.next_send_at, statement.excluded.next_send_at),
                statement.excluded.next_send_at,
            )
        },
    )
    session.execute(statement)


class Outbox:
    """Claims, marks and counts outbox messages on one store, as one named owner."""

    def __init__(self, store: Store, owner: str) -> None:
        self.store = store
        self.owner = owner

    def enqueue(self, message: QueuedMessage, now: datetime) -> bool:
        """Queue one message in its own transaction; return whether it was new."""
        with self.store.write_session() as session:
            return enqueue(session, message, now)

    def claim_due(
        self,
        now: datetime,
        lease: timedelta,
        min_interval: timedelta,
        limit: int = 20,
        *,
        horizon: timedelta | None = None,
    ) -> list[Claim]:
        """Claim the oldest due message of each target that may receive one now.

        ``horizon`` is the longest wait the caller ever sets (a lease, a
        backoff, a pause). A wait that ends further ahead than that was set
        before the wall clock stepped back, so it counts as over. Without
        ``horizon``, a clock stepped back an hour holds every message an hour.
        """
        heads = (
            select(func.min(OutboxMessage.id))
            .where(OutboxMessage.state.in_((PENDING, SENDING)))
            .group_by(OutboxMessage.target)
        )
        paused_until = AlertTarget.next_send_at > now
        retry_at = OutboxMessage.next_attempt_at <= now
        lease_over = OutboxMessage.claim_expires_at <= now
        if horizon is not None:
            latest = now + horizon
            paused_until = and_(paused_until, AlertTarget.next_send_at <= latest)
            retry_at = or_(retry_at, OutboxMessage.next_attempt_at > latest)
            lease_over = or_(lease_over, OutboxMessage.claim_expires_at > latest)
        paused = select(AlertTarget.target).where(paused_until)
        due = (
            select(OutboxMessage, AlertTarget.channel_id)
            .outerjoin(AlertTarget, AlertTarget.target == OutboxMessage.target)
            .where(
                OutboxMessage.id.in_(heads),
                or_(
                    and_(OutboxMessage.state == PENDING, retry_at),
                    and_(OutboxMessage.state == SENDING, lease_over),
                ),
                OutboxMessage.target.not_in(paused),
            )
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
        claims = []
        with self.store.write_session() as session:
            for row, channel_id in session.execute(due).all():
                if row.state == SENDING:
                    logger.warning(
                        "claim of outbox message %s by %s expired; sending it again, so Slack "
                        "may show it twice",
                        row.id,
                        row.claimed_by,
                    )
                row.state = SENDING
                row.claimed_by = self.owner
                row.claim_expires_at = now + lease
                row.attempts += 1
                pause_target(session, row.target, now + min_interval)
                claims.append(
                    Claim(
                        id=row.id,
                        target=row.target,
                        kind=row.kind,
                        subject=row.subject,
                        payload=dict(row.payload),
                        attempts=row.attempts,
                        created_at=row.created_at,
                        channel_id=channel_id,
                    )
                )
        return claims

    def mark_sent(
        self, claim: Claim, now: datetime, slack_ts: str | None, channel_id: str | None
    ) -> None:
        """Record that Slack accepted the message."""
        with self.store.write_session() as session:
            result = session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == claim.id, OutboxMessage.state != SENT_STATE)
                .values(
                    state=SENT_STATE,
                    sent_at=now,
                    slack_ts=slack_ts,
                    claimed_by=None,
                    claim_expires_at=None,
                    last_error=None,
                )
            )
            if result.rowcount:  # type: ignore[attr-defined]
                add_counts(session, {SENT: 1})
            if channel_id:
                session.execute(
                    update(AlertTarget)
                    .where(AlertTarget.target == claim.target)
                    .values(channel_id=channel_id)
                )

    def mark_retry(
        self,
        claim: Claim,
        next_attempt_at: datetime,
        error: str,
        pause_until: datetime | None = None,
    ) -> None:
        """Put the message back for another attempt at ``next_attempt_at``."""
        with self.store.write_session() as session:
            session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id == claim.id,
                    OutboxMessage.state == SENDING,
                    OutboxMessage.claimed_by == self.owner,
                )
                .values(
                    state=PENDING,
                    next_attempt_at=next_attempt_at,
                    claimed_by=None,
                    claim_expires_at=None,
                    last_error=redact(error)[:1000],
                )
            )
            if pause_until is not None:
                pause_target(session, claim.target, pause_until)

    def mark_dead(self, claim: Claim, error: str) -> None:
        """Move the message to the dead letters: it is never sent."""
        with self.store.write_session() as session:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == claim.id, OutboxMessage.state == SENDING)
                .values(
                    state=DEAD,
                    claimed_by=None,
                    claim_expires_at=None,
                    last_error=redact(error)[:1000],
                )
            )

    def prune_sent(self, older_than: datetime) -> int:
        """Delete sent messages queued before ``older_than``; return how many."""
        with self.store.write_session() as session:
            result = session.execute(
                delete(OutboxMessage).where(
                    OutboxMessage.state == SENT_STATE, OutboxMessage.created_at < older_than
                )
            )
            return int(result.rowcount)  # type: ignore[attr-defined]


def count_states(session: Session) -> dict[str, int]:
    """Return the number of outbox messages in each state."""
    rows = session.execute(
        select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)
    ).all()
    counts = {PENDING: 0, SENDING: 0, SENT_STATE: 0, DEAD: 0}
    counts.update({state: int(count) for state, count in rows})
    return counts
