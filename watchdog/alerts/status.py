"""The ``alerts`` section of ``status``: counters and outbox state, read from the store."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from watchdog.alerts import counters
from watchdog.alerts.outbox import DEAD, PENDING, SENDING, count_states
from watchdog.config import Settings
from watchdog.scheduler import utc_now
from watchdog.storage import Store
from watchdog.storage.models import AlertStateRow, OutboxMessage, Silence


def alerts_section(store: Store, settings: Settings) -> dict[str, Any]:
    """Return the alert engine's counters, its firing alerts and its outbox backlog."""
    now = utc_now()
    with store.session() as session:
        counts = counters.read_counts(session)
        states = dict(
            session.execute(
                select(AlertStateRow.state, func.count()).group_by(AlertStateRow.state)
            ).all()
        )
        outbox = count_states(session)
        silences = session.scalar(
            select(func.count())
            .select_from(Silence)
            .where(Silence.expired_at.is_(None), Silence.ends_at > now)
        )
        last_dead = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.state == DEAD)
            .order_by(OutboxMessage.id.desc())
            .limit(1)
        ).first()

    by_reason = {
        name.removeprefix(counters.SUPPRESSED_PREFIX): value
        for name, value in sorted(counts.items())
        if name.startswith(counters.SUPPRESSED_PREFIX)
    }
    section: dict[str, Any] = {
        "firing": int(states.get("firing", 0)),
        "pending": int(states.get("pending", 0)),
        "sent": counts.get(counters.SENT, 0),
        "suppressed": sum(by_reason.values()),
        "suppressed_by_reason": by_reason,
        "folded": counts.get(counters.FOLDED, 0),
        "dropped": counts.get(counters.DROPPED, 0),
        "dead_letters": outbox[DEAD],
        "outbox_pending": outbox[PENDING] + outbox[SENDING],
        "silences_active": int(silences or 0),
        "last_dead_letter": None,
    }
    if last_dead is not None:
        section["last_dead_letter"] = {
            "id": last_dead.id,
            "target": last_dead.target,
            "subject": last_dead.subject,
            "error": last_dead.last_error,
            "created_at": last_dead.created_at.isoformat(),
        }
    return section
