"""Slack failing with 5xx responses, 429 storms and timeouts: every message arrives exactly once.

The real alert engine, outbox and delivery run on a migrated SQLite file and
send through slack-sdk to the Slack double, one channel (bot token) and one
incoming webhook. Engine, delivery and double share a controlled clock, so
backoff and ``Retry-After`` cost no wall time. Only the injected timeouts
wait for the client's real one-second timeout.

The timeouts injected here end before Slack processes the request. A
timeout after Slack posted the message is ambiguous and makes a duplicate
(at least once, not exactly once), which ``tests/alerts`` covers.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.alerts.conftest import FakeClock, firing, make_settings
from tests.reliability.conftest import FaultLedger
from watchdog.alerts.delivery import DeliveryWorker, SlackSender
from watchdog.alerts.engine import AlertEngine
from watchdog.alerts.outbox import DEAD, PENDING, SENDING, SENT_STATE, Outbox
from watchdog.embedded.slack_double import SlackDouble
from watchdog.embedded.slack_faults import Fault
from watchdog.slack import SlackClients
from watchdog.storage import open_store
from watchdog.storage.models import OutboxMessage

CHANNEL = "#alerts"
WEBHOOK = "webhook:ops"
CHANNEL_ALERTS = 24
WEBHOOK_ALERTS = 12
# The 429 storms ask for this many seconds; the delivery must wait them out per target.
RETRY_AFTER = 5.0

# Added in this order. The double fails each request with the first fault still in force,
# so each target gets 5xx responses, then a 429 storm, then timeouts, then permanent errors.
CHANNEL_FAULTS = [
    Fault("server_error", method="chat.postMessage", status=500, count=4),
    Fault("server_error", method="chat.postMessage", status=503, count=2),
    Fault("rate_limited", method="chat.postMessage", retry_after=RETRY_AFTER, count=6),
    Fault("timeout", method="chat.postMessage", delay=1.5, count=2),
    Fault("error", method="chat.postMessage", error="channel_not_found", count=1),
    Fault("error", method="chat.postMessage", error="invalid_auth", count=1),
]
WEBHOOK_FAULTS = [
    Fault("server_error", method="webhook", status=500, count=3),
    Fault("rate_limited", method="webhook", retry_after=RETRY_AFTER, count=5),
    Fault("timeout", method="webhook", delay=1.5, count=1),
    Fault("error", method="webhook", error="channel_not_found", count=1),
]
PERMANENT_KINDS = ("error",)


def request_time(request: dict[str, object]) -> datetime:
    return datetime.fromisoformat(str(request["time"]))


def test_slack_faults_deliver_every_message_once(
    tmp_path: Path, fault_ledger: FaultLedger, request: pytest.FixtureRequest
) -> None:
    clock = FakeClock()
    double = SlackDouble(log_path=tmp_path / "slack.jsonl", clock=clock)
    double.start()
    settings = make_settings(
        double,
        tmp_path,
        slack={"timeout": "1s", "webhooks": {"ops": double.webhook_url()}},
        alerts={
            "default_route": {"group_wait": "0s"},
            "routes": [{"name": "ops", "rules": ["disk.*"], "target": WEBHOOK, "group_wait": "0s"}],
            "flood_guard": {"budget": 1000},
        },
    )
    store = open_store(f"sqlite:///{tmp_path / 'watchdog.db'}")
    engine = AlertEngine(store, settings, clock)
    delivery = DeliveryWorker(
        outbox=Outbox(store, owner="reliability"),
        sender=SlackSender(SlackClients(settings.slack)),
        delivery=settings.alerts.delivery,
        flood_guard=settings.alerts.flood_guard,
        now=clock,
        jitter=lambda: 0.0,
    )
    faults = [double.add_fault(fault) for fault in CHANNEL_FAULTS + WEBHOOK_FAULTS]
    try:
        for number in range(CHANNEL_ALERTS):
            engine.emit(firing(rule=f"latency_{number:02d}", at=clock()))
        for number in range(WEBHOOK_ALERTS):
            engine.emit(firing(rule=f"disk.full_{number:02d}", at=clock()))

        # One engine cycle and one delivery run per second of the controlled clock.
        for _ in range(600):
            clock.advance(1.0)
            engine.process()
            delivery.run_once()
            with store.session() as session:
                unfinished = session.scalar(
                    select(OutboxMessage.id).where(OutboxMessage.state.in_((PENDING, SENDING)))
                )
            if unfinished is None:
                break

        with store.session() as session:
            rows = session.execute(
                select(
                    OutboxMessage.state,
                    OutboxMessage.target,
                    OutboxMessage.payload,
                    OutboxMessage.last_error,
                )
            ).all()
    finally:
        double.stop()
        store.close()

    # Every request after a 429 to the same target came after its Retry-After.
    early = []
    for target in ("#alerts", "webhook:T0EMBEDDED/B0WATCHDOG"):
        requests = [r for r in double.requests() if r["target"] == target]
        for earlier, later in pairwise(requests):
            waited = request_time(later) - request_time(earlier)
            if earlier["status"] == 429 and waited < timedelta(seconds=RETRY_AFTER):
                early.append(later)
    accepted_texts = Counter(str(message["body"].get("text")) for message in double.accepted())
    sent = [row for row in rows if row.state == SENT_STATE]
    dead = [row for row in rows if row.state == DEAD]
    delivered = [row for row in sent if accepted_texts[row.payload["text"]] >= 1]
    duplicated = sum(max(accepted_texts[row.payload["text"]] - 1, 0) for row in rows)
    injected = sum(fault.count or 0 for fault in faults)
    permanent = sum(fault.count or 0 for fault in faults if fault.kind in PERMANENT_KINDS)
    lost = len(rows) - len(delivered) - len(dead)
    fault_ledger.record(
        request,
        scenario="Slack 5xx, 429 storms and timeouts",
        fault="failed Slack response",
        injected=injected,
        checked_item="outbox messages delivered or dead-lettered",
        checked=len(delivered) + len(dead),
        lost=lost,
        duplicated=duplicated,
    )

    assert len(rows) == CHANNEL_ALERTS + WEBHOOK_ALERTS
    assert [fault.hits for fault in faults] == [fault.count for fault in faults]
    assert lost == 0
    assert duplicated == 0
    assert len(delivered) == len(sent)
    assert len(dead) == permanent
    assert sorted(row.last_error for row in dead) == [
        "HTTP 404 'channel_not_found'",
        "Slack returned 'channel_not_found'",
        "Slack returned 'invalid_auth'",
    ]
    assert sum(accepted_texts.values()) == len(sent)
    assert sum(1 for row in rows if row.target == WEBHOOK) == WEBHOOK_ALERTS
    assert early == []

