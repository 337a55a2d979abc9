"""``inference-watchdog cloudwatch ensure-alarms`` and the ``metrics`` section of ``status``."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.metrics.conftest import closed_port_url
from watchdog.cli import main
from watchdog.embedded.aws import EmbeddedAws

TOPIC = "arn:aws:sns:us-east-1:123456789012:inference-alerts"


@pytest.fixture
def production_env(moto_server: EmbeddedAws, tmp_path: Path) -> dict[str, str]:
    return {
        "INFERENCE_WATCHDOG_MODE": "production",
        "INFERENCE_WATCHDOG_STATE_DIR": str(tmp_path / "state"),
        "INFERENCE_WATCHDOG_HOST_NAME": f"host-{uuid.uuid4().hex[:8]}",
        "INFERENCE_WATCHDOG_AWS__ENDPOINT_URL": moto_server.endpoint_url,
        "INFERENCE_WATCHDOG_METRICS__ALARMS__SNS_TOPIC_ARN": TOPIC,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }


def test_ensure_alarms_second_run_unchanged(
    production_env: dict[str, str],
) -> None:
    runner = CliRunner()
    host = production_env["INFERENCE_WATCHDOG_HOST_NAME"]

    first = runner.invoke(main, ["cloudwatch", "ensure-alarms"], env=production_env)
    second = runner.invoke(main, ["cloudwatch", "ensure-alarms"], env=production_env)

    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines() == [
        f"created            inference-watchdog/inference/{host}/heartbeat",
        f"created            inference-watchdog/inference/{host}/p99-latency",
        f"created            inference-watchdog/inference/{host}/queue-depth",
        f"created            inference-watchdog/inference/{host}/memory",
    ]
    assert second.exit_code == 0, second.output
    assert [line.split()[0] for line in second.stdout.splitlines()] == ["unchanged"] * 4


def test_ensure_alarms_dry_run_lists_changes(production_env: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["cloudwatch", "ensure-alarms", "--dry-run"], env=production_env)

    assert result.exit_code == 0, result.output
    assert [line.split()[:3] for line in result.stdout.splitlines()] == [["would", "be", "created"]] * 4


def test_ensure_alarms_without_topic_warns(production_env: dict[str, str]) -> None:
    env = dict(production_env)
    del env["INFERENCE_WATCHDOG_METRICS__ALARMS__SNS_TOPIC_ARN"]

    result = CliRunner().invoke(main, ["cloudwatch", "ensure-alarms"], env=env)

    assert result.exit_code == 0, result.output
    assert "sns_topic_arn is not set" in result.output


def test_ensure_alarms_with_unreachable_aws_exits_1(production_env: dict[str, str]) -> None:
    env = {
        **production_env,
        "INFERENCE_WATCHDOG_AWS__ENDPOINT_URL": closed_port_url(),
        "INFERENCE_WATCHDOG_AWS__MAX_ATTEMPTS": "1",
    }

    result = CliRunner().invoke(main, ["cloudwatch", "ensure-alarms"], env=env)

    assert result.exit_code == 1
    assert "CloudWatch DescribeAlarms failed: cannot reach the endpoint" in result.output


def test_invalid_topic_arn_exits_2(production_env: dict[str, str]) -> None:
    env = {**production_env, "INFERENCE_WATCHDOG_METRICS__ALARMS__SNS_TOPIC_ARN": "alerts"}

    result = CliRunner().invoke(main, ["cloudwatch", "ensure-alarms"], env=env)

    assert result.exit_code == 2
    assert "metrics.alarms.sns_topic_arn" in result.output


def test_status_json_has_metrics_section(production_env: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["status", "--json"], env=production_env)

    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)["metrics"]
    assert metrics["published"] == 0
    assert metrics["spooled"] == 0
    assert metrics["backfilled"] == 0
    assert metrics["dropped_total"] == 0
    assert set(metrics["dropped"]) == {
        "non_finite_values",
        "out_of_range_values",
        "invalid_counts",
        "stale_timestamps",
        "future_timestamps",
        "invalid_dimensions",
        "spool_full_windows",
        "expired_windows",
        "rejected_windows",
        "unobserved_windows",
    }
    assert metrics["spool"] == {"windows": 0, "bytes": 0, "oldest_window": None}
