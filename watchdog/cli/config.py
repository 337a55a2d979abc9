"""``inference-watchdog check-config``: validate and print the effective configuration."""

from __future__ import annotations

import click
import tomli_w

from watchdog.cli.common import CliState


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
    """
    if config_path:
        state.config_path = config_path
    loaded = state.load()
    document = loaded.settings.model_dump(mode="json", exclude_none=True)
    source = str(loaded.config_file) if loaded.config_file else "(no config file)"
    mode = "embedded" if loaded.embedded else "production"
    click.echo(f"# configuration from {source}; the daemon would run in {mode} mode")
    click.echo(tomli_w.dumps(document), nl=False)
