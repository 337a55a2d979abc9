"""boto3 clients built from the settings."""

from __future__ import annotations

from watchdog.aws import AwsClients
from watchdog.config.sections import AwsSettings


def test_max_attempts_counts_first_attempt() -> None:
    clients = AwsClients(AwsSettings(max_attempts=3, endpoint_url="http://127.0.0.1:9"))

    client = clients.client("cloudwatch")

    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 3}


def test_override_replaces_setting() -> None:
    clients = AwsClients(AwsSettings(max_attempts=3, endpoint_url="http://127.0.0.1:9"))

    client = clients.client("cloudwatch", max_attempts=1, timeout=3.0)

    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 1}
    assert client.meta.config.read_timeout == 3.0
