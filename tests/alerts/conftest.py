"""Fixtures of the alert tests: a controlled clock shared by the engine and the Slack double."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from watchdog.alerts.delivery import DeliveryWorker, SlackSender
from watchdog.alerts.engine import AlertEngine
from watchdog.alerts.events import AlertEvent, Severity
from watchdog.alerts.outbox import Outbox
from watchdog.config import Settings
from watchdog.embedded.slack_double import SlackDouble
from watchdog.slack import SlackClients
from watchdog.status import collect_status
from watchdog.storage import Store, open_store

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TOKEN = "xoxb-test-0000-alerts-token"


class FakeClock:
    """A clock that moves only when the test moves it."""

    def __init__(self, start: datetime = START) -> None:
        self.time = start

    def __call__(self) -> datetime:
        return self.time

    def advance(self, seconds: float) -> datetime:
        self.time += timedelta(seconds=seconds)
        return self.time


def make_settings(double: SlackDouble, tmp_path: Path, **overrides: Any) -> Settings:
    """Settings that send to ``double`` with a bot token; ``overrides`` are merged per section."""
    values: dict[str, Any] = {
        "mode": "production",
        "state_dir": tmp_path,
        "host_name": "host-a",
        "slack": {"bot_token": TOKEN, "base_url": double.base_url, "default_channel": "#alerts"},
        "alerts": {},
    }
    for section, value in overrides.items():
        if isinstance(value, dict) and isinstance(values.get(section), dict):
            values[section] = {**values[section], **value}
        else:
            values[section] = value
    return Settings(**values)


def firing(
    rule: str = "latency_p99",
    at: datetime = START,
    severity: Severity = "warning",
    summary: str = "p99 latency 1200 ms",
    **labels: str,
) -> AlertEvent:
    """A firing event with ``labels`` (host=host-a unless given)."""
    return AlertEvent(
        rule=rule,
        labels=labels or {"host": "host-a"},
        severity=severity,
        state="firing",
        summary=summary,
        at=at,
    )


def resolved(rule: str = "latency_p99", at: datetime = START, **labels: str) -> AlertEvent:
    """The resolved event matching ``firing`` with the same rule and labels."""
    return AlertEvent(
        rule=rule,
        labels=labels or {"host": "host-a"},
        severity="warning",
        state="resolved",
        summary="recovered",
        at=at,
    )


@dataclass
class Harness:
    """An engine, its outbox and delivery on a real SQLite file, sending to the double."""

    clock: FakeClock
    double: SlackDouble
    settings: Settings
    store: Store
    engine: AlertEngine
    outbox: Outbox
    delivery: DeliveryWorker

    def tick(self, seconds: float = 1.0) -> None:
        """Move the clock, then run one processing cycle and one delivery run."""
        self.clock.advance(seconds)
        self.engine.process()
        self.delivery.run_once()

    def run_for(self, seconds: float, step: float = 1.0) -> None:
        """Tick every ``step`` seconds for ``seconds``."""
        for _ in range(round(seconds / step)):
            self.tick(step)

    def status(self) -> dict[str, Any]:
        """Return the ``alerts`` section of ``status --json``."""
        section: dict[str, Any] = collect_status(self.store, self.settings)["alerts"]
        return section


HarnessFactory = Callable[..., Harness]


@pytest.fixture
def clock() -> FakeClock:
    """A controlled clock starting at a fixed UTC time."""
    return FakeClock()


@pytest.fixture
def clocked_double(tmp_path: Path, clock: FakeClock) -> Iterator[SlackDouble]:
    """A Slack double that stamps requests with the test's clock."""
    double = SlackDouble(log_path=tmp_path / "slack.jsonl", clock=clock)
    double.start()
    yield double
    double.stop()


@pytest.fixture
def make_harness(
    tmp_path: Path, clock: FakeClock, clocked_double: SlackDouble
) -> Iterator[HarnessFactory]:
    """Build harnesses on one database file; each call is a new engine (a restart)."""
    stores: list[Store] = []

    def build(**overrides: Any) -> Harness:
        settings = make_settings(clocked_double, tmp_path, **overrides)
        store = open_store(f"sqlite:///{tmp_path / 'watchdog.db'}")
        stores.append(store)
        outbox = Outbox(store, owner=f"test-{len(stores)}")
        delivery = DeliveryWorker(
            outbox=outbox,
            sender=SlackSender(SlackClients(settings.slack)),
            delivery=settings.alerts.delivery,
            flood_guard=settings.alerts.flood_guard,
            now=clock,
            jitter=lambda: 0.0,
        )
        engine = AlertEngine(store, settings, clock)
        return Harness(clock, clocked_double, settings, store, engine, outbox, delivery)

    yield build
    for store in stores:
        store.close()
