"""The ``inference-watchdog`` command line.

Each group of subcommands lives in its own module and is registered here.
Exit status: 0 on success, 1 on a runtime failure, 2 on invalid
configuration or usage.
"""

from __future__ import annotations

import click

from watchdog import __version__
from watchdog.cli.alerts import alerts
from watchdog.cli.cloudwatch import cloudwatch
from watchdog.cli.common import CliState
from watchdog.cli.config import check_config
from watchdog.cli.db import db
from watchdog.cli.loadgen import loadgen
from watchdog.cli.report import report
from watchdog.cli.run import run
from watchdog.cli.spend import spend
from watchdog.cli.status import status
from watchdog.cli.worker import worker
from watchdog.cli.worker_control import events, restart


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="inference-watchdog")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=str),
    help="TOML config file [default: /etc/inference-watchdog/config.toml if it exists].",
)
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    help="Lowest level of log lines written [default: the log_level setting, INFO].",
)
@click.pass_context
def main(ctx: click.Context, config_path: str | None, log_level: str | None) -> None:
    """Supervise an ONNX Runtime worker, publish its metrics, watch the AWS bill, alert Slack."""
    ctx.obj = CliState(config_path=config_path, log_level=log_level.upper() if log_level else None)


main.add_command(run)
main.add_command(status)
main.add_command(check_config)
main.add_command(db)
main.add_command(alerts)
main.add_command(worker)
worker.add_command(restart)
worker.add_command(events)
main.add_command(loadgen)
main.add_command(spend)
main.add_command(report)
main.add_command(cloudwatch)
