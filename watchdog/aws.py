"""boto3 clients built from the settings, with botocore's standard retry mode.

Credentials come from the standard boto3 chain (an instance role on EC2),
except in the embedded default, which passes placeholder keys explicitly so
that real credentials are never sent to the local moto server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from watchdog.config.sections import AwsSettings

# AWS/Billing metrics exist only in us-east-1, whatever region the host is in.
BILLING_REGION = "us-east-1"


@dataclass(frozen=True)
class AwsClients:
    """A factory of boto3 clients that share one endpoint, retry policy and credentials."""

    settings: AwsSettings
    access_key_id: str | None = None
    secret_access_key: str | None = None

    def __repr__(self) -> str:
        return f"AwsClients(region={self.settings.region!r}, endpoint={self.settings.endpoint_url!r})"

    def client(
        self,
        service: str,
        region: str | None = None,
        max_attempts: int | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Return a new boto3 client for ``service`` (thread-safe to use, not to build).

        ``max_attempts`` (counting the first attempt) and ``timeout`` (seconds)
        override the settings for callers that retry on their own or must not
        block for long.
        """
        if timeout is None:
            timeout = self.settings.timeout.total_seconds()
        retries: dict[str, Any] = {"mode": "standard", "total_max_attempts": self.settings.max_attempts}
        if max_attempts is not None:
            # botocore's total_max_attempts counts the first attempt; its max_attempts does not.
            retries = {"mode": "standard", "total_max_attempts": max_attempts}
        config = Config(
            retries=retries,
            connect_timeout=timeout,
            read_timeout=timeout,
        )
        kwargs: dict[str, Any] = {
            "region_name": region or self.settings.region,
            "config": config,
        }
        if self.settings.endpoint_url:
            kwargs["endpoint_url"] = self.settings.endpoint_url
        if self.access_key_id is not None:
            kwargs["aws_access_key_id"] = self.access_key_id
            kwargs["aws_secret_access_key"] = self.secret_access_key
        # A session per client: boto3's default session is not thread-safe to build clients from.
        return boto3.session.Session().client(service, **kwargs)
