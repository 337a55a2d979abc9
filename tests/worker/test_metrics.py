"""The worker's Prometheus metrics."""

from __future__ import annotations

import pytest

from watchdog.worker.launcher import parse_metrics, request_outcomes
from watchdog.worker.metrics import OUTCOMES, WorkerMetrics


def test_every_outcome_starts_at_zero() -> None:
    metrics = parse_metrics(WorkerMetrics().render().decode())

    assert request_outcomes(metrics) == dict.fromkeys(OUTCOMES, 0)


def test_apps_have_separate_registries() -> None:
    first = WorkerMetrics()
    second = WorkerMetrics()

    first.count("ok")
    first.record_model_load(0.25, 4096)

    assert request_outcomes(parse_metrics(first.render().decode()))["ok"] == 1
    assert request_outcomes(parse_metrics(second.render().decode()))["ok"] == 0
    assert first.registry.get_sample_value("inference_model_loads_total") == 1
    assert first.registry.get_sample_value("inference_model_load_seconds") == 0.25
    assert first.registry.get_sample_value("inference_model_size_bytes") == 4096
    assert second.registry.get_sample_value("inference_model_loads_total") == 0


def test_rendered_text_has_contract_names_and_process_collector() -> None:
    text = WorkerMetrics().render().decode()

    for name in (
        "inference_duration_seconds_bucket",
        "inference_queue_wait_seconds_bucket",
        "inference_queue_depth",
        "inference_in_flight",
        "inference_requests_total",
        "inference_model_loads_total",
        "inference_model_load_seconds",
        "inference_model_size_bytes",
        "process_resident_memory_bytes",
    ):
        assert f"\n{name}" in text


def test_unknown_outcome_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown outcome 'teapot'"):
        WorkerMetrics().count("teapot")
