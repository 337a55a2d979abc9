"""``inference-watchdog check-config``: validate and print the effective configuration."""

from __future__ import annotations

import click
import tomli_w

from watchdog.alerts.delivery import WEBHOOK_PREFIX
from watchdog.cli.common import CliState
from watchdog.config import LoadedSettings

# The token file that deploy/inference-watchdog.service loads (LoadCredential=).
UNIT_TOKEN_FILE = "/etc/inference-watchdog/credentials/slack.bot_token"  # noqa: S105 - a path, not a secret


def missing_token_note(loaded: LoadedSettings) -> str | None:
    """Return a note when a production config sends to channels but no bot token reached it.

    Under systemd the token arrives as a credential that only the unit's
    processes see, so the note is expected when the command runs from a shell
    on a host whose unit has the token.
    """
    settings = loaded.settings
    if loaded.embedded or settings.slack.bot_token is not None:
        return None
    alerts = settings.alerts
    targets = [settings.slack.default_channel, alerts.default_route.target, settings.report.channel]
    targets += [route.target for route in alerts.routes]
    channels = sorted({t for t in targets if t is not None and not t.startswith(WEBHOOK_PREFIX)})
    if not channels:
        return None
    return (
        f"note: slack.bot_token is not set here, and messages to {', '.join(channels)} need it. "
        f"Under systemd the unit loads it from {UNIT_TOKEN_FILE}, which this command does not "
        "read; elsewhere set INFERENCE_WATCHDOG_SLACK__BOT_TOKEN."
    )


@click.command("check-config")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=str),
    help="TOML config file to check (same as the top-level --config).",
)
@click.pass_obj
def check_config(state: CliState, config_path: str | None) -> None:
    """Validate the configuration and print it as TOML, with secrets masked.

    Exits 2 and names each invalid field when the configuration is invalid.
    Notes on standard error what a production daemon would still lack (the
    Slack bot token); AWS credentials are not checked, since that needs AWS.
    """
    if config_path:
        state.config_path = config_path
    loaded = state.load()
    document = loaded.settings.model_dump(mode="json", exclude_none=True)
    source = str(loaded.config_file) if loaded.config_file else "(no config file)"
    mode = "embedded" if loaded.embedded else "production"
    click.echo(f"# configuration from {source}; the daemon would run in {mode} mode")
    click.echo(tomli_w.dumps(document), nl=False)
    note = missing_token_note(loaded)
    if note is not None:
        click.echo(f"inference-watchdog: {note}", err=True)
