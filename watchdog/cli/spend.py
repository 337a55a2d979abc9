"""``inference-watchdog spend``: the month's spend, the baseline, and importing history."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from pathlib import Path

import click

from watchdog.cli.common import CliState, exit_on_error, fail, state_dir_option, state_dir_overrides
from watchdog.errors import InputError
from watchdog.scheduler import utc_now
from watchdog.spend import repository
from watchdog.spend.alerting import dollars
from watchdog.spend.baseline import Baseline
from watchdog.spend.calendar import month_key, parse_month
from watchdog.spend.importer import parse_cost_csv
from watchdog.spend.overview import format_overview, month_overview
from watchdog.storage import open_store


@click.group()
def spend() -> None:
    """Show the AWS spend against its baseline; set the baseline; import cost history."""


@spend.command("show")
@click.option("--month", metavar="YYYY-MM", help="Month to show [default: the current month].")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@state_dir_option
@click.pass_obj
def spend_show(state: CliState, month: str | None, as_json: bool, state_dir: str | None) -> None:
    """Show month-to-date spend, baseline, percent, forecast and the next threshold."""
    try:
        first = parse_month(month) if month else utc_now().date()
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--month") from None
    loaded = state.load(state_dir_overrides(state_dir))
    with exit_on_error():
        store = open_store(loaded.settings.resolved_database_url())
        try:
            # TODO: pass the metric rollups' inference counts for the cost per inference.
            overview = month_overview(store, loaded.settings, first)
        finally:
            store.close()
    if as_json:
        click.echo(json.dumps(overview, indent=2, sort_keys=True))
    else:
        click.echo(format_overview(overview))


@spend.group("baseline")
def baseline() -> None:
    """Set or clear a baseline by hand."""


@baseline.command("set")
@click.argument("amount")
@state_dir_option
@click.pass_obj
def baseline_set(state: CliState, amount: str, state_dir: str | None) -> None:
    """Use AMOUNT (USD per month) as the baseline from this month on.

    It takes precedence over spend.baseline_amount and the average of past
    months until 'spend baseline clear'.
    """
    try:
        value = Decimal(amount.strip().removeprefix("$").replace(",", ""))
    except InvalidOperation:
        raise click.BadParameter(
            f"invalid amount {amount!r}: expected USD such as 420 or 420.50", param_hint="AMOUNT"
        ) from None
    if not value.is_finite() or value <= 0:
        raise click.BadParameter(
            f"invalid amount {amount!r}: the baseline must be above $0", param_hint="AMOUNT"
        )

    loaded = state.load(state_dir_overrides(state_dir))
    now = utc_now()
    month = month_key(now.date())
    with exit_on_error():
        store = open_store(loaded.settings.resolved_database_url())
        try:
            with store.write_session() as session:
                repository.set_baseline_override(session, value, now)
                repository.save_baseline(session, month, Baseline(value, "manual"), now)
        finally:
            store.close()
    click.echo(f"baseline set to {dollars(value)} from {month} on")


@baseline.command("clear")
@state_dir_option
@click.pass_obj
def baseline_clear(state: CliState, state_dir: str | None) -> None:
    """Remove the baseline set by hand; the config's fixed amount or the average applies again."""
    loaded = state.load(state_dir_overrides(state_dir))
    with exit_on_error():
        store = open_store(loaded.settings.resolved_database_url())
        try:
            with store.write_session() as session:
                repository.set_baseline_override(session, None, utc_now())
        finally:
            store.close()
    click.echo("baseline set by hand removed")


@spend.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@state_dir_option
@click.pass_obj
def spend_import(state: CliState, file: Path, state_dir: str | None) -> None:
    """Import daily costs from a CSV FILE, such as a Cost Explorer export.

    Either every row is imported or, when any cell is invalid, none is, and
    the error names its line and column.
    """
    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {file}: {exc}")
    try:
        rows = parse_cost_csv(text, str(file))
    except InputError as exc:
        fail(f"nothing imported: {exc}")

    loaded = state.load(state_dir_overrides(state_dir))
    with exit_on_error():
        store = open_store(loaded.settings.resolved_database_url())
        try:
            with store.write_session() as session:
                written = repository.upsert_costs(
                    session,
                    rows,
                    {row.day for row in rows},
                    metric="imported",
                    source=repository.IMPORT,
                    fetched_at=utc_now(),
                )
        finally:
            store.close()
    days = sorted({row.day for row in rows})
    total = sum((row.amount for row in rows), Decimal(0))
    click.echo(
        f"imported {written} rows for {len(days)} days, {days[0]} to {days[-1]}, "
        f"totalling {dollars(total)}"
    )
