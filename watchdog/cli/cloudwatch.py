"""``inference-watchdog cloudwatch``: CloudWatch set-up for the published metrics."""

from __future__ import annotations

import click

from watchdog.aws import AwsClients
from watchdog.cli.common import CliState, exit_on_error, fail
from watchdog.metrics.alarms import AlarmClient, alarm_specs, ensure_alarms


@click.group()
def cloudwatch() -> None:
    """Manage the CloudWatch side of the metrics."""


@cloudwatch.command("ensure-alarms")
@click.option("--dry-run", is_flag=True, help="Show what would change without changing it.")
@click.pass_obj
def ensure_alarms_command(state: CliState, dry_run: bool) -> None:
    """Create or update the heartbeat, p99 latency, queue depth and memory alarms.

    Running it again changes nothing unless the settings changed. Actions go
    to metrics.alarms.sns_topic_arn.
    """
    loaded = state.load()
    state.setup_logging(loaded)
    settings = loaded.settings
    if loaded.embedded and settings.aws.endpoint_url is None:
        fail(
            'ensure-alarms needs an AWS account: pass --config with mode = "production" '
            "(the embedded AWS lives only inside a running daemon)"
        )
    topic = settings.metrics.alarms.sns_topic_arn
    if topic is None:
        click.echo(
            "warning: metrics.alarms.sns_topic_arn is not set; the alarms will change state "
            "but notify nobody",
            err=True,
        )

    with exit_on_error():
        client = AlarmClient(AwsClients(settings.aws).client("cloudwatch"))
        outcomes = ensure_alarms(
            client, alarm_specs(settings), settings.aws.namespace, topic, dry_run=dry_run
        )
    prefix = "would be " if dry_run else ""
    for name, outcome in outcomes:
        shown = outcome if outcome == "unchanged" else f"{prefix}{outcome}"
        click.echo(f"{shown:<18} {name}")
