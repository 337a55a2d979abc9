"""Settings sections shared by the whole daemon: AWS, Slack, the daemon loop."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from watchdog.config.types import Duration


class Section(BaseModel):
    """Base of every settings section: frozen, and unknown keys are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class AwsSettings(Section):
    """The AWS endpoint, region and retry policy. Credentials come from the boto3 chain."""

    region: str = Field("us-east-1", description="AWS region for CloudWatch metrics.")
    endpoint_url: str | None = Field(
        None,
        description="Endpoint override for every AWS client; unset means the real AWS endpoints.",
    )
    namespace: str = Field(
        "InferenceWatchdog", description="CloudWatch namespace of the published metrics."
    )
    max_attempts: int = Field(
        5, ge=1, le=20, description="Attempts per AWS call, with botocore's jittered backoff."
    )
    timeout: Duration = Field(
        timedelta(seconds=10), description="Connect and read timeout of each AWS call."
    )

    @field_validator("namespace")
    @classmethod
    def _namespace_not_aws(cls, value: str) -> str:
        # CloudWatch reserves namespaces that start with "AWS/" for AWS services.
        if value.startswith("AWS/") or not value:
            raise ValueError("use a custom namespace such as 'InferenceWatchdog'; 'AWS/' is reserved")
        return value


class SlackSettings(Section):
    """Slack delivery: a bot token for channels, or incoming webhook URLs."""

    bot_token: SecretStr | None = Field(
        None,
        description="Bot token (xoxb-...) with the chat:write and files:write scopes. "
        "Prefer the systemd credential 'slack.bot_token' over writing it here.",
    )
    webhooks: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Incoming webhook URLs by name; a route may send to 'webhook:NAME'.",
    )
    default_channel: str = Field(
        "#inference-alerts", description="Channel for alerts that match no other route."
    )
    base_url: str = Field(
        "https://slack.com/api/",
        description="Slack Web API base URL; the embedded default points it at the local double.",
    )
    timeout: Duration = Field(timedelta(seconds=10), description="Timeout of each Slack request.")


class DaemonSettings(Section):
    """The scheduler loop and its systemd watchdog."""

    shutdown_timeout: Duration = Field(
        timedelta(seconds=10),
        description="How long a SIGTERM or SIGINT waits for running jobs before the daemon exits.",
    )
    heartbeat_interval: Duration = Field(
        timedelta(seconds=5),
        description="How often the scheduler sends WATCHDOG=1 to systemd; keep it under half "
        "of WatchdogSec.",
    )
    stall_timeout: Duration = Field(
        timedelta(minutes=2),
        description="A job running longer than this counts as a stalled loop, and the daemon "
        "stops sending WATCHDOG=1 so that systemd restarts it.",
    )
