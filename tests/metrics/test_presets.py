"""Presets read the documented metric names of each server into the same window fields."""

from __future__ import annotations

import pytest

from tests.metrics.conftest import fixture_text
from watchdog.metrics.exposition import parse_exposition
from watchdog.metrics.presets import PRESETS, REFERENCE, TORCHSERVE, TRITON, VLLM, Preset
from watchdog.metrics.window import Deltas, compute_deltas


def deltas_between(preset: Preset, server: str) -> tuple[Deltas, float | None, float | None]:
    before = preset.read(parse_exposition(fixture_text(f"{server}-before.txt")))
    after = preset.read(parse_exposition(fixture_text(f"{server}-after.txt")))
    return (
        compute_deltas(preset, before, after, restarted=False),
        after.queue_depth,
        after.in_flight,
    )


def test_reference_preset_reads_the_bundled_worker() -> None:
    deltas, queue_depth, in_flight = deltas_between(REFERENCE, "reference")

    assert deltas.request_count == 60
    assert deltas.error_count == 5
    assert deltas.latency_ms == {17.5: 30, 37.5: 20, 375.0: 2}
    assert queue_depth == 3
    assert in_flight == 2


def test_triton_preset_reads_mean_latency_from_counters() -> None:
    deltas, queue_depth, in_flight = deltas_between(TRITON, "triton")

    # resnet50 +90 ok +5 failed, bert +5 ok; 2,000,000 us over 100 requests.
    assert deltas.request_count == 100
    assert deltas.error_count == 5
    assert deltas.latency_ms == {20.0: 100}
    assert queue_depth == 4
    assert in_flight is None


def test_torchserve_preset_reads_trailing_comma_labels() -> None:
    deltas, queue_depth, in_flight = deltas_between(TORCHSERVE, "torchserve")

    # 2,500,000 us over 50 requests; Requests5XX appears for the first time with 2.
    assert deltas.request_count == 50
    assert deltas.error_count == 2
    assert deltas.latency_ms == {50.0: 50}
    assert queue_depth is None
    assert in_flight is None


def test_vllm_preset_reads_colon_names_and_histogram() -> None:
    deltas, queue_depth, in_flight = deltas_between(VLLM, "vllm")

    assert deltas.request_count == 40
    assert deltas.error_count == 3
    # Bucket midpoints in ms; the overflow bucket is reported at the last bound, 60 s.
    assert deltas.latency_ms == {400.0: 10, 900.0: 20, 2250.0: 9, 60000.0: 1}
    assert queue_depth == 7
    assert in_flight == 5


@pytest.mark.parametrize("server", ["reference", "triton", "torchserve", "vllm"])
def test_each_fixture_is_recognised_only_by_its_preset(server: str) -> None:
    exposition = parse_exposition(fixture_text(f"{server}-after.txt"))

    recognised = {name for name, preset in PRESETS.items() if preset.read(exposition).recognised}

    assert recognised == {server}


def test_reference_preset_wants_only_its_own_samples() -> None:
    wanted = REFERENCE.wanted_samples()

    assert wanted == {
        "inference_requests_total",
        "inference_duration_seconds_bucket",
        "inference_duration_seconds_sum",
        "inference_duration_seconds_count",
        "inference_queue_depth",
        "inference_in_flight",
        "process_start_time_seconds",
    }


def test_unlabelled_counter_without_series_counts_as_zero() -> None:
    empty = REFERENCE.read(parse_exposition("# TYPE inference_requests_total counter\n"))
    later = REFERENCE.read(parse_exposition('inference_requests_total{outcome="ok"} 4\n'))

    deltas = compute_deltas(REFERENCE, empty, later, restarted=False)

    assert deltas.request_count == 4
    assert deltas.error_count == 0
