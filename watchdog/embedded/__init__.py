"""The embedded default: local stand-ins for AWS and Slack, each a real server on 127.0.0.1.

With no configuration, ``inference-watchdog run`` starts moto's server and
the Slack API double in-process and points the ordinary boto3 and
slack-sdk clients at them, so every call takes the production code path.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from watchdog.aws import AwsClients
from watchdog.config.demo import DemoSettings
from watchdog.config.sections import AwsSettings
from watchdog.config.spend import EmbeddedBillSettings
from watchdog.embedded.aws import EMBEDDED_ACCESS_KEY_ID, EMBEDDED_SECRET_ACCESS_KEY, EmbeddedAws
from watchdog.embedded.bill import BillAwsClients, EmbeddedBill, fixed_daily_cost
from watchdog.embedded.demo import alert_overrides
from watchdog.embedded.slack_double import SlackDouble

logger = logging.getLogger(__name__)

# The embedded double accepts any bearer token; this one is not a secret.
EMBEDDED_SLACK_TOKEN = "xoxb-embedded-local-double"  # noqa: S105 - placeholder for the local double
SLACK_LOG_NAME = "slack-double.jsonl"
# Channel of the simulated bill's alerts, the same as the default of slack.default_channel.
EMBEDDED_BILLING_CHANNEL = "#inference-alerts"


@dataclass(frozen=True)
class EmbeddedEndpoints:
    """Where the stand-ins listen, for the banner, the settings and ``status``."""

    aws_endpoint: str
    slack_endpoint: str
    slack_log: Path

    def as_dict(self) -> dict[str, str]:
        """Return the endpoints as plain strings, keyed as ``status --json`` shows them."""
        return {
            "aws_endpoint": self.aws_endpoint,
            "slack_endpoint": self.slack_endpoint,
            "slack_log": str(self.slack_log),
        }


def billing_route(seconds_per_day: float) -> dict[str, Any]:
    """Return the alert route of the simulated bill, its timing scaled to the fast clock.

    The default policy sends a group's new alerts at most every five minutes,
    which suits a real bill but would hold back a month that passes in three.
    One group per month sends its new billing alerts every five simulated
    days (at least every 10 s), which stays within the flood guard's budget.
    """
    interval = max(5 * seconds_per_day, 10.0)
    return {
        "name": "embedded-billing",
        "rules": ["spend_*"],
        "target": EMBEDDED_BILLING_CHANNEL,
        "group_by": ["month"],
        "group_wait": "5s",
        "group_interval": f"{interval:g}s",
        "repeat_interval": "4h",
    }


def demo_route() -> dict[str, Any]:
    """Return the alert route of the demo's traffic and worker alerts.

    A worker that crashed is ready again within seconds, and ``worker_down``
    resolves then. The default policy waits 30 s before a group's first
    message, and an alert that resolves within that wait is never announced.
    So this route sends a new group's first message at the next processing
    cycle (every second).
    """
    return {
        "name": "embedded-demo",
        "rules": ["traffic_above_peak", "worker_*"],
        "target": EMBEDDED_BILLING_CHANNEL,
        "group_by": ["rule"],
        "group_wait": "0s",
        "group_interval": "10s",
        "repeat_interval": "4h",
    }


class EmbeddedEnvironment:
    """Starts and stops the local AWS and Slack stand-ins, and the simulated bill."""

    def __init__(
        self,
        state_dir: Path,
        echo: Callable[[str], None] | None = None,
        bill_settings: EmbeddedBillSettings | None = None,
        demo_settings: DemoSettings | None = None,
    ) -> None:
        self.state_dir = state_dir
        self.aws = EmbeddedAws()
        self.slack = SlackDouble(log_path=state_dir / SLACK_LOG_NAME, echo=echo)
        self._bill_settings = bill_settings
        self._demo_settings = demo_settings or DemoSettings()
        self.bill: EmbeddedBill | None = None
        self._endpoints: EmbeddedEndpoints | None = None

    def start(self) -> EmbeddedEndpoints:
        """Start both servers on free ports and return their endpoints."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.aws.start()
        self.slack.start()
        if self._bill_settings is not None and self._bill_settings.enabled:
            self.bill = EmbeddedBill(
                self.aws.endpoint_url, self.state_dir, self._bill_settings, self.credentials()
            )
            self.bill.start()
        self._endpoints = EmbeddedEndpoints(
            aws_endpoint=self.aws.endpoint_url,
            slack_endpoint=self.slack.base_url,
            slack_log=self.slack.log_path or self.state_dir / SLACK_LOG_NAME,
        )
        return self._endpoints

    def stop(self) -> None:
        """Stop the simulated bill and both servers."""
        if self.bill is not None:
            self.bill.stop()
        self.slack.stop()
        self.aws.stop()

    @property
    def endpoints(self) -> EmbeddedEndpoints:
        """The endpoints of the running stand-ins."""
        if self._endpoints is None:
            raise RuntimeError("the embedded environment is not started")
        return self._endpoints

    def settings_overrides(self) -> dict[str, Any]:
        """Return the settings that point the daemon's clients at the stand-ins."""
        endpoints = self.endpoints
        overrides: dict[str, Any] = {
            "aws": {"endpoint_url": endpoints.aws_endpoint},
            "slack": {"base_url": endpoints.slack_endpoint, "bot_token": EMBEDDED_SLACK_TOKEN},
        }
        routes = [demo_route()]
        if self.bill is not None and self._bill_settings is not None:
            # The nowcast splits the simulated bill into its fixed part and a cost per inference.
            overrides["spend"] = {"fixed_daily_cost": str(fixed_daily_cost())}
            routes.append(billing_route(self._bill_settings.seconds_per_day))
        overrides["alerts"] = {"routes": routes, **alert_overrides(self._demo_settings)}
        return overrides

    def aws_clients(self, settings: AwsSettings) -> AwsClients:
        """Return AWS clients for the stand-ins, whose Cost Explorer reads the simulated bill."""
        key_id, secret = self.credentials()
        return BillAwsClients(
            settings, access_key_id=key_id, secret_access_key=secret, bill=self.bill
        )

    def credentials(self) -> tuple[str, str]:
        """Return the placeholder AWS key pair that the embedded clients send."""
        return EMBEDDED_ACCESS_KEY_ID, EMBEDDED_SECRET_ACCESS_KEY
