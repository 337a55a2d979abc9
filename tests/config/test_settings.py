"""Settings: sources, durations, secrets and the errors a bad value produces."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from watchdog.config import load_settings, resolve_embedded
from watchdog.config.types import format_duration, parse_byte_size, parse_duration
from watchdog.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10s", timedelta(seconds=10)),
        ("5m", timedelta(minutes=5)),
        ("4h", timedelta(hours=4)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("2d", timedelta(days=2)),
        ("250ms", timedelta(milliseconds=250)),
        ("90", timedelta(seconds=90)),
        (15, timedelta(seconds=15)),
        (0.5, timedelta(milliseconds=500)),
    ],
)
def test_duration_parses_units(text: object, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["4 hours", "h", "", "-5s", "10x", "5m junk", True])
def test_duration_rejects_malformed(text: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_duration_formats_round_trip() -> None:
    assert format_duration(timedelta(seconds=90)) == "1m30s"
    assert format_duration(timedelta(hours=4)) == "4h"
    assert format_duration(timedelta(0)) == "0s"
    assert parse_duration(format_duration(timedelta(days=1, seconds=7))) == timedelta(days=1, seconds=7)


def test_byte_size_parses_units() -> None:
    assert parse_byte_size("512MiB") == 512 * 1024**2
    assert parse_byte_size("2GB") == 2_000_000_000
    assert parse_byte_size(4096) == 4096
    with pytest.raises(ValueError, match="invalid size '12 parsecs'"):
        parse_byte_size("12 parsecs")


def test_toml_file_sets_nested_values(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('service_name = "digits"\n[daemon]\nshutdown_timeout = "30s"\n')

    loaded = load_settings(config, environ={})

    assert loaded.settings.service_name == "digits"
    assert loaded.settings.daemon.shutdown_timeout == timedelta(seconds=30)
    assert loaded.config_file == config
    assert loaded.embedded is False


def test_environment_overrides_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[daemon]\nshutdown_timeout = "30s"\n')
    monkeypatch.setenv("INFERENCE_WATCHDOG_DAEMON__SHUTDOWN_TIMEOUT", "45s")
    monkeypatch.setenv("INFERENCE_WATCHDOG_AWS__REGION", "eu-west-1")

    settings = load_settings(config, environ={}).settings

    assert settings.daemon.shutdown_timeout == timedelta(seconds=45)
    assert settings.aws.region == "eu-west-1"


def test_credentials_directory_sets_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "slack.bot_token").write_text("xoxb-from-credential\n")
    (credentials / "unrelated").write_text("ignored")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))

    settings = load_settings(None, environ={}).settings

    assert settings.slack.bot_token is not None
    assert settings.slack.bot_token.get_secret_value() == "xoxb-from-credential"
    assert "xoxb-from-credential" not in repr(settings)
    assert "xoxb-from-credential" not in str(settings.model_dump())


def test_settings_are_frozen() -> None:
    settings = load_settings(None, environ={}).settings

    with pytest.raises(ValidationError, match="frozen"):
        settings.service_name = "changed"  # type: ignore[misc]


def test_invalid_duration_names_field_path(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[daemon]\nshutdown_timeout = "4 hours"\n')

    with pytest.raises(ConfigError) as caught:
        load_settings(config, environ={})

    message = str(caught.value)
    assert "invalid daemon.shutdown_timeout '4 hours'" in message
    assert "'10s', '5m', '4h'" in message
    assert caught.value.exit_status == 2


def test_unknown_key_is_rejected(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[daemon]\nshutdown_timeut = 5\n")

    with pytest.raises(ConfigError, match=r"invalid daemon.shutdown_timeut 5: unknown setting"):
        load_settings(config, environ={})


def test_invalid_secret_value_is_masked(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[slack]\nbot_token = ["xoxb-leaky-secret-value"]\n')

    with pytest.raises(ConfigError) as caught:
        load_settings(config, environ={})

    assert "xoxb-leaky-secret-value" not in str(caught.value)
    assert "invalid slack.bot_token '**********'" in str(caught.value)


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"config file .*nope.toml. not found"):
        load_settings(tmp_path / "nope.toml", environ={})


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("service_name = \n")

    with pytest.raises(ConfigError, match=r"invalid TOML in .*config.toml"):
        load_settings(config, environ={})


def test_auto_mode_is_embedded_without_config_file() -> None:
    settings = load_settings(None, environ={}).settings

    assert resolve_embedded(settings, None, {}) is True


def test_systemd_without_config_refuses_embedded() -> None:
    settings = load_settings(None, environ={}).settings

    with pytest.raises(ConfigError, match='mode = "embedded"'):
        resolve_embedded(settings, None, {"INVOCATION_ID": "abc"})


def test_systemd_with_embedded_mode_is_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFERENCE_WATCHDOG_MODE", "embedded")

    loaded = load_settings(None, environ={"INVOCATION_ID": "abc"})

    assert loaded.embedded is True
