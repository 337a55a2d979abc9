"""``inference-watchdog alerts``: silence alerts, list alerts and silences, end a silence.

These commands work on the database, so they work whether or not the daemon
runs. A running daemon applies a new or expired silence within one cycle.
"""

from __future__ import annotations

import getpass
import json
from datetime import datetime, timedelta
from typing import Any

import click
from sqlalchemy import select

from watchdog.alerts.silences import (
    Matcher,
    create_silence,
    expire_silence,
    is_active,
    parse_matcher,
)
from watchdog.cli.common import CliState, exit_on_error, state_dir_option, state_dir_overrides
from watchdog.config.types import format_duration, parse_duration
from watchdog.errors import InputError
from watchdog.scheduler import utc_now
from watchdog.storage import Store, open_store
from watchdog.storage.models import AlertStateRow, Silence


def _parse_matchers(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> list[Matcher]:
    try:
        return [parse_matcher(value) for value in values]
    except InputError as exc:
        raise click.BadParameter(str(exc)) from None


def _parse_for(ctx: click.Context, param: click.Parameter, value: str) -> timedelta:
    try:
        duration = parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if duration <= timedelta(0):
        raise click.BadParameter(f"invalid duration {value!r}: use a positive duration like '2h'")
    return duration


def _open(state: CliState, state_dir: str | None) -> Store:
    loaded = state.load(state_dir_overrides(state_dir))
    with exit_on_error():
        return open_store(loaded.settings.resolved_database_url())


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@click.group()
def alerts() -> None:
    """Silence alerts, list alerts and silences, and end silences."""


@alerts.command("silence")
@click.option(
    "--match",
    "matchers",
    multiple=True,
    required=True,
    callback=_parse_matchers,
    metavar="LABEL=VALUE",
    help="Label matcher (=, !=, =~ or !~); repeat for several, all must match. "
    "'rule', 'severity' and 'fingerprint' match the alert itself.",
)
@click.option(
    "--for",
    "duration",
    required=True,
    callback=_parse_for,
    metavar="DURATION",
    help="How long the silence lasts, such as 30m or 2h.",
)
@click.option("--reason", required=True, help="Why; shown by 'alerts list'.")
@state_dir_option
@click.pass_obj
def silence(
    state: CliState,
    matchers: list[Matcher],
    duration: timedelta,
    reason: str,
    state_dir: str | None,
) -> None:
    """Hold back the notifications of matching alerts for DURATION."""
    store = _open(state, state_dir)
    try:
        with exit_on_error(), store.write_session() as session:
            created = create_silence(
                session,
                matchers=matchers,
                duration=duration,
                reason=reason,
                created_by=_user(),
                now=utc_now(),
            )
            silence_id, ends_at = created.id, created.ends_at
    finally:
        store.close()
    matcher_text = " ".join(str(matcher) for matcher in matchers)
    click.echo(f"silence {silence_id} until {ends_at.isoformat(timespec='seconds')}: {matcher_text}")


@alerts.command("expire")
@click.argument("silence_id", metavar="ID")
@state_dir_option
@click.pass_obj
def expire(state: CliState, silence_id: str, state_dir: str | None) -> None:
    """End the silence ID now."""
    store = _open(state, state_dir)
    try:
        with exit_on_error(), store.write_session() as session:
            expire_silence(session, silence_id, utc_now())
    finally:
        store.close()
    click.echo(f"silence {silence_id} expired")


def collect_listing(store: Store) -> dict[str, Any]:
    """Return the alerts that are not resolved and the silences in force, as JSON-able values."""
    now = utc_now()
    with store.session() as session:
        rows = session.scalars(
            select(AlertStateRow)
            .where(AlertStateRow.state != "resolved")
            .order_by(AlertStateRow.rule, AlertStateRow.fingerprint)
        ).all()
        silences = session.scalars(select(Silence).order_by(Silence.created_at)).all()
        alerts_list = [
            {
                "fingerprint": row.fingerprint,
                "rule": row.rule,
                "labels": dict(row.labels),
                "severity": row.severity,
                "state": row.state,
                "summary": row.summary,
                "since": (row.firing_since or row.pending_since or row.last_seen_at).isoformat(),
                "announced": row.announced_episode == row.episode and row.episode > 0,
                "flapping": row.flapping,
            }
            for row in rows
        ]
        silence_list = [
            {
                "id": row.id,
                "matchers": [f"{label}{op}{value}" for label, op, value in row.matchers],
                "reason": row.reason,
                "created_by": row.created_by,
                "created_at": row.created_at.isoformat(),
                "ends_at": row.ends_at.isoformat(),
                "suppressed": row.suppressed,
            }
            for row in silences
            if is_active(row, now)
        ]
    return {"alerts": alerts_list, "silences": silence_list}


@alerts.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@state_dir_option
@click.pass_obj
def list_alerts(state: CliState, as_json: bool, state_dir: str | None) -> None:
    """List firing and pending alerts, and the silences in force."""
    store = _open(state, state_dir)
    try:
        with exit_on_error():
            listing = collect_listing(store)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(listing, indent=2, sort_keys=True))
        return
    click.echo(f"alerts ({len(listing['alerts'])}):")
    for alert in listing["alerts"]:
        labels = ",".join(f"{k}={v}" for k, v in sorted(alert["labels"].items()))
        flags = " flapping" if alert["flapping"] else ""
        click.echo(
            f"  {alert['state']:<8} {alert['severity']:<8} {alert['rule']} {{{labels}}} "
            f"since {alert['since']}{flags}: {alert['summary']}"
        )
    click.echo(f"silences ({len(listing['silences'])}):")
    now = utc_now()
    for item in listing["silences"]:
        left = datetime.fromisoformat(item["ends_at"]) - now
        left = timedelta(seconds=int(left.total_seconds()))
        click.echo(
            f"  {item['id']} {' '.join(item['matchers'])} for {format_duration(left)} more, "
            f"{item['suppressed']} suppressed, by {item['created_by']}: {item['reason']}"
        )
