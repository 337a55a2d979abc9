"""Storage failure notices posted straight to Slack: once per interval, and a recovery line."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

from tests.alerts.conftest import FakeClock, make_settings
from watchdog.alerts.delivery import SlackSender
from watchdog.alerts.storage_notice import StorageNotice
from watchdog.embedded.slack_double import SlackDouble
from watchdog.embedded.slack_faults import Fault
from watchdog.slack import SlackClients
from watchdog.storage.health import StorageHealth


def full_error() -> sqlite3.OperationalError:
    error = sqlite3.OperationalError("database or disk is full")
    error.sqlite_errorcode = 13  # type: ignore[attr-defined]
    error.sqlite_errorname = "SQLITE_FULL"  # type: ignore[attr-defined]
    return error


def build(clock: FakeClock, double: SlackDouble, tmp_path: Path) -> tuple[StorageHealth, StorageNotice]:
    settings = make_settings(double, tmp_path)
    health = StorageHealth(clock)
    notice = StorageNotice(
        sender=SlackSender(SlackClients(settings.slack)),
        target="#alerts",
        interval=timedelta(hours=1),
        source="inference-watchdog on host-a (inference)",
        store_url="sqlite:////var/lib/inference-watchdog/watchdog.db",
        now=clock,
    )
    health.add_listener(notice)
    return health, notice


def test_notice_posted_once_per_interval(
    clock: FakeClock, clocked_double: SlackDouble, tmp_path: Path
) -> None:
    health, _ = build(clock, clocked_double, tmp_path)

    for _ in range(121):
        health.failed("alerts-deliver", full_error())
        clock.advance(30)
    texts = [message["body"]["text"] for message in clocked_double.accepted()]

    # Failures every 30 s for 60 minutes: the first posts, the one at 60 minutes posts again.
    assert len(texts) == 2
    assert texts[0] == (
        ":rotating_light: inference-watchdog on host-a (inference) cannot write its database "
        "sqlite:////var/lib/inference-watchdog/watchdog.db since 2026-03-02T09:00:00+00:00: "
        "database or disk is full (SQLITE_FULL, 1 failed writes so far, last in alerts-deliver). "
        "The worker is still supervised; new alerts are held in memory and queued when writes "
        "work again. Free disk space or make the database file and its directory writable."
    )


def test_recovery_posted_after_announced_stretch(
    clock: FakeClock, clocked_double: SlackDouble, tmp_path: Path
) -> None:
    health, _ = build(clock, clocked_double, tmp_path)

    health.failed("alerts-deliver", full_error())
    health.failed("alert engine", full_error())
    clock.advance(125)
    health.succeeded("alerts-deliver")
    still_failing = health.failing
    health.succeeded("alert engine")
    # A second stretch within the interval posts neither a failure nor a recovery.
    health.failed("alerts-deliver", full_error())
    health.succeeded("alerts-deliver")
    texts = [message["body"]["text"] for message in clocked_double.accepted()]

    assert still_failing
    assert not health.failing
    assert len(texts) == 2
    assert texts[1] == (
        ":white_check_mark: inference-watchdog on host-a (inference) can write its database "
        "again after 2m5s and 2 failed writes; held alerts are being queued."
    )


def test_failed_post_retried_after_a_minute(
    clock: FakeClock, clocked_double: SlackDouble, tmp_path: Path
) -> None:
    health, notice = build(clock, clocked_double, tmp_path)
    clocked_double.add_fault(Fault("server_error", method="chat.postMessage", count=1))

    health.failed("alerts-deliver", full_error())
    clock.advance(30)
    health.failed("alerts-deliver", full_error())
    posted_before_retry = notice.posted
    clock.advance(30)
    health.failed("alerts-deliver", full_error())

    assert posted_before_retry == 0
    assert notice.posted == 1
    assert len(clocked_double.requests("chat.postMessage")) == 2


def test_other_database_errors_are_not_storage_failures(clock: FakeClock) -> None:
    health = StorageHealth(clock)
    error = sqlite3.IntegrityError("UNIQUE constraint failed: outbox_messages.dedup_key")
    error.sqlite_errorcode = 2067  # type: ignore[attr-defined]

    counted = health.failed("alert engine", error)

    assert not counted
    assert not health.failing
