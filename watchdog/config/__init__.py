"""Typed, frozen configuration.

``load_settings`` reads the TOML file, the environment and systemd credentials
into a ``Settings`` object, and turns any validation failure into a
``ConfigError`` whose message names each field's path, its value and the
expected form.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_settings import SettingsError

from watchdog.config.model import DEFAULT_CONFIG_FILE, ENV_PREFIX, Settings, config_file_var
from watchdog.errors import ConfigError

__all__ = ["DEFAULT_CONFIG_FILE", "LoadedSettings", "Settings", "load_settings"]

# Field paths whose values are secrets: their input is never echoed in an error.
_SECRET_PATH = re.compile(r"token|secret|password|webhook", re.IGNORECASE)


@dataclass(frozen=True)
class LoadedSettings:
    """Settings together with the file they came from and the resolved mode."""

    settings: Settings
    config_file: Path | None
    embedded: bool


def format_validation_error(exc: ValidationError, source: str) -> str:
    """Describe every failed field as ``invalid PATH VALUE: reason``, secrets masked."""
    lines = [f"invalid configuration in {source}:"]
    for error in exc.errors():
        path = ".".join(str(part) for part in error["loc"]) or "(root)"
        value = error.get("input")
        if _SECRET_PATH.search(path):
            shown = "'**********'"
        elif isinstance(value, Mapping):
            shown = "(a table)"
        else:
            shown = repr(value)
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown setting; check the spelling against docs/configuration.md"
        elif message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        lines.append(f"  invalid {path} {shown}: {message}")
    return "\n".join(lines)


def _find_config_file(explicit: Path | None) -> Path | None:
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"config file {str(explicit)!r} not found: check the --config path")
        return explicit
    if DEFAULT_CONFIG_FILE.is_file():
        return DEFAULT_CONFIG_FILE
    return None


def load_settings(
    config_path: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> LoadedSettings:
    """Load and validate the settings; raise ``ConfigError`` naming each invalid field.

    ``environ`` is only consulted to tell whether the daemon runs under
    systemd (``INVOCATION_ID``); the settings themselves read ``os.environ``.
    """
    environ = os.environ if environ is None else environ
    config_file = _find_config_file(config_path)
    source = str(config_file) if config_file else "environment and defaults"

    if config_file is not None:
        try:
            tomllib.loads(config_file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"invalid TOML in {config_file}: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"invalid config file {config_file}: byte {exc.start} is not UTF-8 ({exc.reason}); "
                "save the file as UTF-8"
            ) from exc
        except OSError as exc:
            raise ConfigError(f"cannot read config file {config_file}: {exc.strerror}") from exc

    token = config_file_var.set(config_file)
    try:
        settings = Settings(**dict(overrides or {}))
    except ValidationError as exc:
        # Not chained: pydantic's own message repeats every input, secrets included.
        raise ConfigError(format_validation_error(exc, source)) from None
    except SettingsError as exc:
        # A section or table set by one environment variable must be JSON; the
        # message names the field but not the value, which may be a secret.
        raise ConfigError(
            f"invalid configuration in the environment: {exc}; a section set by one "
            f"{ENV_PREFIX}<SECTION> variable must be a JSON object, or set its fields one by one "
            f"with {ENV_PREFIX}<SECTION>__<FIELD>"
        ) from None
    finally:
        config_file_var.reset(token)

    embedded = resolve_embedded(settings, config_file, environ)
    return LoadedSettings(settings=settings, config_file=config_file, embedded=embedded)


def resolve_embedded(
    settings: Settings, config_file: Path | None, environ: Mapping[str, str]
) -> bool:
    """Decide whether the daemon runs against the embedded stand-ins.

    Under systemd (``INVOCATION_ID`` is set) an unconfigured daemon must not
    quietly run a demo in place of the real service, so ``mode = "auto"``
    without a config file is an error there.
    """
    if settings.mode == "embedded":
        return True
    if settings.mode == "production":
        return False
    if config_file is not None:
        return False
    if environ.get("INVOCATION_ID"):
        raise ConfigError(
            f"no config file at {DEFAULT_CONFIG_FILE}: under systemd the daemon runs the "
            "embedded default only when the config sets mode = \"embedded\"; install a config "
            "(see deploy/config.example.toml) or pass --config PATH"
        )
    return True
