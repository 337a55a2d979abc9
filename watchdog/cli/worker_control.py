"""``inference-watchdog worker restart`` and ``worker events``: the supervised worker, through the daemon.

``worker restart`` does not signal anything itself. It adds a row to the
``worker_restart_requests`` table of the daemon's SQLite database. The
daemon's supervision job reads pending rows once a second, restarts the
worker and writes the outcome back into the row, and the command waits for
that outcome. A database row instead of a signal works
whichever user runs the command, as long as it may write the database, and
it leaves a record of who asked and what happened.
"""

from __future__ import annotations

import os
import pwd
import time
from datetime import timedelta

import click
from sqlalchemy import select

from watchdog.cli.common import CliState, exit_on_error, fail, state_dir_option, state_dir_overrides
from watchdog.config.types import parse_duration
from watchdog.scheduler import utc_now
from watchdog.status import daemon_section
from watchdog.storage import Store, open_store
from watchdog.storage.models import WorkerEvent, WorkerRestartRequest

# How often ``--wait`` looks at the request row.
POLL_INTERVAL_SECONDS = 0.2


def _parse_timeout(ctx: click.Context, param: click.Parameter, value: str) -> timedelta:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _requester() -> str:
    try:
        name = pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        name = f"uid {os.getuid()}"
    sudo_user = os.environ.get("SUDO_USER")
    if sudo_user:
        name = f"{sudo_user} via sudo as {name}"
    return f"{name} (pid {os.getpid()})"


@click.command("restart")
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="Wait until the daemon has handled the request and print its outcome.",
)
@click.option(
    "--timeout",
    default="30s",
    show_default=True,
    callback=_parse_timeout,
    metavar="DURATION",
    help="How long --wait waits for the daemon, such as 30s or 2m.",
)
@state_dir_option
@click.pass_obj
def restart(state: CliState, wait: bool, timeout: timedelta, state_dir: str | None) -> None:
    """Ask the running daemon to start the worker again now.

    A running worker is stopped (SIGTERM, then SIGKILL after the stop
    timeout) and started again; a worker in backoff, in a crash-loop
    cool-off or in the fatal state is started at once. Exits 1 when the
    daemon is not running, declined the request, or did not answer in time.
    """
    loaded = state.load(state_dir_overrides(state_dir))
    if loaded.settings.supervision.mode == "off":
        fail("supervision.mode is 'off' in this configuration: the daemon runs no worker")
    with exit_on_error():
        store = open_store(loaded.settings.resolved_database_url())
    try:
        daemon, _ = daemon_section(store)
        if not daemon["running"]:
            fail(
                f"the daemon is not running (database {store.url}): start it, for example "
                "with 'systemctl start inference-watchdog'; it starts the worker itself"
            )
        request_id = _add_request(store)
        click.echo(f"restart requested (request {request_id}) from daemon pid {daemon['pid']}")
        if not wait:
            return
        accepted, outcome = _wait_for_outcome(store, request_id, timeout)
    finally:
        store.close()

    if accepted is None:
        fail(
            f"the daemon did not handle request {request_id} within "
            f"{timeout.total_seconds():g}s; check its log with 'journalctl -u inference-watchdog'"
        )
    click.echo(outcome)
    if not accepted:
        raise SystemExit(1)


@click.command("events")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10_000), help="Rows to show.")
@state_dir_option
@click.pass_obj
def events(state: CliState, limit: int, state_dir: str | None) -> None:
    """Show the worker's latest state transitions, newest last."""
    loaded = state.load(state_dir_overrides(state_dir))
    with exit_on_error():
        store = open_store(loaded.settings.resolved_database_url())
    try:
        with store.session() as session:
            rows = session.scalars(select(WorkerEvent).order_by(WorkerEvent.id.desc()).limit(limit)).all()
    finally:
        store.close()
    for row in reversed(rows):
        pid = f"pid {row.pid}" if row.pid is not None else "no pid"
        click.echo(
            f"{row.at.isoformat(timespec='seconds')} {row.from_state:>8} -> {row.to_state:<8} "
            f"{row.reason:<15} {pid}: {row.detail}"
        )


def _add_request(store: Store) -> int:
    with store.write_session() as session:
        request = WorkerRestartRequest(requested_at=utc_now(), requested_by=_requester())
        session.add(request)
        session.flush()
        return request.id


def _wait_for_outcome(store: Store, request_id: int, timeout: timedelta) -> tuple[bool | None, str]:
    deadline = time.monotonic() + timeout.total_seconds()
    while True:
        with store.session() as session:
            request = session.get(WorkerRestartRequest, request_id)
            if request is not None and request.handled_at is not None:
                return bool(request.accepted), request.outcome or ""
        if time.monotonic() >= deadline:
            return None, ""
        time.sleep(POLL_INTERVAL_SECONDS)
