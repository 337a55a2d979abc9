"""The root settings model and where its values come from.

Sources, highest priority first: values passed by the CLI, environment
variables (``INFERENCE_WATCHDOG_``, nested with ``__``), systemd credentials
in ``$CREDENTIALS_DIRECTORY`` (one file per dotted setting, such as
``slack.bot_token``), the TOML config file, and the defaults here.
"""

from __future__ import annotations

import os
import socket
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from watchdog.config.alerts import AlertSettings
from watchdog.config.demo import DemoSettings
from watchdog.config.metrics import MetricsSettings
from watchdog.config.report import ReportSettings
from watchdog.config.sections import AwsSettings, DaemonSettings, SlackSettings
from watchdog.config.spend import SpendSettings
from watchdog.config.supervision import SupervisionSettings
from watchdog.config.worker import WorkerSettings

ENV_PREFIX = "INFERENCE_WATCHDOG_"
DEFAULT_CONFIG_FILE = Path("/etc/inference-watchdog/config.toml")

# The TOML file of the settings being loaded. A context variable instead of a
# class attribute, so loading two configs in one process (tests) cannot mix them.
config_file_var: ContextVar[Path | None] = ContextVar("config_file", default=None)


class CredentialsSource(PydanticBaseSettingsSource):
    """Read secrets from systemd credentials: one file per dotted setting name.

    ``LoadCredential=slack.bot_token:/etc/inference-watchdog/slack-token`` in the
    unit makes ``$CREDENTIALS_DIRECTORY/slack.bot_token`` set ``slack.bot_token``.
    """

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        # Unused: __call__ builds the whole nested mapping at once.
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        directory = os.environ.get("CREDENTIALS_DIRECTORY")
        if not directory:
            return {}
        values: dict[str, Any] = {}
        for path in sorted(Path(directory).iterdir()):
            parts = path.name.split(".")
            if parts[0] not in self.settings_cls.model_fields or not path.is_file():
                continue
            node = values
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = path.read_text(encoding="utf-8").strip()
        return values


class Settings(BaseSettings):
    """Every setting of the daemon. Frozen: a reload builds a new object."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        frozen=True,
        extra="forbid",
        validate_default=True,
    )

    mode: Literal["auto", "embedded", "production"] = Field(
        "auto",
        description="'embedded' runs against local stand-ins of AWS and Slack; 'production' "
        "against the real ones; 'auto' is embedded when no config file was found. Under "
        "systemd 'auto' without a config file is an error.",
    )
    service_name: str = Field(
        "inference", description="Value of the 'Service' dimension and the name in alerts."
    )
    host_name: str = Field(
        default_factory=socket.gethostname, description="Value of the 'Host' dimension."
    )
    state_dir: Path | None = Field(
        None,
        description="Directory for the database and logs; defaults to $STATE_DIRECTORY under "
        "systemd, else ./state.",
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the store; defaults to a SQLite file in the state directory.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Lowest level of log lines written."
    )
    aws: AwsSettings = Field(default_factory=AwsSettings)
    slack: SlackSettings = Field(default_factory=SlackSettings)
    daemon: DaemonSettings = Field(default_factory=DaemonSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    report: ReportSettings = Field(default_factory=ReportSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    spend: SpendSettings = Field(default_factory=SpendSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    supervision: SupervisionSettings = Field(default_factory=SupervisionSettings)
    demo: DemoSettings = Field(default_factory=DemoSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [
            init_settings,
            env_settings,
            CredentialsSource(settings_cls),
        ]
        config_file = config_file_var.get()
        if config_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    def resolved_state_dir(self) -> Path:
        """Return the state directory: the setting, else systemd's, else ``./state``."""
        if self.state_dir is not None:
            return self.state_dir
        systemd_dir = os.environ.get("STATE_DIRECTORY")
        if systemd_dir:
            # StateDirectory= may list several directories, separated by colons.
            return Path(systemd_dir.split(":")[0])
        return Path("state").resolve()

    def resolved_database_url(self) -> str:
        """Return the database URL: the setting, else a SQLite file in the state directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.resolved_state_dir() / 'watchdog.db'}"
