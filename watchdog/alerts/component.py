"""The alert engine as a daemon component: its sink, its jobs, and its own health alert.

It must be built before every component that emits alerts, because
building it replaces ``context.services.alert_sink`` with the engine.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from typing import TYPE_CHECKING

from watchdog.alerts.delivery import WEBHOOK_PREFIX, DeliveryWorker, SlackSender
from watchdog.alerts.engine import AlertEngine
from watchdog.alerts.outbox import DEAD, Outbox, count_states
from watchdog.alerts.routing import RouteTable
from watchdog.alerts.rules import HealthRules, HealthSample
from watchdog.alerts.storage_notice import StorageNotice
from watchdog.errors import ConfigError
from watchdog.scheduler import JobSpec

if TYPE_CHECKING:
    from watchdog.daemon import DaemonContext

logger = logging.getLogger(__name__)


def check_webhook_targets(routes: RouteTable, webhooks: set[str]) -> None:
    """Raise ``ConfigError`` when a route sends to a webhook that ``slack.webhooks`` lacks."""
    for target in routes.targets():
        name = target.removeprefix(WEBHOOK_PREFIX)
        if target.startswith(WEBHOOK_PREFIX) and name not in webhooks:
            known = ", ".join(sorted(webhooks)) or "none"
            raise ConfigError(
                f"invalid alerts route target {target!r}: slack.webhooks has no {name!r} "
                f"(configured: {known}); add the webhook URL or change the route"
            )


class AlertsComponent:
    """Runs the alert engine: processing every second, delivery every second, upkeep every minute."""

    name = "alerts"

    def __init__(self, context: DaemonContext) -> None:
        settings = context.settings
        self._context = context
        check_webhook_targets(
            RouteTable(settings.alerts, settings.slack.default_channel),
            set(settings.slack.webhooks),
        )
        self.engine = AlertEngine(context.store, settings, context.now)
        context.services.alert_sink = self.engine
        # Names this process's outbox claims, so that logs tell two daemons apart.
        owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.outbox = Outbox(context.store, owner)
        sender = SlackSender(context.slack)
        self.delivery = DeliveryWorker(
            outbox=self.outbox,
            sender=sender,
            delivery=settings.alerts.delivery,
            flood_guard=settings.alerts.flood_guard,
            now=context.now,
        )
        # The outbox cannot be written while the store fails, so these notices skip it.
        self.storage_notice = StorageNotice(
            sender=sender,
            target=RouteTable(settings.alerts, settings.slack.default_channel).default.target,
            interval=settings.alerts.delivery.storage_notice_interval,
            source=self.engine.source,
            store_url=context.store.url,
            now=context.now,
        )
        context.store.health.add_listener(self.storage_notice)
        labels = {"service": settings.service_name, "host": settings.host_name}
        self.health = HealthRules(settings.alerts.health, labels)

    def jobs(self) -> list[JobSpec]:
        alerts = self._context.settings.alerts
        return [
            JobSpec(
                "alerts-process",
                self.engine.process,
                "interval",
                {"seconds": alerts.process_interval.total_seconds()},
                description="deduplicate and group alert events into the outbox",
                misfire_grace_time=5,
                record=False,
            ),
            JobSpec(
                "alerts-deliver",
                self.delivery.run_once,
                "interval",
                {"seconds": alerts.delivery.interval.total_seconds()},
                description="deliver due outbox messages to Slack",
                misfire_grace_time=5,
                record=False,
            ),
            JobSpec(
                "alerts-upkeep",
                self.upkeep,
                "interval",
                {"minutes": 1},
                description="check the dead letters and forget old alert state",
            ),
        ]

    def start(self) -> None:
        self.engine.load()

    def stop(self) -> None:
        # Store what producers emitted last, so a clean stop loses no event.
        self.engine.process()

    def upkeep(self) -> None:
        """Raise or resolve the dead-letter alert, and prune old alert state and sent messages."""
        now = self._context.now()
        with self._context.store.session() as session:
            dead = count_states(session)[DEAD]
        for event in self.health.evaluate(HealthSample(at=now, dead_letters=dead)):
            self.engine.emit(event)
        self.engine.maintenance()
        retention = self._context.settings.alerts.delivery.sent_retention
        pruned = self.outbox.prune_sent(now - retention)
        if pruned:
            logger.info("deleted %d sent outbox messages older than %s", pruned, retention)
