"""Validation of the metrics settings."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from watchdog.config import load_settings
from watchdog.errors import ConfigError


def load(metrics: dict[str, Any]) -> Any:
    return load_settings(overrides={"mode": "production", "metrics": metrics}, environ={}).settings


def test_defaults_are_ten_second_windows_flushed_every_tick() -> None:
    settings = load({})

    assert settings.metrics.interval == timedelta(seconds=10)
    assert settings.metrics.flush_interval == timedelta(seconds=10)
    assert settings.metrics.spool_max_age == timedelta(days=14)


def test_durations_accept_strings() -> None:
    settings = load({"interval": "30s", "flush_interval": "1m"})

    assert settings.metrics.interval == timedelta(seconds=30)
    assert settings.metrics.flush_interval == timedelta(minutes=1)


@pytest.mark.parametrize("interval", ["7s", "90s", "0.5s"])
def test_interval_must_divide_a_minute(interval: str) -> None:
    with pytest.raises(ConfigError, match=r"invalid metrics.interval .*divide a minute"):
        load({"interval": interval})


def test_flush_interval_multiple_of_interval() -> None:
    with pytest.raises(ConfigError, match=r"flush_interval 15s: use a multiple of metrics"):
        load({"flush_interval": "15s"})


def test_spool_max_age_beyond_14_days_is_rejected() -> None:
    with pytest.raises(ConfigError, match="at most 14d"):
        load({"spool_max_age": "15d"})


def test_alarm_period_of_45_seconds_is_rejected() -> None:
    with pytest.raises(ConfigError, match="10s, 30s or a multiple of 60s"):
        load({"alarms": {"period": "45s"}})


def test_unknown_metrics_key_is_rejected() -> None:
    with pytest.raises(ConfigError, match=r"invalid metrics.intervl"):
        load({"intervl": "10s"})
