"""A full or read-only database: the daemon keeps supervising, posts to Slack directly, recovers.

A real daemon (in this process) supervises a real worker process and sends
to the Slack double. The fault is set on every connection of the daemon's
own engine: ``PRAGMA max_page_count`` at the current size makes any write
that needs a new page fail with SQLITE_FULL, and ``PRAGMA query_only`` makes
every write fail with SQLITE_READONLY. The tests run as root, where a
``chmod`` of the file would not stop writes, so the pragma plays the
read-only file.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.engine import Engine

from tests.alerts.conftest import FakeClock, make_settings
from tests.reliability.conftest import FaultLedger
from watchdog.alerts.component import AlertsComponent
from watchdog.alerts.delivery import DeliveryWorker, SendResult, SlackSender
from watchdog.alerts.events import AlertEvent
from watchdog.alerts.outbox import SENT_STATE, Claim, Outbox, QueuedMessage
from watchdog.config import load_settings
from watchdog.daemon import Daemon, StoreMaintenance
from watchdog.embedded.slack_double import SlackDouble
from watchdog.embedded.slack_faults import Fault
from watchdog.scheduler import utc_now
from watchdog.slack import SlackClients
from watchdog.storage import Store
from watchdog.storage.health import StorageFailure, StorageRecovery
from watchdog.storage.models import OutboxMessage
from watchdog.supervision.component import SupervisionComponent
from watchdog.supervision.supervisor import Supervisor
from watchdog.systemd import Notifier

FAKE_WORKER = Path(__file__).parents[1] / "supervision" / "fake_worker.py"
TOKEN = "xoxb-test-0000-storage-token"
# Alerts queued in the outbox before the fault, and alerts emitted while it lasts.
QUEUED_BEFORE = 4
EMITTED_DURING = 6
# Long enough that the held alerts need new database pages once they are written.
SUMMARY_PADDING = "x" * 1500
FAILURE_NOTICE = "cannot write its database"
RECOVERY_NOTICE = "can write its database again"


class FailureCounter:
    """A storage listener that counts failed writes and recoveries."""

    def __init__(self) -> None:
        self.failures = 0
        self.recoveries: list[StorageRecovery] = []

    def storage_failing(self, failure: StorageFailure) -> None:
        self.failures += 1

    def storage_recovered(self, recovery: StorageRecovery) -> None:
        self.recoveries.append(recovery)


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"{what}: not within {timeout}s")


@contextmanager
def broken_storage(engine: Engine, fault: str) -> Iterator[None]:
    """Make every new connection of ``engine`` full or read-only until the block ends."""

    def limit(dbapi_connection: Any, connection_record: Any) -> None:
        cursor = dbapi_connection.cursor()
        if fault == "full":
            pages = cursor.execute("PRAGMA page_count").fetchone()[0]
            cursor.execute(f"PRAGMA max_page_count = {pages}")
        else:
            cursor.execute("PRAGMA query_only = ON")
        cursor.close()

    event.listen(engine, "connect", limit)
    # Pooled connections predate the listener; new ones get the fault.
    engine.dispose()
    try:
        yield
    finally:
        event.remove(engine, "connect", limit)
        engine.dispose()


def alert(rule: str, marker: str) -> AlertEvent:
    return AlertEvent(
        rule=rule,
        labels={"host": "host-a"},
        severity="warning",
        state="firing",
        summary=f"{marker} {SUMMARY_PADDING}",
        at=utc_now(),
    )


@pytest.fixture
def double(tmp_path: Path) -> Iterator[SlackDouble]:
    slack = SlackDouble(log_path=tmp_path / "slack.jsonl")
    slack.start()
    yield slack
    slack.stop()


@pytest.fixture
def daemon(tmp_path: Path, double: SlackDouble) -> Iterator[Daemon]:
    """A daemon with alerts and supervision of the test worker, sending to ``double``."""
    policy = {"group_wait": "0s", "group_interval": "1s", "repeat_interval": "1h"}
    overrides = {
        "mode": "production",
        "state_dir": tmp_path / "state",
        "host_name": "host-a",
        "slack": {
            "bot_token": TOKEN,
            "base_url": double.base_url,
            "default_channel": "#alerts",
            "timeout": "2s",
            "webhooks": {"ops": double.webhook_url()},
        },
        "alerts": {
            "process_interval": "200ms",
            "default_route": policy,
            "routes": [{"name": "ops", "rules": ["disk.*"], "target": "webhook:ops", **policy}],
            "flood_guard": {"min_interval": "100ms", "budget": 1000},
            "delivery": {"interval": "200ms", "backoff_initial": "200ms", "backoff_max": "1s"},
        },
        "supervision": {
            "command": [sys.executable, str(FAKE_WORKER), "--port", "{port}"],
            "tick_interval": "100ms",
            "stop_timeout": "3s",
            "health": {"startup_timeout": "20s", "interval": "200ms", "timeout": "500ms"},
            "restart": {"backoff_initial": "200ms", "backoff_max": "1s", "jitter": 0.2},
            "memory": {"cgroup": "off", "interval": "200ms"},
        },
    }
    loaded = load_settings(overrides=overrides, environ={})
    running = Daemon(
        loaded,
        notifier=Notifier(None),
        factories=[AlertsComponent, StoreMaintenance, SupervisionComponent],
    )
    running.start()
    yield running
    running.stop()


def outbox_states(daemon: Daemon) -> Counter[str]:
    with daemon.store.session() as session:
        return Counter(session.scalars(select(OutboxMessage.state)).all())


def accepted_texts(double: SlackDouble) -> list[str]:
    return [str(message["body"].get("text", "")) for message in double.accepted()]


@pytest.mark.parametrize("fault", ["full", "read-only"])
def test_storage_fault_keeps_supervising_and_recovers(
    *,
    fault: str,
    daemon: Daemon,
    double: SlackDouble,
    fault_ledger: FaultLedger,
    request: pytest.FixtureRequest,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="watchdog")
    counter = FailureCounter()
    daemon.store.health.add_listener(counter)
    worker = daemon.context.services.worker
    assert isinstance(worker, Supervisor)
    sink = daemon.context.services.alert_sink
    wait_for(lambda: worker.is_up, "worker up")
    # The webhook fails, so the alerts accepted before the fault stay queued in the outbox.
    double.add_fault(Fault("server_error", method="webhook", status=500))
    before = [f"queued-{number:02d}" for number in range(QUEUED_BEFORE)]
    for number, marker in enumerate(before):
        sink.emit(alert(f"disk.full_{number:02d}", marker))
    wait_for(lambda: outbox_states(daemon).total() == QUEUED_BEFORE, "alerts queued before the fault")

    with broken_storage(daemon.store.engine, fault):
        double.clear_faults()
        during = [f"held-{number:02d}" for number in range(EMITTED_DURING)]
        for number, marker in enumerate(during):
            sink.emit(alert(f"latency_{number:02d}", marker))
        wait_for(
            lambda: any(FAILURE_NOTICE in text for text in accepted_texts(double)),
            "storage failure notice in Slack",
        )
        first_pid = worker.pid
        assert first_pid is not None
        os.kill(first_pid, signal.SIGKILL)
        wait_for(lambda: worker.is_up and worker.pid != first_pid, "worker restarted")
        # Held alerts need the store, so none reached Slack while it failed. A full store can
        # still take a cycle whose writes fit in its free space, so only read-only is exact.
        held_in_slack = [t for t in accepted_texts(double) if any(m in t for m in during)]
        assert daemon.store.health.failing

    expected = before + during
    wait_for(
        lambda: all(any(m in t for t in accepted_texts(double)) for m in expected),
        "every alert delivered after the fault",
    )
    wait_for(lambda: not daemon.store.health.failing, "store healthy again")
    wait_for(
        lambda: any(RECOVERY_NOTICE in t for t in accepted_texts(double)),
        "storage recovery notice in Slack",
    )
    texts = accepted_texts(double)
    deliveries = {marker: sum(1 for t in texts if marker in t) for marker in expected}
    lost = sum(1 for count in deliveries.values() if count == 0)
    duplicated = sum(count - 1 for count in deliveries.values() if count > 1)
    fault_ledger.record(
        request,
        scenario=f"database {fault}",
        fault="failed database write",
        injected=counter.failures,
        checked_item="alerts queued before or emitted during the fault, delivered",
        checked=len(expected) - lost,
        lost=lost,
        duplicated=duplicated,
    )

    assert lost == 0
    assert duplicated == 0
    if fault == "read-only":
        assert held_in_slack == []
    assert counter.failures >= 1
    assert len(counter.recoveries) == 1
    assert sum(1 for t in texts if FAILURE_NOTICE in t) == 1
    assert sum(1 for t in texts if RECOVERY_NOTICE in t) == 1
    failure_lines = [
        r for r in caplog.records if r.getMessage().startswith("writing to the store failed")
    ]
    assert len(failure_lines) == 1
    assert ("SQLITE_FULL" if fault == "full" else "SQLITE_READONLY") in failure_lines[0].getMessage()
    recovery_lines = [
        r for r in caplog.records if r.getMessage().startswith("writing to the store works again")
    ]
    assert len(recovery_lines) == 1
    assert worker.is_up
    with daemon.store.engine.connect() as connection:
        assert connection.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    wait_for(lambda: outbox_states(daemon)[SENT_STATE] >= len(expected), "outbox rows marked sent")
    assert timedelta(0) < counter.recoveries[0].duration


class StoreBreakingSender(SlackSender):
    """The real sender, which makes the store read-only right after Slack accepts a message."""

    def __init__(self, clients: SlackClients, store: Store, stack: ExitStack) -> None:
        super().__init__(clients)
        self._store = store
        self._stack = stack

    def send(self, claim: Claim) -> SendResult:
        result = super().send(claim)
        self._stack.enter_context(broken_storage(self._store.engine, "read-only"))
        return result


def test_sent_outcome_held_until_store_returns(
    tmp_path: Path, store: Store, fault_ledger: FaultLedger, request: pytest.FixtureRequest
) -> None:
    clock = FakeClock()
    double = SlackDouble(clock=clock)
    double.start()
    settings = make_settings(double, tmp_path)
    counter = FailureCounter()
    store.health.add_listener(counter)
    outbox = Outbox(store, owner="reliability")
    outbox.enqueue(
        QueuedMessage(
            dedup_key="held-outcome",
            target="#alerts",
            kind="alert",
            subject="held outcome",
            payload={"text": "held outcome"},
        ),
        clock(),
    )
    with ExitStack() as stack:
        delivery = DeliveryWorker(
            outbox=outbox,
            sender=StoreBreakingSender(SlackClients(settings.slack), store, stack),
            delivery=settings.alerts.delivery,
            flood_guard=settings.alerts.flood_guard,
            now=clock,
            jitter=lambda: 0.0,
        )
        first = delivery.run_once()
        # Past the claim's lease, the message could be claimed again if the outcome were lost.
        clock.advance(settings.alerts.delivery.claim_timeout.total_seconds() + 60)
        during = delivery.run_once()
        failing_during = store.health.failing
    clock.advance(1)
    after = delivery.run_once()
    clock.advance(settings.alerts.delivery.claim_timeout.total_seconds() + 60)
    delivery.run_once()
    double.stop()
    with store.session() as session:
        states = session.scalars(select(OutboxMessage.state)).all()
    accepted = len(double.accepted())
    fault_ledger.record(
        request,
        scenario="database read-only between send and mark",
        fault="failed database write",
        injected=counter.failures,
        checked_item="messages sent, marked sent after the fault",
        checked=accepted,
        lost=1 - min(accepted, 1),
        duplicated=max(accepted - 1, 0),
    )

    assert accepted == 1
    assert (first.sent, first.unrecorded) == (1, 1)
    assert (during.sent, during.unrecorded) == (0, 1)
    assert (after.sent, after.unrecorded) == (0, 0)
    assert failing_during
    assert not store.health.failing
    assert states == [SENT_STATE]
