"""Parsing Prometheus text exposition into samples."""

from __future__ import annotations

import pytest

from watchdog.errors import InputError
from watchdog.metrics.exposition import parse_exposition


def test_samples_keyed_by_sample_name_and_labels() -> None:
    text = (
        "# TYPE inference_requests_total counter\n"
        'inference_requests_total{outcome="ok"} 7\n'
        'inference_requests_total{outcome="error"} 2\n'
    )

    exposition = parse_exposition(text)

    assert exposition.series("inference_requests_total") == {
        (("outcome", "ok"),): 7.0,
        (("outcome", "error"),): 2.0,
    }
    assert exposition.value("inference_requests_total") == 9.0
    assert exposition.value("absent") is None


def test_wanted_names_limit_the_result() -> None:
    text = "a 1\nb 2\n"

    exposition = parse_exposition(text, wanted={"b"})

    assert set(exposition.samples) == {"b"}


def test_invalid_text_raises_input_error_naming_the_problem() -> None:
    with pytest.raises(InputError, match="invalid Prometheus exposition"):
        parse_exposition("inference_requests_total{outcome=ok 3\n")


def test_long_parse_error_is_shortened() -> None:
    with pytest.raises(InputError) as raised:
        parse_exposition("x{" + "a" * 500 + "\n")

    assert len(str(raised.value)) < 200


def test_counter_found_with_or_without_total_suffix() -> None:
    text = (
        "# TYPE nv_inference_request_success counter\n"
        'nv_inference_request_success{model="m"} 5\n'
        "# TYPE inference_requests_total counter\n"
        "inference_requests_total 3\n"
    )

    exposition = parse_exposition(text)

    assert exposition.value("nv_inference_request_success") == 5.0
    assert exposition.value("nv_inference_request_success_total") == 5.0
    assert exposition.value("inference_requests_total") == 3.0
    assert exposition.value("inference_requests") == 3.0
