"""``inference-watchdog db``: database maintenance."""

from __future__ import annotations

import click

from watchdog.cli.common import CliState, exit_on_error, state_dir_option, state_dir_overrides
from watchdog.storage import Store
from watchdog.storage.migrate import upgrade


@click.group()
def db() -> None:
    """Manage the SQLite store."""


@db.command("upgrade")
@state_dir_option
@click.pass_obj
def db_upgrade(state: CliState, state_dir: str | None) -> None:
    """Apply every pending migration to the database."""
    loaded = state.load(state_dir_overrides(state_dir))
    state.setup_logging(loaded)
    with exit_on_error():
        store = Store.open(loaded.settings.resolved_database_url())
        try:
            revisions = upgrade(store.engine)
        finally:
            store.close()
    click.echo(f"{store.url}: at revision {', '.join(revisions)}")
