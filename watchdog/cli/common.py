"""What the subcommands share: loading settings and turning errors into exit codes."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import click

from watchdog.config import LoadedSettings, load_settings
from watchdog.errors import ConfigError, WatchdogError
from watchdog.logs import configure_logging

logger = logging.getLogger(__name__)


@dataclass
class CliState:
    """Options of the top-level command, passed to every subcommand."""

    config_path: str | None = None
    log_level: str | None = None

    def load(self, overrides: dict[str, Any] | None = None) -> LoadedSettings:
        """Load the settings, applying the CLI's overrides; exit 2 on invalid configuration."""
        merged = dict(overrides or {})
        if self.log_level:
            merged["log_level"] = self.log_level
        path = Path(self.config_path) if self.config_path else None
        with exit_on_error():
            return load_settings(path, merged)

    def setup_logging(self, loaded: LoadedSettings) -> None:
        """Configure logging from the settings (and ``--log-level``)."""
        configure_logging(loaded.settings.log_level)


def fail(message: str, status: int = 1) -> NoReturn:
    """Print ``message`` to stderr and exit with ``status``."""
    click.echo(f"inference-watchdog: {message}", err=True)
    sys.exit(status)


@contextmanager
def exit_on_error() -> Iterator[None]:
    """Turn a ``ConfigError`` into exit status 2 and other ``WatchdogError``s into 1."""
    try:
        yield
    except ConfigError as exc:
        fail(str(exc), ConfigError.exit_status)
    except WatchdogError as exc:
        fail(str(exc), 1)


def state_dir_overrides(state_dir: str | None) -> dict[str, Any]:
    """Return the settings override for ``--state-dir``, if given."""
    return {"state_dir": Path(state_dir).resolve()} if state_dir else {}


def state_dir_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--state-dir DIR`` to a command."""
    return click.option(
        "--state-dir",
        type=click.Path(file_okay=False, path_type=str),
        help="State directory (database, Slack log) [default: $STATE_DIRECTORY or ./state].",
    )(func)
