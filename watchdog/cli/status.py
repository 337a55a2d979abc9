"""``inference-watchdog status``: what the daemon is doing, read from its database."""

from __future__ import annotations

import json

import click

from watchdog.cli.common import CliState, exit_on_error, state_dir_option, state_dir_overrides
from watchdog.status import collect_status, format_status
from watchdog.storage import open_store


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@state_dir_option
@click.pass_obj
def status(state: CliState, as_json: bool, state_dir: str | None) -> None:
    """Show the daemon's state, its jobs and each capability's counters."""
    loaded = state.load(state_dir_overrides(state_dir))
    with exit_on_error():
        store = open_store(loaded.settings.resolved_database_url())
        try:
            document = collect_status(store, loaded.settings)
        finally:
            store.close()
    if as_json:
        click.echo(json.dumps(document, indent=2, sort_keys=True, default=str))
    else:
        click.echo(format_status(document))
