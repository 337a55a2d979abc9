"""The load generator: schedules, profiles and a run against a real worker."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from watchdog.cli import main
from watchdog.worker.loadgen import LoadPlan, LoadResult, next_send_time, predict_url, rate_at, run_load

from .conftest import StartWorker


def test_steady_schedule_is_evenly_spaced() -> None:
    plan = LoadPlan(url="http://127.0.0.1:1", rate=4, concurrency=1, duration=10)

    assert [next_send_time(plan, start) for start in (0.0, 0.25, 9.75)] == [0.25, 0.5, 10.0]


def test_spike_multiplies_rate_in_middle_fifth() -> None:
    plan = LoadPlan(url="http://127.0.0.1:1", rate=10, concurrency=1, duration=100, profile="spike")

    assert [rate_at(plan, second) for second in (0, 39.9, 40, 59.9, 60, 99)] == [10, 10, 50, 50, 10, 10]


def test_unlimited_rate_sends_back_to_back() -> None:
    plan = LoadPlan(url="http://127.0.0.1:1", rate=0, concurrency=1, duration=1)

    assert next_send_time(plan, 0.5) == 0.5


def test_spike_needs_a_rate() -> None:
    with pytest.raises(ValueError, match="spike profile needs a rate above 0"):
        LoadPlan(url="http://127.0.0.1:1", rate=0, concurrency=1, duration=1, profile="spike")


def test_base_url_gets_predict_path() -> None:
    assert predict_url("http://127.0.0.1:8000") == "http://127.0.0.1:8000/predict"
    assert predict_url("http://127.0.0.1:8000/") == "http://127.0.0.1:8000/predict"
    assert predict_url("http://127.0.0.1:8000/v1/predict") == "http://127.0.0.1:8000/v1/predict"


def test_result_percentiles_and_throughput() -> None:
    result = LoadResult(profile="steady", elapsed=2.0, latencies=[0.01 * step for step in range(1, 101)])
    result.status_counts.update({"200": 90, "429": 10})

    assert result.attempts == 100
    assert result.succeeded == 90
    assert result.throughput == 45.0
    assert result.percentile(0.5) == pytest.approx(0.505)
    assert result.percentile(0.99) == pytest.approx(0.9901)


def test_steady_run_against_worker(start_worker: StartWorker) -> None:
    worker = start_worker("--rate-limit", "0")

    result = run_load(LoadPlan(url=worker.base_url, rate=50, concurrency=4, duration=60, max_requests=25))

    assert result.status_counts == {"200": 25}
    assert result.retries == 0
    assert len(result.latencies) == 25


def test_retry_storm_retries_rate_limited_requests(start_worker: StartWorker) -> None:
    # Two tokens, then one per 100 s, so the third request is rate limited until the run ends.
    worker = start_worker("--rate-limit", "0.01", "--rate-burst", "2")

    result = run_load(
        LoadPlan(
            url=worker.base_url,
            rate=100,
            concurrency=1,
            duration=1.0,
            profile="retry-storm",
            max_requests=3,
        )
    )
    limited = worker.metrics()['inference_requests_total{outcome="rate_limited"}']

    assert result.status_counts["200"] == 2
    assert result.retries > 0
    assert result.status_counts["429"] == result.retries + 1
    assert limited == result.status_counts["429"]


def test_cli_prints_table(start_worker: StartWorker) -> None:
    worker = start_worker("--rate-limit", "0")

    outcome = CliRunner().invoke(
        main,
        [
            "loadgen",
            "--url",
            worker.base_url,
            "--rate",
            "20",
            "--concurrency",
            "2",
            "--duration",
            "30s",
            "--requests",
            "10",
        ],
    )

    assert outcome.exit_code == 0, outcome.output
    assert "profile steady: 10 attempts" in outcome.output
    assert "    200                      10" in outcome.output
    assert "latency p99" in outcome.output
