"""Fault mode flags and their parameters."""

from __future__ import annotations

import pytest

from watchdog.worker.faults import DEFAULT_LEAK_BYTES, FaultConfig, build_fault_config


def test_no_fault_by_default() -> None:
    config = build_fault_config(())

    assert config == FaultConfig()
    assert config.active == []


def test_leak_defaults_to_one_mebibyte() -> None:
    assert build_fault_config(["leak"]).leak_bytes == DEFAULT_LEAK_BYTES == 1024 * 1024


def test_hang_defaults_to_first_request() -> None:
    config = build_fault_config(["hang"])

    assert config.hang_after == 0
    assert config.is_hung(0) is True


def test_hang_after_lets_n_requests_through() -> None:
    config = build_fault_config(["hang"], hang_after=2)

    assert [config.is_hung(received) for received in range(4)] == [False, False, True, True]


def test_crash_after_needs_a_count() -> None:
    with pytest.raises(ValueError, match="needs --crash-after N"):
        build_fault_config(["crash-after"])


def test_slow_needs_milliseconds() -> None:
    with pytest.raises(ValueError, match="needs --slow-ms MS"):
        build_fault_config(["slow"])


def test_parameter_alone_turns_its_mode_on() -> None:
    config = build_fault_config((), crash_after=3, slow_ms=20.0)

    assert config.active == ["crash-after", "slow"]
    assert config.should_crash(2) is False
    assert config.should_crash(3) is True


def test_unknown_mode_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown fault mode 'explode'"):
        build_fault_config(["explode"])
