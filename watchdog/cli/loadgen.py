"""``inference-watchdog loadgen``: send real digit samples to a worker and report what came back."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import cast

import click

from watchdog.cli.common import CliState
from watchdog.config.types import parse_duration
from watchdog.worker.loadgen import PROFILES, LoadPlan, Profile, run_load


def _parse_duration(ctx: click.Context, param: click.Parameter, value: str) -> timedelta:
    try:
        duration = parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if duration <= timedelta(0):
        raise click.BadParameter(f"duration must be positive, got {value!r}")
    return duration


@click.command()
@click.option(
    "--url", required=True, help="Worker base URL (such as http://127.0.0.1:8000) or its /predict URL."
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0),
    default=10.0,
    show_default=True,
    help="Requests per second; 0 sends as fast as --concurrency allows.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    help="Maximum number of requests in flight at once.",
)
@click.option(
    "--duration",
    callback=_parse_duration,
    default="30s",
    show_default=True,
    metavar="DURATION",
    help="How long to send, such as 30s or 5m.",
)
@click.option(
    "--profile",
    type=click.Choice(PROFILES),
    default="steady",
    show_default=True,
    help="steady rate, a 5x spike in the middle fifth, or a client retrying failures at once.",
)
@click.option(
    "--batch",
    "batch_size",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Samples per request.",
)
@click.option(
    "--requests",
    "max_requests",
    type=click.IntRange(min=1),
    help="Stop after this many scheduled requests (retries not counted).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.001),
    default=10.0,
    show_default=True,
    help="Seconds to wait for each response.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of a table.")
@click.pass_obj
def loadgen(
    state: CliState,
    *,
    url: str,
    rate: float,
    concurrency: int,
    duration: timedelta,
    profile: str,
    batch_size: int,
    max_requests: int | None,
    timeout: float,
    as_json: bool,
) -> None:
    """Send /predict requests with real digit samples; print throughput, latency and statuses."""
    plan = LoadPlan(
        url=url,
        rate=rate,
        concurrency=concurrency,
        duration=duration.total_seconds(),
        profile=cast(Profile, profile),
        batch_size=batch_size,
        timeout=timeout,
        max_requests=max_requests,
    )
    result = run_load(plan)
    if as_json:
        document = {
            "profile": result.profile,
            "elapsed_seconds": result.elapsed,
            "attempts": result.attempts,
            "succeeded": result.succeeded,
            "retries": result.retries,
            "throughput_per_second": result.throughput,
            "latency_seconds": {
                "p50": result.percentile(0.5),
                "p90": result.percentile(0.9),
                "p99": result.percentile(0.99),
            },
            "status_counts": dict(result.status_counts),
        }
        click.echo(json.dumps(document, indent=2, sort_keys=True))
    else:
        click.echo(result.format())
