"""The worker's settings section and where its model cache lives."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from watchdog.config import load_settings
from watchdog.config.worker import WorkerSettings, default_model_cache_dir
from watchdog.errors import ConfigError


def test_defaults_match_documented_limits() -> None:
    settings = WorkerSettings()

    assert settings.rate_limit == 10.0
    assert settings.cache_ttl == timedelta(minutes=15)
    assert settings.max_body_bytes == 1024 * 1024
    assert settings.queue_size == 64


def test_cache_directory_of_systemd_comes_first() -> None:
    environ = {"CACHE_DIRECTORY": "/var/cache/iw:/var/cache/other", "STATE_DIRECTORY": "/var/lib/iw"}

    assert default_model_cache_dir(environ) == Path("/var/cache/iw")


def test_state_directory_used_without_cache_directory() -> None:
    assert default_model_cache_dir({"STATE_DIRECTORY": "/var/lib/iw"}) == Path("/var/lib/iw/model-cache")


def test_user_cache_used_outside_systemd() -> None:
    assert default_model_cache_dir({"XDG_CACHE_HOME": "/home/u/.cache"}) == Path(
        "/home/u/.cache/inference-watchdog"
    )


def test_configured_directory_wins(tmp_path: Path) -> None:
    settings = WorkerSettings(model_cache_dir=tmp_path)

    assert settings.resolved_model_cache_dir() == tmp_path


def test_values_read_from_config_file_and_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[worker]\ncache_ttl = "5m"\nmax_body_bytes = "64KiB"\nqueue_size = 8\n')
    monkeypatch.setenv("INFERENCE_WATCHDOG_WORKER__QUEUE_SIZE", "16")

    settings = load_settings(config, {"worker": {"rate_limit": 0}}).settings.worker

    assert settings.cache_ttl == timedelta(minutes=5)
    assert settings.max_body_bytes == 64 * 1024
    assert settings.queue_size == 16
    assert settings.rate_limit == 0


def test_invalid_value_names_the_field(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[worker]\nqueue_size = 0\n")

    with pytest.raises(ConfigError, match=r"invalid worker\.queue_size 0"):
        load_settings(config)
