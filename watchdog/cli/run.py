"""``inference-watchdog run``: the daemon itself, in production or on the embedded default."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from datetime import timedelta
from types import FrameType

import click

from watchdog.aws import AwsClients
from watchdog.cli.common import CliState, exit_on_error, fail, state_dir_option, state_dir_overrides
from watchdog.config.types import parse_duration
from watchdog.daemon import Daemon, SharedServices
from watchdog.embedded import EmbeddedEnvironment
from watchdog.embedded.demo import DemoDriver, demo_applies
from watchdog.embedded.summary import PublishedMetrics, read_published_metrics, render_summary
from watchdog.scheduler import utc_now
from watchdog.storage import open_store

logger = logging.getLogger(__name__)


def _parse_for(ctx: click.Context, param: click.Parameter, value: str | None) -> timedelta | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _banner(environment: EmbeddedEnvironment) -> str:
    endpoints = environment.endpoints
    return "\n".join(
        [
            "inference-watchdog: embedded default. Nothing here reaches AWS or Slack:",
            f"  AWS (moto server)      {endpoints.aws_endpoint}",
            f"  Slack API double       {endpoints.slack_endpoint}",
            f"  Slack request log      {endpoints.slack_log}",
            f"  simulated bill         {environment.bill.describe() if environment.bill else 'off'}",
            f"  state directory        {environment.state_dir}",
            "  Configure a real host with --config (see deploy/config.example.toml).",
        ]
    )


@click.command()
@click.option(
    "--for",
    "duration",
    callback=_parse_for,
    metavar="DURATION",
    help="Stop by itself after this long (such as 20s or 5m) and print a summary.",
)
@state_dir_option
@click.pass_obj
def run(state: CliState, duration: timedelta | None, state_dir: str | None) -> None:
    """Run the daemon until SIGTERM or Ctrl-C (or for DURATION)."""
    overrides = state_dir_overrides(state_dir)
    loaded = state.load(overrides)
    state.setup_logging(loaded)

    environment: EmbeddedEnvironment | None = None
    aws: AwsClients | None = None
    services: SharedServices | None = None
    if loaded.embedded:
        spend = loaded.settings.spend
        environment = EmbeddedEnvironment(
            loaded.settings.resolved_state_dir(),
            echo=click.echo,
            bill_settings=spend.embedded_bill if spend.enabled else None,
            demo_settings=loaded.settings.demo,
        )
        environment.start()
        loaded = state.load({**overrides, **environment.settings_overrides()})
        aws = environment.aws_clients(loaded.settings.aws)
        if environment.bill is not None:
            services = SharedServices(
                bill_clock=environment.bill.clock, inference_counts=environment.bill
            )
        click.echo(_banner(environment))

    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        # Only record the request; the main thread does the shutdown.
        logger.info("received %s, stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    with exit_on_error():
        daemon = Daemon(
            loaded,
            embedded=environment.endpoints if environment else None,
            aws=aws,
            services=services,
        )
        daemon.start()
    demo: DemoDriver | None = None
    if environment is not None and demo_applies(daemon.settings):
        demo = DemoDriver(daemon.settings.demo, daemon.context.services.worker, echo=click.echo)
        demo.start()
    clean = True
    try:
        daemon.run(stop, duration)
    finally:
        if demo is not None:
            demo.stop()
        clean = daemon.stop()
        if environment is not None:
            # The summary reads the embedded CloudWatch, so it comes before the stand-ins stop.
            summary = _summary(daemon, environment, demo) if duration is not None else None
            environment.stop()
            if summary is not None:
                click.echo(summary)

    if not clean:
        # A job thread is stuck in I/O; the interpreter would wait for it forever.
        logging.shutdown()
        sys.stdout.flush()
        os._exit(1)


def _summary(daemon: Daemon, environment: EmbeddedEnvironment, demo: DemoDriver | None) -> str:
    settings = daemon.settings
    started = daemon.started_at or utc_now()
    published: PublishedMetrics | str
    try:
        cloudwatch = daemon.context.aws.client("cloudwatch", max_attempts=2, timeout=10)
        published = read_published_metrics(
            cloudwatch, settings.aws.namespace, started - timedelta(minutes=1), utc_now()
        )
    except Exception as exc:
        # Any error: the summary still shows what the store holds.
        published = f"{type(exc).__name__}: {exc}"
    try:
        store = open_store(settings.resolved_database_url())
        try:
            return render_summary(
                store,
                settings,
                published,
                phases=demo.outcomes if demo is not None else [],
                state_dir=str(daemon.state_dir),
                slack_log=str(environment.endpoints.slack_log),
            )
        finally:
            store.close()
    except Exception as exc:
        fail(f"reading the final status failed: {exc}")
