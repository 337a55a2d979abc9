"""``inference-watchdog report``: the monthly cost and capacity summary on demand."""

from __future__ import annotations

import json
from pathlib import Path

import click

from watchdog.cli.common import CliState, exit_on_error, fail, state_dir_option, state_dir_overrides
from watchdog.reports.figures import Month
from watchdog.reports.render import to_json, to_markdown, to_text
from watchdog.scheduler import utc_now
from watchdog.storage import open_store


def _parse_month(ctx: click.Context, param: click.Parameter, value: str | None) -> Month | None:
    if value is None:
        return None
    try:
        return Month.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.group()
def report() -> None:
    """Build and post the cost and capacity summary."""


@report.command("monthly")
@click.option(
    "--month",
    callback=_parse_month,
    metavar="YYYY-MM",
    help="Month to summarise (UTC) [default: the previous month].",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "markdown", "json"]),
    default="text",
    show_default=True,
    help="Rendering to print or write.",
)
@click.option(
    "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the rendering to this file."
)
@click.option(
    "--chart",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the daily spend chart (PNG) to this file.",
)
@click.option(
    "--post",
    is_flag=True,
    help="Queue the summary for Slack; the running daemon delivers it. A month is queued once.",
)
@state_dir_option
@click.pass_obj
def monthly(  # noqa: PLR0917 - click passes each option as a positional argument
    state: CliState,
    month: Month | None,
    output_format: str,
    output: Path | None,
    chart: Path | None,
    post: bool,
    state_dir: str | None,
) -> None:
    """Summarise one month: spend against baseline, traffic, latency, uptime, alerts, advice."""
    from watchdog.reports.component import build_month, post_month

    loaded = state.load(state_dir_overrides(state_dir))
    now = utc_now()
    chosen = month or Month.containing(now).previous()
    with exit_on_error():
        store = open_store(loaded.settings.resolved_database_url())
        try:
            with store.session() as session:
                built, png = build_month(session, loaded.settings, chosen, now)
            queued = post_month(store, loaded.settings, chosen, now, "cli") if post else None
        finally:
            store.close()

    if output_format == "json":
        rendered = json.dumps(to_json(built), indent=2, sort_keys=True) + "\n"
    elif output_format == "markdown":
        rendered = to_markdown(built)
    else:
        rendered = to_text(built)

    try:
        if output is not None:
            output.write_text(rendered, encoding="utf-8")
        else:
            click.echo(rendered, nl=False)
        if chart is not None:
            chart.write_bytes(png)
    except OSError as exc:
        fail(f"cannot write {exc.filename}: {exc.strerror}")

    if queued is True:
        click.echo(f"queued the summary for {chosen} for Slack", err=True)
    elif queued is False:
        click.echo(f"the summary for {chosen} was queued before; not queued again", err=True)
